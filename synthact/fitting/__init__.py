"""Fit SMPL-H motions to 3D skeleton sequences (NTU RGB+D, Toyota Smarthome, ...).

The names below load on first use (PEP 562): the workflow imports the light
``synthact.fitting.convert`` config helpers at parse time, and should not pay
for importing torch there.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_LAZY = {
    "NTU_JOINT_MAP": "synthact.fitting.fit",
    "FitOptions": "synthact.fitting.fit",
    "fit_smplh": "synthact.fitting.fit",
    "FitErrors": "synthact.fitting.result",
    "FitResult": "synthact.fitting.result",
}

__all__ = ["NTU_JOINT_MAP", "FitErrors", "FitOptions", "FitResult", "fit_smplh"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
