"""An estimator's track -> an AMASS SMPL+H motion in SynthAct's Z-up world. Written once for all.

Steps, in order (``to_amass``):

1. **Camera to world** where the track has a moving camera (TRAM):
   pelvis_w = R (J0 + t) + T and root_w = R root.
2. **Up axis to +Z.** Y-up worlds (WHAM, GVHMR) turn by +90 degrees about X; camera
   frames (x right, y down, z forward) turn so that -y is up and the view
   direction is +Y; a given up vector (SLAHMR's floor) turns onto +Z along the
   shortest arc. Only the root orientation and the pelvis turn, never vertices:
   the pelvis is J0(betas) + trans of the *estimator's* body, so the rotation
   acts about the right point (turning ``trans`` alone would move the body by
   (Q - I) J0).
3. **Smoothing** (``smoothing_s`` > 0): a Gaussian filter over time of that
   standard deviation, in seconds, on the pelvis path and on every joint
   rotation (as sign-aligned quaternions, renormalised). Estimated motion is
   jittery (SURREACT smooths VIBE's output likewise); 0 turns it off. The filter
   is scipy's ``gaussian_filter1d`` with ``mode="nearest"``.
4. **SMPL-H layout:** poses (T, 156) = root, the 21 body joints, and flat hands
   (zeros: AMASS's hands are absolute and flat_hand_mean); trans = pelvis - J0 of
   SMPL-H with the fitted betas (``body_shape``).
5. **Ground** (``ground``): the lowest mesh vertex of the clip (its 5th
   percentile over frames, ``synthact.fitting.export.ground_translation``) on z = 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synthact.body.skeleton import POSE_WIDTH
from synthact.fitting.estimates.records import EstimateError, Track
from synthact.fitting.rotations import axis_angle_to_matrix_np, matrix_to_axis_angle_np, matrix_to_quaternion_np

# Rotations from each frame convention to SynthAct's world (Z up).
Y_UP_TO_Z_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])  # +Y -> +Z, +Z -> -Y
OPENCV_TO_Z_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])  # -Y (up) -> +Z, +Z (view) -> +Y


def up_to_z(up: np.ndarray) -> np.ndarray:
    """The shortest-arc rotation taking the unit vector ``up`` onto +Z."""
    u = np.asarray(up, dtype=np.float64) / np.linalg.norm(up)
    z = np.array([0.0, 0.0, 1.0])
    axis = np.cross(u, z)
    s, c = np.linalg.norm(axis), float(u @ z)
    if s < 1e-12:
        return np.eye(3) if c > 0 else np.diag([1.0, -1.0, -1.0])
    return axis_angle_to_matrix_np(axis / s * np.arctan2(s, c))


def world_rotation(track: Track) -> np.ndarray:
    """The rotation from the track's (world) frame to SynthAct's Z-up world."""
    if track.frame == "y_up":
        return Y_UP_TO_Z_UP
    if track.frame == "opencv":
        return OPENCV_TO_Z_UP
    if track.up is None:
        raise EstimateError(f"{track.file}: track {track.track_id} is in a custom frame but gives no up vector")
    return up_to_z(track.up)


def world_pose(track: Track, source_pelvis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Root rotations (T, 3, 3) and pelvis positions (T, 3) in the Z-up world.

    Args:
        source_pelvis: (3,) J0 of the estimator's body with the track's betas.
    """
    root = track.root_rotmat
    pelvis = track.trans + source_pelvis
    if track.cam_to_world_R is not None:
        root = track.cam_to_world_R @ root
        pelvis = np.einsum("tab,tb->ta", track.cam_to_world_R, pelvis) + track.cam_to_world_T
    q = world_rotation(track)
    return q @ root, pelvis @ q.T


# --------------------------------------------------------------------------- smoothing


def continuous_quaternions(q: np.ndarray) -> np.ndarray:
    """(T, ..., 4) quaternions with signs flipped so that neighbours lie in one hemisphere."""
    q = np.array(q, dtype=np.float64)
    for t in range(1, len(q)):
        flip = np.sum(q[t] * q[t - 1], axis=-1) < 0
        q[t][flip] *= -1.0
    return q


def quaternion_to_matrix(q: np.ndarray) -> np.ndarray:
    """(..., 4) unit quaternions (w, x, y, z) -> (..., 3, 3) rotation matrices."""
    w, x, y, z = np.moveaxis(q, -1, 0)
    rows = (
        1 - 2 * (y * y + z * z),
        2 * (x * y - w * z),
        2 * (x * z + w * y),
        2 * (x * y + w * z),
        1 - 2 * (x * x + z * z),
        2 * (y * z - w * x),
        2 * (x * z - w * y),
        2 * (y * z + w * x),
        1 - 2 * (x * x + y * y),
    )
    return np.stack(rows, axis=-1).reshape(q.shape[:-1] + (3, 3))


def smooth_rotations(mats: np.ndarray, sigma_frames: float) -> np.ndarray:
    """Gaussian-smoothed (T, ..., 3, 3) rotations (quaternion average, renormalised)."""
    from scipy.ndimage import gaussian_filter1d

    q = continuous_quaternions(matrix_to_quaternion_np(mats))
    q = gaussian_filter1d(q, sigma_frames, axis=0, mode="nearest")
    return quaternion_to_matrix(q / np.linalg.norm(q, axis=-1, keepdims=True))


def smooth_path(points: np.ndarray, sigma_frames: float) -> np.ndarray:
    from scipy.ndimage import gaussian_filter1d

    return gaussian_filter1d(points, sigma_frames, axis=0, mode="nearest")


# --------------------------------------------------------------------------- the motion


@dataclass(frozen=True, eq=False)
class WorldMotion:
    """A track in the Z-up world, still without SMPL-H's shape."""

    root: np.ndarray  # (T, 3, 3)
    body_pose: np.ndarray  # (T, 21, 3) axis-angle
    pelvis: np.ndarray  # (T, 3)


def world_motion(track: Track, source_pelvis: np.ndarray, sigma_frames: float) -> WorldMotion:
    """The track in the Z-up world, smoothed when ``sigma_frames`` > 0."""
    root, pelvis = world_pose(track, source_pelvis)
    body = track.body_pose
    if sigma_frames > 0 and len(track) > 1:
        root = smooth_rotations(root, sigma_frames)
        body = matrix_to_axis_angle_np(smooth_rotations(axis_angle_to_matrix_np(body), sigma_frames))
        if track.has_translation:
            pelvis = smooth_path(pelvis, sigma_frames)
    return WorldMotion(root, body, pelvis)


def amass_pose(motion: WorldMotion, smplh_pelvis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """AMASS ``poses`` (T, 156) with flat hands, and ``trans`` (T, 3) for the SMPL-H body.

    Args:
        smplh_pelvis: (3,) J0 of SMPL-H with the fitted betas.
    """
    n = len(motion.root)
    poses = np.zeros((n, POSE_WIDTH))
    poses[:, :3] = matrix_to_axis_angle_np(motion.root)
    poses[:, 3:66] = motion.body_pose.reshape(n, 63)
    return poses, motion.pelvis - smplh_pelvis
