"""Find and read SMPL-H model files into plain numpy arrays.

smplx infers the model type from a file name and expects fields that not every
real release has, so SynthAct reads the file itself and hands smplx a ready
``Struct``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

REQUIRED_KEYS = ("v_template", "f", "J_regressor", "weights", "kintree_table", "shapedirs", "posedirs")
HAND_PCA_KEYS = ("hands_componentsl", "hands_componentsr", "hands_meanl", "hands_meanr")


class BodyModelError(ValueError):
    """A body model file is missing or malformed."""


def find_smplh_file(model_path: str | Path, gender: str) -> Path:
    """Resolve a model folder or file to the file for ``gender``.

    A folder may hold ``smplh/SMPLH_{GENDER}.npz`` or ``SMPLH_{GENDER}.npz``.
    """
    path = Path(model_path)
    if path.is_file():
        return path
    name = f"SMPLH_{gender.upper()}.npz"
    candidates = [path / "smplh" / name, path / name]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    tried = ", ".join(str(c) for c in candidates)
    raise BodyModelError(f"no SMPL-H model for gender {gender!r} under {path} (looked for {tried})")


def load_smplh_arrays(model_path: str | Path, gender: str) -> tuple[Path, dict[str, np.ndarray]]:
    """Read the model for ``gender``; returns the file used and its arrays."""
    path = find_smplh_file(model_path, gender)
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except Exception as exc:  # zipfile, OSError, ValueError: all mean "unreadable"
        raise BodyModelError(f"{path}: cannot read SMPL-H model: {exc}") from exc
    missing = [k for k in REQUIRED_KEYS if k not in arrays]
    if missing:
        raise BodyModelError(f"{path}: SMPL-H model lacks keys {missing}")
    for key in HAND_PCA_KEYS:
        # Hand PCA is unused with use_pca=False, but smplx reads the fields.
        arrays.setdefault(key, np.eye(45) if key.startswith("hands_components") else np.zeros(45))
    return path, arrays


def as_struct(arrays: dict[str, np.ndarray]):
    """Wrap arrays the way smplx's own loader does."""
    from smplx.utils import Struct

    return Struct(**arrays)
