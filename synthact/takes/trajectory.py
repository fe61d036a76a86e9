"""Where a clip's body goes and where it faces: what the camera rig is aimed with.

Everything here is plain numpy. The pelvis rest joint J0 depends on the body
shape only, so it is computed from the model arrays directly
(``J_regressor[0] @ (v_template + shapedirs . betas)``) rather than by posing
the full SMPL-H model.

Conventions (AMASS): the world is Z-up, in metres; the template is Y-up and
faces +Z, and the rotation between the two is baked into the root orientation.
The root rotates about the pelvis, so the pelvis is at ``J0(betas) + trans``
whatever the pose.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from synthact.body import model_files

TEMPLATE_FORWARD = np.array([0.0, 0.0, 1.0])  # the template body faces +Z
TEMPLATE_UP = np.array([0.0, 1.0, 0.0])
_MIN_HORIZONTAL = 1e-6


@dataclass(frozen=True)
class ClipTrajectory:
    """Pelvis path (world XY) and facing at the clip's first frame."""

    path_center: tuple[float, float]
    path_radius: float
    heading_deg: float


@cache
def _pelvis_rest_terms(model_path: str, gender: str) -> tuple[np.ndarray, np.ndarray]:
    """J0 of the mean shape (3,) and its change per shape coefficient (3, NB)."""
    _, arrays = model_files.load_smplh_arrays(model_path, gender)
    regressor = np.asarray(arrays["J_regressor"], dtype=np.float64)[0]
    template = regressor @ np.asarray(arrays["v_template"], dtype=np.float64)
    per_beta = np.einsum("v,vkl->kl", regressor, np.asarray(arrays["shapedirs"], dtype=np.float64))
    return template, per_beta


def pelvis_rest_joint(model_path: str | Path, gender: str, betas: np.ndarray) -> np.ndarray:
    """J0(betas), template space (3,). Model arrays are cached per (model, gender).

    Betas are zero-padded or cut to the number of shape components the model has.
    """
    template, per_beta = _pelvis_rest_terms(str(model_path), gender)
    given = np.asarray(betas, dtype=np.float64).ravel()[: per_beta.shape[1]]
    return template + per_beta[:, : given.size] @ given


def axis_angle_to_matrix(axis_angle: np.ndarray) -> np.ndarray:
    """Rodrigues' formula: (..., 3) axis-angle to (..., 3, 3) rotation matrices."""
    aa = np.asarray(axis_angle, dtype=np.float64)
    angle = np.linalg.norm(aa, axis=-1, keepdims=True)
    axis = np.divide(aa, angle, out=np.zeros_like(aa), where=angle > 1e-12)
    x, y, z = axis[..., 0], axis[..., 1], axis[..., 2]
    zero = np.zeros_like(x)
    skew = np.stack([zero, -z, y, z, zero, -x, -y, x, zero], axis=-1).reshape(aa.shape[:-1] + (3, 3))
    sin, cos = np.sin(angle)[..., None], np.cos(angle)[..., None]
    return np.eye(3) + sin * skew + (1.0 - cos) * (skew @ skew)


def heading_deg(root_orient: np.ndarray) -> float:
    """Facing direction in world XY, degrees counter-clockwise from +X, in (-180, 180].

    Facing is the template's forward (+Z) turned by the root rotation. For a
    body lying on its back or front that points up or down, so the direction
    of the head (template +Y) is used instead.
    """
    rotation = axis_angle_to_matrix(root_orient)
    for template_axis in (TEMPLATE_FORWARD, TEMPLATE_UP):
        x, y, _ = rotation @ template_axis
        if math.hypot(x, y) > _MIN_HORIZONTAL:
            angle = math.degrees(math.atan2(y, x))
            return 180.0 if angle == -180.0 else angle
    return 0.0


@dataclass(frozen=True, eq=False)
class BodyPath:
    """One body's pelvis over a clip's frames, and the frames it is in the scene."""

    trans: np.ndarray  # (N, 3) AMASS translation
    pelvis_rest: np.ndarray  # (3,) J0(betas)
    present: np.ndarray | None = None  # (N,) bool; None: every frame

    def pelvis_xy(self) -> np.ndarray:
        """(n, 2) world XY of the pelvis in the present frames."""
        xy = (np.asarray(self.trans, dtype=np.float64) + self.pelvis_rest)[:, :2]
        return xy if self.present is None else xy[np.asarray(self.present, dtype=bool)]


def clip_trajectory(root_orient: np.ndarray, trans: np.ndarray, pelvis_rest: np.ndarray) -> ClipTrajectory:
    """Path centre, radius and first-frame heading of one clip of one body.

    Args:
        root_orient: (N, 3) root axis-angle of the clip's frames.
        trans: (N, 3) AMASS translation of the clip's frames.
        pelvis_rest: J0(betas), (3,).

    Returns:
        The mean pelvis XY, the largest XY distance of the pelvis from it, and
        the heading at the first frame.
    """
    return group_trajectory(root_orient, [BodyPath(trans, pelvis_rest)])


def group_trajectory(root_orient: np.ndarray, bodies: list[BodyPath]) -> ClipTrajectory:
    """Path centre and radius of every body of a clip together; heading of body 0.

    The centre is the mean of every body's pelvis XY over the frames it is present,
    the radius the largest distance of any of those points from it, so a camera
    aimed at the centre with that radius frames the whole group. The heading is body
    0's at the clip's first frame. Where no body is present in any frame of the clip,
    body 0's placeholder path is used.

    Args:
        root_orient: (N, 3) root axis-angle of body 0 in the clip's frames.
        bodies: Body 0 first; each with (N, 3) translations of the same frames.
    """
    if not bodies or len(bodies[0].trans) == 0:
        raise ValueError("a clip needs at least one frame")
    points = [body.pelvis_xy() for body in bodies]
    if not any(len(p) for p in points):
        points = [BodyPath(bodies[0].trans, bodies[0].pelvis_rest).pelvis_xy()]
    pelvis_xy = np.concatenate(points)
    center = pelvis_xy.mean(axis=0)
    radius = np.linalg.norm(pelvis_xy - center, axis=1).max()
    # Rounded (micrometres, 1e-4 degrees) so float noise from one machine's
    # maths library to another's does not change the clip table.
    return ClipTrajectory(
        path_center=(_tidy(center[0], 6), _tidy(center[1], 6)),
        path_radius=_tidy(radius, 6),
        heading_deg=_tidy(heading_deg(root_orient[0]), 4, turn=True),
    )


def _tidy(value: float, decimals: int, turn: bool = False) -> float:
    """Round and turn -0.0 into 0.0; for an angle, keep -180 out after rounding."""
    rounded = round(float(value), decimals) + 0.0
    return 180.0 if turn and rounded == -180.0 else rounded
