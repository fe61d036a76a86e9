"""Building blocks of the procedural actions: performer style, time curves, rest poses.

Actions are functions of continuous time (seconds), so they can be sampled
at any frame rate; the curves here shape angles over that time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synthact.demo.kinematics import SIDES, BodyAngles

STANDING, SEATED = "standing", "seated"


@dataclass(frozen=True)
class Style:
    """How one performer moves; drawn once per sequence."""

    speed: float = 1.0  # cycle-frequency multiplier
    amplitude: float = 1.0  # size of gestures and bends
    stride: float = 1.0  # leg swing in locomotion
    arm_swing: float = 1.0
    arm_hang: float = 1.38  # rad the relaxed upper arm is lowered from the T-pose
    elbow_rest: float = 0.2
    lean: float = 0.03  # habitual forward lean of the trunk
    curl: float = 0.35  # relaxed finger curl
    right_handed: bool = True
    turn_angle: float = np.pi / 2
    jump_height: float = 0.18  # m
    raise_sideways: bool = False

    @classmethod
    def sample(cls, rng: np.random.Generator) -> Style:
        """A random but plausible performer."""
        u = rng.uniform
        return cls(
            speed=u(0.85, 1.15),
            amplitude=u(0.8, 1.15),
            stride=u(0.85, 1.15),
            arm_swing=u(0.5, 1.4),
            arm_hang=u(1.3, 1.45),
            elbow_rest=u(0.1, 0.35),
            lean=u(0.0, 0.08),
            curl=u(0.2, 0.5),
            right_handed=bool(rng.random() < 0.8),
            turn_angle=u(0.35, 0.75) * np.pi,
            jump_height=u(0.12, 0.25),
            raise_sideways=bool(rng.random() < 0.5),
        )


@dataclass(frozen=True)
class ActionFrames:
    """One action sampled at some times."""

    rotations: np.ndarray  # (T, 52, 4) local quaternions; joint 0 = pelvis tilt vs. heading
    yaw: np.ndarray  # (T,) heading change since the action began, radians, + turns left
    lift: np.ndarray  # (T,) lowest body point above the floor, m; > 0 only when airborne


# --------------------------------------------------------------------------- time shapes


def smoothstep(x: np.ndarray) -> np.ndarray:
    """0 below 0, 1 above 1, C1-smooth in between."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def ease(t: np.ndarray, t0: float, t1: float) -> np.ndarray:
    """Rises smoothly from 0 at ``t0`` to 1 at ``t1``."""
    return smoothstep((t - t0) / max(t1 - t0, 1e-9))


def window(t: np.ndarray, dur: float, rise: float) -> np.ndarray:
    """1 inside ``[0, dur]`` with smooth ramps of ``rise`` seconds at both ends."""
    rise = min(rise, dur / 2)
    return ease(t, 0.0, rise) * (1.0 - ease(t, dur - rise, dur))


def bump(t: np.ndarray, t0: float, t1: float) -> np.ndarray:
    """A sin^2 hump, 0 outside ``[t0, t1]`` and 1 at its middle."""
    x = np.clip((t - t0) / max(t1 - t0, 1e-9), 0.0, 1.0)
    return np.sin(np.pi * x) ** 2


def keys(t: np.ndarray, times: list[float], values: list[float]) -> np.ndarray:
    """Keyframes joined by smoothsteps (zero velocity at each key, like a held pose)."""
    out = np.full(t.shape, float(values[0]))
    for (t0, v0), (t1, v1) in zip(
        zip(times[:-1], values[:-1], strict=True), zip(times[1:], values[1:], strict=True), strict=True
    ):
        out = np.where(t >= t0, v0 + (v1 - v0) * ease(t, t0, t1), out)
    return out


def positive(x: np.ndarray) -> np.ndarray:
    """max(x, 0)."""
    return np.maximum(x, 0.0)


# --------------------------------------------------------------------------- rest poses


def standing(n: int, st: Style) -> BodyAngles:
    """Relaxed upright stance: arms hanging, slight lean, level gaze."""
    b = BodyAngles(n)
    b.bend[:] = st.lean
    b.nod[:] = -0.8 * st.lean
    for side in SIDES:
        b.arm[side].down[:] = st.arm_hang
        b.arm[side].elbow[:] = st.elbow_rest
        b.arm[side].curl[:] = st.curl
    return b


def flat_feet(b: BodyAngles, sides: tuple[str, ...] = SIDES) -> None:
    """Set the ankles so the soles stay parallel to the floor (pitch only)."""
    for side in sides:
        leg = b.leg[side]
        leg.ankle = leg.hip_flex - leg.knee - b.pelvis_tilt


def seat(b: BodyAngles, st: Style, c: np.ndarray) -> None:
    """Blend toward sitting on a chair (``c`` = 1): thighs level, hands on thighs."""
    for side in SIDES:
        b.leg[side].hip_flex = 1.5 * c
        b.leg[side].knee = 1.4 * c
        b.arm[side].forward = 0.55 * c
        b.arm[side].elbow = st.elbow_rest + 0.3 * c
    flat_feet(b)


def make_frames(b: BodyAngles, yaw: np.ndarray | None = None, lift: np.ndarray | None = None) -> ActionFrames:
    """Package body angles (and optional heading change and lift) as an action's output."""
    zero = np.zeros(b.n)
    return ActionFrames(b.to_quaternions(), zero if yaw is None else yaw, zero if lift is None else lift)
