"""What a fit returns: the AMASS-layout motion, its errors, and a report."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class FitErrors:
    """Distances (metres) between fitted and target joints, over valid entries only."""

    per_entry: np.ndarray  # (T, J), NaN where the target is missing or unmapped
    per_frame: np.ndarray  # (T,) mean over the frame's valid joints; NaN if none
    per_joint: np.ndarray  # (J,) mean over the joint's valid frames; NaN if none
    mean: float
    median: float
    p95: float
    max: float


def fit_errors(fitted: np.ndarray, targets: np.ndarray) -> FitErrors:
    """Error statistics of (T, J, 3) fitted points against targets (NaN = missing)."""
    per_entry = np.linalg.norm(fitted - targets, axis=-1)
    observed = np.isfinite(per_entry)
    values = per_entry[observed]
    with np.errstate(invalid="ignore"):  # all-missing rows or columns give NaN, by design
        per_frame = np.nansum(per_entry, 1) / observed.sum(1)
        per_joint = np.nansum(per_entry, 0) / observed.sum(0)
    return FitErrors(
        per_entry=per_entry,
        per_frame=per_frame,
        per_joint=per_joint,
        mean=float(values.mean()),
        median=float(np.median(values)),
        p95=float(np.percentile(values, 95)),
        max=float(values.max()),
    )


@dataclass(frozen=True)
class FitResult:
    """A fitted SMPL-H motion in the AMASS SMPL+H layout, with diagnostics.

    ``poses`` (T, 156) is axis-angle: root 3, body 63, hands 90 (hands are zero,
    i.e. flat, as AMASS's absolute hand poses). ``trans`` (T, 3) follows AMASS
    (pelvis = J0(betas) + trans) in the target's Z-up world. ``betas`` has 16
    entries (zero-padded when the model has fewer).
    """

    poses: np.ndarray
    trans: np.ndarray
    betas: np.ndarray
    gender: str
    fitted_joints: np.ndarray  # (T, J, 3) the model's points in target order; NaN if unmapped
    model_joints: np.ndarray  # (T, 52, 3) all SMPL-H joints of the fit
    errors: FitErrors
    iterations: dict[str, int]  # L-BFGS iterations per stage
    seconds: dict[str, float]  # wall time per stage
    cpu_seconds: dict[str, float]  # CPU time of this process per stage (robust to a busy machine)
    loss_terms: dict[str, float]  # final value of each term of the objective
    shape_summary: dict[str, Any]  # stage 1: segments used, length errors
    knee_flexion: np.ndarray  # (T, 2) radians, left/right; negative = hyperextended
    elbow_flexion: np.ndarray  # (T, 2) radians, left/right

    @property
    def per_frame_error(self) -> np.ndarray:
        """(T,) mean joint error of each frame, metres."""
        return self.errors.per_frame

    @property
    def per_joint_error(self) -> np.ndarray:
        """(J,) mean error of each target joint, metres."""
        return self.errors.per_joint

    @property
    def mean_error(self) -> float:
        """Mean joint error over all valid target entries, metres."""
        return self.errors.mean

    def report(self) -> dict[str, Any]:
        """A JSON-ready summary: errors (metres), shape, limits, iterations and timings."""
        return {
            "frames": int(self.poses.shape[0]),
            "gender": self.gender,
            "mean_error_m": self.errors.mean,
            "median_error_m": self.errors.median,
            "p95_error_m": self.errors.p95,
            "max_error_m": self.errors.max,
            "per_joint_error_m": _floats_or_none(self.errors.per_joint),
            "per_frame_error_m": _floats_or_none(self.errors.per_frame),
            "betas": [float(b) for b in self.betas],
            "min_knee_flexion_deg": float(np.rad2deg(self.knee_flexion.min())),
            "min_elbow_flexion_deg": float(np.rad2deg(self.elbow_flexion.min())),
            "iterations": dict(self.iterations),
            "seconds": {k: round(v, 4) for k, v in self.seconds.items()},
            "total_seconds": round(sum(self.seconds.values()), 4),
            "cpu_seconds": {k: round(v, 4) for k, v in self.cpu_seconds.items()},
            "loss_terms": dict(self.loss_terms),
            "shape": dict(self.shape_summary),
        }


def _floats_or_none(values: np.ndarray) -> list[float | None]:
    """JSON has no NaN: unmapped or never-observed entries become None."""
    return [float(v) if np.isfinite(v) else None for v in values]
