"""Small geometry shared by the skeleton sources (NTU RGB+D, Toyota Smarthome).

Both datasets give joints in a camera's frame, with frames where nobody was seen. These
helpers fill such gaps and carry the camera-to-world transform, so each source only has
to say how its own camera axes are oriented.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class WorldTransform:
    """``world = rotation @ camera + translation`` (metres; world is Z-up, floor at z = 0).

    The camera's origin lands at ``translation``, so for a level camera its z is the
    camera's height above the estimated floor.
    """

    rotation: np.ndarray  # (3, 3), a proper rotation
    translation: np.ndarray  # (3,)

    def apply(self, points: np.ndarray) -> np.ndarray:
        """Transform (..., 3) points."""
        return np.asarray(points, dtype=np.float64) @ self.rotation.T + self.translation


def interpolate_missing(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Fill unobserved frames linearly from the nearest observed ones.

    Args:
        values: (T, ...) or (T, M, ...) per-frame values (e.g. joints).
        valid: (T,) or (T, M) bool, True where observed; its shape must prefix ``values``.

    Returns:
        A float copy of ``values``: gaps inside a run are interpolated, gaps before the
        first or after the last observation hold that observation. Series with no
        observation at all are returned unchanged.
    """
    valid = np.asarray(valid, dtype=bool)
    values = np.array(values, dtype=np.result_type(values, np.float32))  # a contiguous copy
    if valid.ndim == 0 or values.shape[: valid.ndim] != valid.shape:
        raise ValueError(f"valid has shape {valid.shape}; it must prefix the values' shape {values.shape}")
    num_frames = valid.shape[0]
    series = valid.reshape(num_frames, -1)
    flat = values.reshape(num_frames, series.shape[1], -1)
    times = np.arange(num_frames)
    for index in range(series.shape[1]):
        seen = series[:, index]
        if seen.all() or not seen.any():
            continue
        before = np.maximum.accumulate(np.where(seen, times, -1))
        after = np.minimum.accumulate(np.where(seen, times, num_frames)[::-1])[::-1]
        before = np.where(before < 0, after, before)  # leading gap: hold the first sighting
        after = np.where(after >= num_frames, before, after)  # trailing gap: hold the last
        span = after - before
        weight = np.where(span > 0, (times - before) / np.maximum(span, 1), 0.0)[:, None]
        flat[:, index] = flat[before, index] * (1.0 - weight) + flat[after, index] * weight
    return values


def rotation_onto_z(direction: np.ndarray) -> np.ndarray:
    """The smallest rotation taking ``direction`` onto +Z (Rodrigues' formula)."""
    d = np.asarray(direction, dtype=np.float64)
    d = d / np.linalg.norm(d)
    axis = np.cross(d, [0.0, 0.0, 1.0])
    sine, cosine = float(np.linalg.norm(axis)), float(d[2])
    if sine < 1e-12:
        return np.eye(3) if cosine > 0 else np.diag([1.0, -1.0, -1.0])  # 180 degrees about X
    k = axis / sine
    skew = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    return np.eye(3) + sine * skew + (1.0 - cosine) * skew @ skew


def level_rotation(up_vectors: np.ndarray, max_tilt_deg: float) -> np.ndarray:
    """Rotation that makes the typical body axis vertical, or identity if it is implausible.

    Args:
        up_vectors: (N, 3) per-frame body axes (e.g. pelvis -> shoulders) in a roughly
            Z-up frame.
        max_tilt_deg: Largest correction accepted; a larger one means the body is not
            upright for most frames (lying, bending), so the axis says nothing about the
            camera.

    The median of the unit vectors is used, so a few frames of bending do not bias it.
    """
    vectors = np.asarray(up_vectors, dtype=np.float64)
    lengths = np.linalg.norm(vectors, axis=1)
    vectors = vectors[lengths > 1e-6] / lengths[lengths > 1e-6, None]
    if len(vectors) == 0:
        return np.eye(3)
    typical = np.median(vectors, axis=0)
    if np.linalg.norm(typical) < 1e-6:
        return np.eye(3)
    tilt = math.degrees(math.acos(float(np.clip(typical[2] / np.linalg.norm(typical), -1.0, 1.0))))
    return rotation_onto_z(typical) if tilt <= max_tilt_deg else np.eye(3)


def estimate_world_transform(
    frames: np.ndarray,
    axes: np.ndarray,
    torso: tuple[tuple[int, ...], tuple[int, ...]],
    feet: tuple[int, ...],
    level: bool = True,
    max_tilt_deg: float = 35.0,
    floor_percentile: float = 5.0,
) -> WorldTransform:
    """Place a camera's skeleton frames in a Z-up world whose floor is z = 0.

    Args:
        frames: (N, J, 3) observed frames, in the camera's frame.
        axes: (3, 3) rotation from the camera's axes to Z-up (before levelling).
        torso: (lower joints, upper joints): the body axis runs from the mean of the first
            to the mean of the second.
        feet: Joints of which the lowest per frame stands on the floor.
        level: Rotate the median body axis onto +Z when within ``max_tilt_deg`` of it: the
            camera's own tilt is unknown, and people stand or sit upright most of the time.
        floor_percentile: Percentile of the per-frame lowest foot moved to z = 0 (not the
            minimum: estimated feet jitter, and sometimes below the floor).
    """
    frames = np.asarray(frames, dtype=np.float64)
    rotation = np.asarray(axes, dtype=np.float64)
    if level:
        zup = frames @ rotation.T
        body_axis = zup[:, list(torso[1])].mean(axis=1) - zup[:, list(torso[0])].mean(axis=1)
        rotation = level_rotation(body_axis, max_tilt_deg) @ rotation
    lowest = (frames[:, list(feet)] @ rotation.T)[..., 2].min(axis=1)
    floor = float(np.percentile(lowest, floor_percentile))
    return WorldTransform(rotation=rotation, translation=np.array([0.0, 0.0, -floor]))
