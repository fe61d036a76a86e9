"""Pose layouts the estimators share: SMPL's 72-vector and rotation-matrix stacks.

SMPL, SMPL-H and SMPL-X have the same first 22 joints in the same order, so the
body pose of every estimator maps onto joints 1..21 of AMASS's layout; SMPL's
joints 22 and 23 (the hands) are dropped: SMPL-H has fingers there instead.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from synthact.fitting.estimates.records import EstimateError
from synthact.fitting.rotations import axis_angle_to_matrix_np, matrix_to_axis_angle_np

BODY_JOINTS = 21  # joints 1..21


def from_pose72(pose: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(T, 72) SMPL axis-angle -> root rotation (T, 3, 3), body pose (T, 21, 3)."""
    return axis_angle_to_matrix_np(pose[:, :3]), pose[:, 3 : 3 + 3 * BODY_JOINTS].reshape(-1, BODY_JOINTS, 3)


def from_rotmats(root: np.ndarray, body: np.ndarray, file: Path, key: str) -> tuple[np.ndarray, np.ndarray]:
    """Root (T, 3, 3) and body (T, J >= 21, 3, 3) matrices -> root, body axis-angle (T, 21, 3).

    The matrices are checked to be rotations (an estimator that wrote something
    else is a bad file, not something to silently orthogonalise).
    """
    _check_rotations(root, file, key)
    _check_rotations(body[:, :BODY_JOINTS], file, key)
    return root, matrix_to_axis_angle_np(body[:, :BODY_JOINTS])


def _check_rotations(r: np.ndarray, file: Path, key: str, tolerance: float = 1e-3) -> None:
    eye = np.eye(3)
    off = np.abs(np.swapaxes(r, -1, -2) @ r - eye).max() if r.size else 0.0
    det = np.linalg.det(r) if r.size else np.ones(1)
    if off > tolerance or np.abs(det - 1.0).max() > tolerance:
        raise EstimateError(f"{file}: key {key!r} holds matrices that are not rotations (R^T R - I up to {off:.3g})")
