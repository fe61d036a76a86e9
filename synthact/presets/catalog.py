"""The presets by name: which exist, and the values each one sets (docs/PRESETS.md).

The YAML files beside this module are the presets themselves; ``config`` merges
one under the user's values, and ``preflight`` reads one to check the user's
resolution against the preset's camera.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from synthact.errors import ConfigError

PRESET_DIR = Path(str(resources.files("synthact.presets")))
PRESETS = ("none", "amarv", "smarthome", "ntu")


def preset_values(name: str) -> dict[str, Any]:
    """The values a preset sets (empty for ``none``)."""
    if name == "none":
        return {}
    if name not in PRESETS:
        raise ConfigError(f"preset: unknown preset {name!r}; expected one of {list(PRESETS)}")
    return yaml.safe_load((PRESET_DIR / f"{name}.yaml").read_text()) or {}
