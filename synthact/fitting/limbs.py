"""Analytic starting poses for arms and legs (two-bone inverse kinematics).

Gradient descent from a straight limb often settles in a wrong basin: a knee
bent sideways by a twisted hip fits the ankle nearly as well as the right
answer, and a straight joint gives the twist no gradient at all. Each limb is
instead started from the pose that points its upper bone at the target middle
joint and turns its hinge (knee or elbow) so the bend lies in the plane of the
three target joints, bending the anatomical way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synthact.body.skeleton import JOINT_NAMES, PARENTS
from synthact.fitting.rotations import matrix_to_axis_angle_np

_J = {name: i for i, name in enumerate(JOINT_NAMES)}

# Where a limb is nearly straight its bend plane is undefined; this much of the
# "no twist" hinge axis is mixed in so the axis stays defined and continuous.
_STRAIGHT_BLEND = 0.05


@dataclass(frozen=True)
class Limb:
    """A two-bone chain and the rest-space axis its middle joint flexes about."""

    upper: int  # hip or shoulder
    middle: int  # knee or elbow
    end: int  # ankle or wrist
    hinge: tuple[float, float, float]


LIMBS = (
    Limb(_J["left_hip"], _J["left_knee"], _J["left_ankle"], (1.0, 0.0, 0.0)),
    Limb(_J["right_hip"], _J["right_knee"], _J["right_ankle"], (1.0, 0.0, 0.0)),
    Limb(_J["left_shoulder"], _J["left_elbow"], _J["left_wrist"], (0.0, -1.0, 0.0)),
    Limb(_J["right_shoulder"], _J["right_elbow"], _J["right_wrist"], (0.0, 1.0, 0.0)),
)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def _orthogonal_to(v: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Unit component of ``v`` perpendicular to unit ``d`` (both (..., 3))."""
    return _unit(v - (v * d).sum(-1, keepdims=True) * d)


def _frame(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Rotation matrix with columns ``first``, ``second`` and their cross product."""
    return np.stack([first, second, np.cross(first, second)], axis=-1)


def limb_pose(
    limb: Limb, rest: np.ndarray, parent_rot: np.ndarray, points: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Local axis-angles of a limb's upper and middle joints.

    Args:
        limb: the chain.
        rest: (52, 3) rest joints of the current shape.
        parent_rot: (T, 3, 3) world rotation of the upper joint's parent.
        points: (T, 3, 3) target positions of upper, middle and end joint.

    Returns:
        (T, 3) upper-joint and (T, 3) middle-joint axis-angles.
    """
    hinge = np.asarray(limb.hinge)
    a1 = _unit(rest[limb.middle] - rest[limb.upper])
    a2 = _unit(rest[limb.end] - rest[limb.middle])
    x0 = _orthogonal_to(hinge, a1)
    d1 = _unit(points[:, 1] - points[:, 0])
    d2 = _unit(points[:, 2] - points[:, 1])
    untwisted = parent_rot @ hinge  # the hinge axis if the upper joint did not turn
    bend = np.cross(d1, d2)  # points along the hinge axis when the limb bends the right way
    axis = _orthogonal_to(bend + _STRAIGHT_BLEND * untwisted, d1)
    upper_world = _frame(d1, axis) @ _frame(a1, x0).T
    upper_local = np.swapaxes(parent_rot, -1, -2) @ upper_world
    target_flex = np.arctan2((bend * axis).sum(-1), (d1 * d2).sum(-1))
    rest_flex = np.arctan2(np.cross(a1, a2) @ x0, a1 @ a2)
    middle = x0[None] * (target_flex - rest_flex)[:, None]
    return matrix_to_axis_angle_np(upper_local), middle


def initial_limb_poses(
    body_pose: np.ndarray,
    global_rots: np.ndarray,
    rest: np.ndarray,
    joint_targets: dict[int, tuple[np.ndarray, np.ndarray]],
) -> np.ndarray:
    """Replace the limbs of ``body_pose`` with their analytic poses where observed.

    Args:
        body_pose: (T, 21, 3) current body axis-angles (joint j at row j - 1).
        global_rots: (T, 52, 3, 3) world rotations of the current fit.
        rest: (52, 3) rest joints of the current shape.
        joint_targets: SMPL-H joint -> ((T, 3) target positions, (T,) valid).

    Returns:
        A new (T, 21, 3) array. A limb whose three joints are never all
        observed keeps its pose; frames where they are not take the pose of
        the nearest frame where they are.
    """
    out = body_pose.copy()
    for limb in LIMBS:
        chain = (limb.upper, limb.middle, limb.end)
        if not all(j in joint_targets for j in chain):
            continue
        seen = np.logical_and.reduce([joint_targets[j][1] for j in chain])
        if not seen.any():
            continue
        points = np.stack([joint_targets[j][0] for j in chain], axis=1)
        parent_rot = global_rots[:, PARENTS[limb.upper]]
        upper, middle = limb_pose(limb, rest, parent_rot, points)
        nearest = nearest_true(seen)
        out[:, limb.upper - 1] = upper[nearest]
        out[:, limb.middle - 1] = middle[nearest]
    return out


def nearest_true(flags: np.ndarray) -> np.ndarray:
    """Per index, the index of the nearest True entry (ties go to the earlier one)."""
    where = np.flatnonzero(flags)
    frames = np.arange(len(flags))
    if len(where) == 1:
        return np.full(len(flags), where[0])
    right = np.clip(np.searchsorted(where, frames), 1, len(where) - 1)
    before, after = where[right - 1], where[right]
    return np.where(frames - before <= after - frames, before, after)
