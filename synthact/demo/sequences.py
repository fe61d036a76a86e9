"""Chain library actions into multi-action sequences that move through the world.

A sequence is planned as a list of actions (respecting standing/seated
states), each with a duration, then sampled at one frame rate:

- body rotations of neighbouring actions are blended by slerp over
  ``BLEND_SECONDS`` around each boundary;
- the heading accumulates the yaw each action makes;
- the pelvis moves over the floor so that the lowest point of the feet stays
  where it is ("foot locking"); walking therefore translates along the
  heading at the speed its stride implies, and a turn pivots on the stance foot.

Everything here is in the template frame (Y-up, facing +Z at heading 0).
``dataset`` turns it into AMASS's Z-up world.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synthact.demo.kinematics import forward_kinematics, joint_index, quat_axis, quat_mul, quat_slerp
from synthact.demo.motions import ACTIONS
from synthact.demo.posing import STANDING, Style, smoothstep

BLEND_SECONDS = 0.3
STEPS_PER_SECOND = 20  # durations are multiples of 1/20 s, so 60, 100 and 120 fps give whole frames
_HEEL_BACK, _TOE_FRONT, _SOLE_BELOW_FOOT = 0.04, 0.06, 0.02  # m, sole points around the foot joints


@dataclass(frozen=True)
class Segment:
    """One action of a sequence and its time span (seconds)."""

    action: str
    start: float
    end: float


@dataclass(frozen=True)
class SequenceMotion:
    """A composed sequence, sampled at ``fps``, in the template frame."""

    fps: float
    segments: tuple[Segment, ...]
    rotations: np.ndarray  # (T, 52, 4); joint 0 is the global root orientation (heading and tilt)
    pelvis_xz: np.ndarray  # (T, 2) pelvis position on the floor plane (template x, z), m
    heading: np.ndarray  # (T,) radians about the vertical, + = left
    lift: np.ndarray  # (T,) height of the lowest body point above the floor, m

    @property
    def num_frames(self) -> int:
        """Number of frames."""
        return self.rotations.shape[0]

    @property
    def duration(self) -> float:
        """Length in seconds (frames / fps)."""
        return self.num_frames / self.fps


# --------------------------------------------------------------------------- planning


def plan_actions(rng: np.random.Generator, anchors: list[str], num_actions: int) -> list[str]:
    """Order actions so that each starts in the state the previous one ended in.

    Args:
        rng: Source of the random fill-up actions.
        anchors: Actions that must appear, in order; bridging actions
            (sit down / stand up) are inserted where states do not match.
        num_actions: Desired length; more if the anchors need it.

    Returns:
        Action names; consecutive actions never repeat.
    """
    names: list[str] = []
    for anchor in anchors:
        if names and ACTIONS[names[-1]].end_state != ACTIONS[anchor].start_state:
            names.append("stand_up" if ACTIONS[anchor].start_state == STANDING else "sit_down")
        if not names or names[-1] != anchor:
            names.append(anchor)
    while len(names) < num_actions:
        state = ACTIONS[names[-1]].end_state
        options = [a for a, s in ACTIONS.items() if s.start_state == state and a != names[-1]]
        names.append(str(rng.choice(options)))
    return names


def plan_segments(rng: np.random.Generator, names: list[str]) -> tuple[Segment, ...]:
    """Draw a duration for each action and lay the actions end to end."""
    segments, start_steps = [], 0
    for name in names:
        spec = ACTIONS[name]
        # Integer steps keep the boundaries exact (no float drift over a sequence).
        steps = round(rng.uniform(spec.min_dur, spec.max_dur) * STEPS_PER_SECOND)
        segments.append(Segment(name, start_steps / STEPS_PER_SECOND, (start_steps + steps) / STEPS_PER_SECOND))
        start_steps += steps
    return tuple(segments)


# --------------------------------------------------------------------------- composing


def compose(
    segments: tuple[Segment, ...], style: Style, fps: float, rest_joints: np.ndarray, heading0: float = 0.0
) -> SequenceMotion:
    """Sample a planned sequence at ``fps``.

    Args:
        segments: Contiguous actions from ``plan_segments``.
        style: The performer.
        fps: Frame rate; motion is defined in continuous time, so any works.
        rest_joints: (52, 3) template joints of the performer (for foot locking).
        heading0: Initial heading, radians.
    """
    num_frames = round(segments[-1].end * fps)
    t = np.arange(num_frames) / fps
    parts = [ACTIONS[s.action].fn(np.clip(t - s.start, 0.0, s.end - s.start), s.end - s.start, style) for s in segments]
    rotations = _blend([p.rotations for p in parts], segments, t)
    # Each action's yaw is constant outside its span (its time is clipped), so they add up.
    heading = heading0 + np.sum([p.yaw for p in parts], axis=0)
    lift = np.sum([p.lift for p in parts], axis=0)
    rotations[:, 0] = quat_mul(quat_axis(1, heading), rotations[:, 0])
    pelvis_xz = foot_locked_path(rotations, rest_joints, lift)
    return SequenceMotion(float(fps), segments, rotations, pelvis_xz, heading, lift)


def _blend(rotations: list[np.ndarray], segments: tuple[Segment, ...], t: np.ndarray) -> np.ndarray:
    """Each frame from its own action, slerped with the neighbour near boundaries."""
    starts = np.array([s.start for s in segments])
    index = np.clip(np.searchsorted(starts, t, side="right") - 1, 0, len(segments) - 1)
    out = np.take_along_axis(np.stack(rotations), index[None, :, None, None], axis=0)[0]
    half = BLEND_SECONDS / 2
    for k, boundary in enumerate(starts[1:]):
        near = np.abs(t - boundary) < half
        weight = smoothstep((t[near] - (boundary - half)) / BLEND_SECONDS)[:, None]
        out[near] = quat_slerp(rotations[k][near], rotations[k + 1][near], weight)
    return out


# --------------------------------------------------------------------------- feet


def sole_points(rot: np.ndarray, pos: np.ndarray, rest_joints: np.ndarray) -> np.ndarray:
    """Heel and toe points of both feet, ``(T, 4, 3)``: L heel, L toe, R heel, R toe."""
    points = []
    for side in ("left", "right"):
        ankle, foot = joint_index(f"{side}_ankle"), joint_index(f"{side}_foot")
        sole_y = rest_joints[foot, 1] - _SOLE_BELOW_FOOT
        heel = np.array([rest_joints[ankle, 0], sole_y, rest_joints[ankle, 2] - _HEEL_BACK])
        toe = np.array([rest_joints[foot, 0], sole_y, rest_joints[foot, 2] + _TOE_FRONT])
        # Each point rides rigidly on its bone: heel on the ankle, toe on the foot joint.
        points.append(pos[:, ankle] + rot[:, ankle] @ (heel - rest_joints[ankle]))
        points.append(pos[:, foot] + rot[:, foot] @ (toe - rest_joints[foot]))
    return np.stack(points, axis=1)


def foot_locked_path(rotations: np.ndarray, rest_joints: np.ndarray, lift: np.ndarray) -> np.ndarray:
    """Pelvis floor positions ``(T, 2)`` that keep the lowest sole point fixed.

    Between two frames the pelvis moves by minus the motion (relative to the
    pelvis) of whichever sole point was lowest at the first frame. While
    airborne (``lift > 0``) the pelvis keeps still horizontally: jumps are
    vertical.
    """
    n = rotations.shape[0]
    rot, pos = forward_kinematics(rotations, rest_joints, np.zeros((n, 3)))
    soles = sole_points(rot, pos, rest_joints)
    lowest = np.argmin(soles[..., 1], axis=1)
    floor = soles[..., [0, 2]]  # the floor plane is template (x, z)
    frames = np.arange(n - 1)
    step = -(floor[frames + 1, lowest[:-1]] - floor[frames, lowest[:-1]])
    airborne = (lift[:-1] > 0) | (lift[1:] > 0)
    step[airborne] = 0.0
    return np.concatenate([np.zeros((1, 2)), np.cumsum(step, axis=0)])
