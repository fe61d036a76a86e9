"""Quaternion helpers, named body angles and forward kinematics for the demo motions.

Quaternions are ``(..., 4)`` arrays in ``(w, x, y, z)`` order. Every joint
rotation is local, relative to the parent, expressed in the SMPL-H template
frame (Y-up, facing +Z, left = +X), exactly like SMPL-H axis-angle poses.

``BodyAngles`` names the few anatomical angles the procedural actions drive
(hip flexion, knee flexion, arm elevation, ...). ``BodyAngles.to_quaternions``
is the single place where their signs are turned into joint rotations, so the
action code never deals with axes.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

from synthact.body.skeleton import FINGERS, JOINT_NAMES, NUM_JOINTS, PARENTS

SIDES = ("left", "right")
SIDE_SIGN = {"left": 1.0, "right": -1.0}  # mirror factor: the left side is +X
_J = {name: i for i, name in enumerate(JOINT_NAMES)}


def joint_index(name: str) -> int:
    """Index of an SMPL-H joint by name."""
    return _J[name]


# --------------------------------------------------------------------------- quaternions


def quat_identity(shape: tuple[int, ...] = ()) -> np.ndarray:
    """Identity rotations of the given batch shape."""
    q = np.zeros(shape + (4,))
    q[..., 0] = 1.0
    return q


def quat_axis(axis: int, angle: np.ndarray | float) -> np.ndarray:
    """Rotation by ``angle`` (radians, right-handed) about template axis 0=X, 1=Y, 2=Z."""
    angle = np.asarray(angle, dtype=np.float64)
    q = np.zeros(angle.shape + (4,))
    q[..., 0] = np.cos(angle / 2)
    q[..., 1 + axis] = np.sin(angle / 2)
    return q


def quat_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product ``a * b`` (apply ``b`` first, then ``a``)."""
    aw, ax, ay, az = np.moveaxis(a, -1, 0)
    bw, bx, by, bz = np.moveaxis(b, -1, 0)
    return np.stack(
        (
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ),
        axis=-1,
    )


def quat_chain(*qs: np.ndarray) -> np.ndarray:
    """Product of several quaternions, left to right (the rightmost is applied first)."""
    out = qs[0]
    for q in qs[1:]:
        out = quat_mul(out, q)
    return out


def quat_to_matrix(q: np.ndarray) -> np.ndarray:
    """Rotation matrices ``(..., 3, 3)`` of unit quaternions."""
    w, x, y, z = np.moveaxis(q, -1, 0)
    rows = (
        (1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)),
        (2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)),
        (2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)),
    )
    return np.stack([np.stack(r, axis=-1) for r in rows], axis=-2)


def quat_to_axis_angle(q: np.ndarray) -> np.ndarray:
    """Axis-angle vectors ``(..., 3)``; stable near the identity."""
    q = np.where(q[..., :1] < 0, -q, q)  # w >= 0 gives angles in [0, pi]
    vec = q[..., 1:]
    sin_half = np.linalg.norm(vec, axis=-1)
    angle = 2.0 * np.arctan2(sin_half, q[..., 0])
    # angle / sin(angle/2) -> 2 as the angle -> 0; avoid 0/0 there.
    safe = sin_half > 1e-12
    scale = np.where(safe, angle / np.where(safe, sin_half, 1.0), 2.0)
    return vec * scale[..., None]


def quat_from_axis_angle(aa: np.ndarray) -> np.ndarray:
    """Unit quaternions of axis-angle vectors ``(..., 3)``."""
    angle = np.linalg.norm(aa, axis=-1, keepdims=True)
    # sin(angle/2)/angle -> 1/2 as the angle -> 0.
    scale = np.where(angle > 1e-12, np.sin(angle / 2) / np.where(angle > 1e-12, angle, 1.0), 0.5)
    return np.concatenate([np.cos(angle / 2), aa * scale], axis=-1)


def quat_slerp(a: np.ndarray, b: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Spherical interpolation from ``a`` (weight 0) to ``b`` (weight 1), shortest path."""
    weight = np.asarray(weight, dtype=np.float64)[..., None]
    dot = np.sum(a * b, axis=-1, keepdims=True)
    b = np.where(dot < 0, -b, b)  # q and -q are the same rotation
    dot = np.clip(np.abs(dot), 0.0, 1.0)
    theta = np.arccos(dot)
    sin_theta = np.sin(theta)
    near = sin_theta < 1e-6  # almost equal: linear blend is exact enough
    safe_sin = np.where(near, 1.0, sin_theta)
    wa = np.where(near, 1.0 - weight, np.sin((1.0 - weight) * theta) / safe_sin)
    wb = np.where(near, weight, np.sin(weight * theta) / safe_sin)
    out = wa * a + wb * b
    return out / np.linalg.norm(out, axis=-1, keepdims=True)


# --------------------------------------------------------------------------- named angles


def _zeros(n: int) -> np.ndarray:
    return np.zeros(n)


@dataclass
class LegAngles:
    """Angles of one leg (radians). Positive values: see ``BodyAngles``."""

    n: int
    hip_flex: np.ndarray = field(init=False)  # thigh forward
    hip_abd: np.ndarray = field(init=False)  # thigh outward, away from the midline
    hip_rot: np.ndarray = field(init=False)  # internal rotation (toes inward)
    knee: np.ndarray = field(init=False)  # flexion (heel toward buttock)
    ankle: np.ndarray = field(init=False)  # plantar flexion (toes down)

    def __post_init__(self) -> None:
        for name in ("hip_flex", "hip_abd", "hip_rot", "knee", "ankle"):
            setattr(self, name, _zeros(self.n))


@dataclass
class ArmAngles:
    """Angles of one arm (radians). Positive values: see ``BodyAngles``."""

    n: int
    shrug: np.ndarray = field(init=False)  # collar raised
    down: np.ndarray = field(init=False)  # upper arm lowered from the T-pose; pi/2 hangs
    forward: np.ndarray = field(init=False)  # then swung forward in the sagittal plane
    across: np.ndarray = field(init=False)  # then swung horizontally toward the midline
    twist: np.ndarray = field(init=False)  # external rotation about the upper arm
    elbow: np.ndarray = field(init=False)  # flexion
    wrist: np.ndarray = field(init=False)  # flexion toward the palm
    curl: np.ndarray = field(init=False)  # finger curl per joint (0 flat, ~1.4 fist)

    def __post_init__(self) -> None:
        for name in ("shrug", "down", "forward", "across", "twist", "elbow", "wrist", "curl"):
            setattr(self, name, _zeros(self.n))


@dataclass
class BodyAngles:
    """Anatomical angles of the whole body for ``n`` frames.

    Trunk angles: ``bend`` forward flexion, ``side`` lean to the left, ``twist``
    turn to the left. ``pelvis_*`` tilt the root relative to the heading frame.
    """

    n: int
    pelvis_tilt: np.ndarray = field(init=False)  # forward
    pelvis_roll: np.ndarray = field(init=False)  # left hip down
    pelvis_yaw: np.ndarray = field(init=False)  # facing to the left
    bend: np.ndarray = field(init=False)
    side: np.ndarray = field(init=False)
    twist: np.ndarray = field(init=False)
    nod: np.ndarray = field(init=False)  # head down
    look: np.ndarray = field(init=False)  # head turned left
    leg: dict[str, LegAngles] = field(init=False)
    arm: dict[str, ArmAngles] = field(init=False)

    def __post_init__(self) -> None:
        for name in ("pelvis_tilt", "pelvis_roll", "pelvis_yaw", "bend", "side", "twist", "nod", "look"):
            setattr(self, name, _zeros(self.n))
        self.leg = {s: LegAngles(self.n) for s in SIDES}
        self.arm = {s: ArmAngles(self.n) for s in SIDES}

    def to_quaternions(self) -> np.ndarray:
        """Local joint rotations ``(n, 52, 4)``; joint 0 is the pelvis tilt."""
        q = quat_identity((self.n, NUM_JOINTS))
        x, y, z = (functools.partial(quat_axis, axis) for axis in (0, 1, 2))
        q[:, 0] = quat_chain(y(self.pelvis_yaw), x(self.pelvis_tilt), z(-self.pelvis_roll))
        for name, share in (("spine1", 0.4), ("spine2", 0.35), ("spine3", 0.25)):
            # Spreading the trunk over three joints gives a smooth curve, not a kink.
            q[:, _J[name]] = quat_chain(y(share * self.twist), x(share * self.bend), z(-share * self.side))
        q[:, _J["neck"]] = quat_chain(y(0.4 * self.look), x(0.4 * self.nod))
        q[:, _J["head"]] = quat_chain(y(0.6 * self.look), x(0.6 * self.nod))
        for side in SIDES:
            s = SIDE_SIGN[side]
            leg, arm = self.leg[side], self.arm[side]
            # The leg hangs along -Y: a forward swing is a negative turn about X.
            q[:, _J[f"{side}_hip"]] = quat_chain(x(-leg.hip_flex), z(s * leg.hip_abd), y(-s * leg.hip_rot))
            q[:, _J[f"{side}_knee"]] = x(leg.knee)
            q[:, _J[f"{side}_ankle"]] = x(leg.ankle)
            q[:, _J[f"{side}_collar"]] = z(s * arm.shrug)
            # The arm points along +-X in the template: lower it about Z, then swing it.
            q[:, _J[f"{side}_shoulder"]] = quat_chain(
                y(-s * arm.across), x(-arm.forward), z(-s * arm.down), x(-arm.twist)
            )
            q[:, _J[f"{side}_elbow"]] = y(-s * arm.elbow)
            q[:, _J[f"{side}_wrist"]] = z(-s * arm.wrist)
            for finger in FINGERS:
                scale = 0.45 if finger == "thumb" else 1.0
                for k, share in zip((1, 2, 3), (0.8, 1.0, 0.7), strict=True):
                    q[:, _J[f"{side}_{finger}{k}"]] = z(-s * scale * share * arm.curl)
            # The thumb also swings across the palm, so a fist wraps it over the fingers.
            thumb = _J[f"{side}_thumb1"]
            q[:, thumb] = quat_mul(y(s * 0.7 * arm.curl), q[:, thumb])
        return q


# --------------------------------------------------------------------------- kinematics


def forward_kinematics(
    local: np.ndarray, rest_joints: np.ndarray, root_position: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Global joint rotations and positions of a posed skeleton.

    Args:
        local: (T, 52, 4) local rotations; joint 0 is the global root orientation.
        rest_joints: (52, 3) template joint positions.
        root_position: (T, 3) where the root joint goes.

    Returns:
        (T, 52, 3, 3) global rotation matrices and (T, 52, 3) joint positions.
    """
    mats = quat_to_matrix(local)
    n = local.shape[0]
    rot = np.empty((n, NUM_JOINTS, 3, 3))
    pos = np.empty((n, NUM_JOINTS, 3))
    rot[:, 0] = mats[:, 0]
    pos[:, 0] = root_position
    for j in range(1, NUM_JOINTS):  # parents always precede their children
        p = PARENTS[j]
        rot[:, j] = rot[:, p] @ mats[:, j]
        pos[:, j] = pos[:, p] + rot[:, p] @ (rest_joints[j] - rest_joints[p])
    return rot, pos
