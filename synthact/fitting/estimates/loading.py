"""Open the estimators' files as they save them: joblib pickles, torch.save, numpy.

joblib and pickled numpy files are read through ``synthact.safe_unpickle``,
which admits only the plain data estimators store and refuses any other type
before it is created, so a shared file cannot run code. torch files are loaded
with ``weights_only=True`` (GVHMR stores plain tensors).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from synthact.fitting.estimates.records import EstimateError


def load_joblib(path: Path) -> Any:
    """A joblib dump (WHAM, VIBE, PHALP)."""
    from synthact.safe_unpickle import UnsafePickleError, load_joblib_file

    try:
        return load_joblib_file(path, "pose estimator's output")
    except UnsafePickleError as exc:
        raise EstimateError(str(exc)) from None
    except Exception as exc:  # pickle, zlib, EOF: all mean the file is unreadable
        raise EstimateError(f"{path}: cannot read as a joblib file: {type(exc).__name__}: {exc}") from exc


def load_torch(path: Path) -> Any:
    """A ``torch.save`` file of tensors (GVHMR)."""
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise EstimateError(f"{path}: cannot read as a torch file: {type(exc).__name__}: {exc}") from exc


def load_npy_dict(path: Path) -> dict:
    """A ``np.save`` of a dict (TRAM): a 0-d object array holding it."""
    from synthact.safe_unpickle import UnsafePickleError, load_npy

    try:
        value = load_npy(path, "pose estimator's output")
    except UnsafePickleError as exc:
        raise EstimateError(str(exc)) from None
    except Exception as exc:
        raise EstimateError(f"{path}: cannot read as a numpy file: {type(exc).__name__}: {exc}") from exc
    if isinstance(value, np.ndarray) and value.dtype == object and value.shape == ():
        value = value.item()
    if not isinstance(value, dict):
        raise EstimateError(f"{path}: expected a pickled dict, got {type(value).__name__}")
    return value


def load_npz(path: Path) -> dict[str, np.ndarray]:
    """An ``np.savez`` file (SLAHMR), without pickles."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except Exception as exc:
        raise EstimateError(f"{path}: cannot read as an npz file: {type(exc).__name__}: {exc}") from exc
