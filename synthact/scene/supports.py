"""Supports under a body that sits, lies or climbs: where the motion rests its weight above the ground.

A take gets a seat where its body sits, judged from the posed body alone (not
from its labels): the lowest point of the hips is low (``SEAT_MAX_HEIGHT_M``)
and far from the feet (``OFF_FEET_M`` horizontally), which a body standing or
squatting on its own feet never is, for at least ``MIN_REST_S``. A squat keeps
its buttocks over its feet; a sitter's hang behind them, over the chair.

The seat is a box standing on the ground (z = 0), turned to face where the
feet are. Its top is the lowest the hips and thighs come in the frames where
the body rests on it (its *sitting frames*: within ``REST_BAND_M`` of their
lowest), so the body touches it and never sinks in; its footprint is the
contact patch of those frames (hips and thigh points near the top), grown by
``MARGIN_M`` and then cut back wherever another body part (calves, hands) would
pass through it in any frame of the take. ``fit`` measures both.

A take gets a bed where its body lies: the trunk (hips to neck) within
``LIE_MAX_TILT_DEG`` of horizontal, the hips' lowest point between
``BED_MIN_HEIGHT_M`` and ``BED_MAX_HEIGHT_M``, and the hips still (slower than
``STILL_MPS``) for at least ``MIN_REST_S``. Its top is the lowest the back, hips
and thighs come in its resting frames; its footprint covers every body point
within ``BED_REACH_M`` above that top (head, arms, legs laid on it), grown and
cut back like a seat's. A body lying lower lies on the floor: no bed.

A take gets a step under a foot that is planted above the ground: the sole's
lowest point above ``STEP_MIN_HEIGHT_M`` (and below ``STEP_MAX_HEIGHT_M``) with
the foot still for at least ``MIN_REST_S``, while the body neither sits nor
lies. Its top is the sole's lowest point, its footprint the sole's contact
patch, grown and cut back the same way. A walking foot is still only on the
ground, and a jumping foot is never still that long.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from synthact.body.skeleton import PART_NAMES

SEAT_MAX_HEIGHT_M = 0.65  # standing, the hips' lowest point is 0.75-0.85 m up
SEAT_MIN_HEIGHT_M = 0.2  # lower is sitting on the floor: no seat needed
OFF_FEET_M = 0.3  # a squat's buttocks stay within about 0.2 m of its feet
MIN_REST_S = 0.2
STILL_MPS = 0.1  # a resting body part drifts slower than this
LIE_MAX_TILT_DEG = 30.0  # a reclining sitter leans back about 45 deg or less far
BED_MIN_HEIGHT_M = 0.15  # lower is lying on the floor: no bed needed
BED_MAX_HEIGHT_M = 1.0
BED_REACH_M = 0.1
STEP_MIN_HEIGHT_M = 0.05
STEP_MAX_HEIGHT_M = 0.6
REST_BAND_M = 0.02
CONTACT_BAND_M = 0.03
MARGIN_M = 0.03
SINK_TOLERANCE_M = 0.01
_SHRINK_STEP_M = 0.01

_HIPS = PART_NAMES.index("hips")
_TORSO = PART_NAMES.index("torso")
_NECK = PART_NAMES.index("neck")
_THIGHS = (PART_NAMES.index("left_thigh"), PART_NAMES.index("right_thigh"))
_FEET = (PART_NAMES.index("left_foot"), PART_NAMES.index("right_foot"))
_CONTACT = {"seat": (_HIPS, *_THIGHS), "bed": (_HIPS, _TORSO, *_THIGHS), "step": _FEET}


MAX_POSED_FPS = 15.0  # a take is posed at most this often to find its seats
MAX_POSED_FRAMES = 1500  # and at most this many frames (about 150 MB of vertices)


class Posed(Protocol):
    @property
    def vertices(self) -> np.ndarray: ...


class Poser(Protocol):
    """A body model (``body.smplh.BodyModel``): poses frames into vertices."""

    def pose(self, poses: np.ndarray, trans: np.ndarray, betas: np.ndarray) -> Posed: ...


@dataclass(frozen=True)
class Prop:
    """A box in the scene that is not the person.

    Attributes:
        kind: What it stands for: ``"seat"``, ``"bed"`` or ``"step"``.
        centre: Box centre, world metres (its bottom on the ground).
        size: Extent along its own forward, sideways and up axes, metres.
        yaw_deg: Turn of its forward axis from world +X about Z.
    """

    kind: str
    centre: tuple[float, float, float]
    size: tuple[float, float, float]
    yaw_deg: float

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "centre": list(self.centre), "size": list(self.size), "yaw_deg": self.yaw_deg}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Prop:
        centre, size = (tuple(float(v) for v in data[k]) for k in ("centre", "size"))
        return cls(
            str(data["kind"]), (centre[0], centre[1], centre[2]), (size[0], size[1], size[2]), float(data["yaw_deg"])
        )

    def local(self, points: np.ndarray) -> np.ndarray:
        """``points`` (..., 3) in the box's frame: forward, sideways, up from its centre."""
        yaw = math.radians(self.yaw_deg)
        rel = np.asarray(points, np.float64) - np.asarray(self.centre)
        c, s = math.cos(yaw), math.sin(yaw)
        return np.stack([c * rel[..., 0] + s * rel[..., 1], -s * rel[..., 0] + c * rel[..., 1], rel[..., 2]], axis=-1)

    def depth_inside(self, points: np.ndarray) -> np.ndarray:
        """How far each point lies inside the box (0 outside): its distance to the nearest face."""
        half = np.asarray(self.size) / 2
        inside = half - np.abs(self.local(points))
        return np.clip(inside.min(axis=-1), 0.0, None)


@dataclass(frozen=True)
class SeatFit:
    """How well a seat carries its sitter, over the sitting frames.

    Attributes:
        frames: Number of sitting frames.
        max_gap_m: Largest gap between the seat's top and the lowest hips/thigh point.
        max_sink_m: Deepest any body point goes into the seat, over every frame of the take.
    """

    frames: int
    max_gap_m: float
    max_sink_m: float


def sitting_spans(vertices: np.ndarray, vertex_part: np.ndarray, fps: float) -> list[tuple[int, int]]:
    """[start, end) frame spans where the body sits on something (module doc), at least ``MIN_REST_S`` long."""
    return _spans(_sits(vertices, vertex_part), fps)


def lying_spans(vertices: np.ndarray, vertex_part: np.ndarray, fps: float) -> list[tuple[int, int]]:
    """[start, end) frame spans where the body lies on something (module doc), at least ``MIN_REST_S`` long."""
    return _spans(_lies(vertices, vertex_part, fps), fps)


def _sits(vertices: np.ndarray, vertex_part: np.ndarray) -> np.ndarray:
    low, offset = _seat_signals(vertices, vertex_part)
    return (low < SEAT_MAX_HEIGHT_M) & (low > SEAT_MIN_HEIGHT_M) & (offset > OFF_FEET_M) & ~_flat(vertices, vertex_part)


def _lies(vertices: np.ndarray, vertex_part: np.ndarray, fps: float) -> np.ndarray:
    low, _ = _seat_signals(vertices, vertex_part)
    hips = np.asarray(vertices)[:, vertex_part == _HIPS].mean(axis=1)
    high_enough = (low > BED_MIN_HEIGHT_M) & (low < BED_MAX_HEIGHT_M)
    return _flat(vertices, vertex_part) & high_enough & (_speed(hips, fps) < STILL_MPS)


def _flat(vertices: np.ndarray, vertex_part: np.ndarray) -> np.ndarray:
    """Per frame: whether the trunk, hips to neck, lies within ``LIE_MAX_TILT_DEG`` of horizontal."""
    v = np.asarray(vertices)
    trunk = v[:, vertex_part == _NECK].mean(axis=1) - v[:, vertex_part == _HIPS].mean(axis=1)
    tilt = np.degrees(np.arctan2(np.abs(trunk[:, 2]), np.hypot(trunk[:, 0], trunk[:, 1])))
    return np.asarray(tilt < LIE_MAX_TILT_DEG)


def _speed(track: np.ndarray, fps: float) -> np.ndarray:
    """Per frame: how fast a (T, 3) track moves, metres per second (a single frame: 0)."""
    if len(track) < 2:
        return np.zeros(len(track))
    return np.linalg.norm(np.gradient(np.asarray(track, np.float64), axis=0), axis=1) * fps


def _spans(on: np.ndarray, fps: float) -> list[tuple[int, int]]:
    """[start, end) spans where ``on`` holds for at least ``MIN_REST_S``."""
    spans, start = [], None
    for t, value in enumerate([*on.tolist(), False]):
        if value and start is None:
            start = t
        elif not value and start is not None:
            if t - start >= max(1, round(MIN_REST_S * fps)):
                spans.append((start, t))
            start = None
    return spans


def place_seats(vertices: np.ndarray, vertex_part: np.ndarray, fps: float) -> tuple[Prop, ...]:
    """One seat per place the body sits (``sitting_spans``), fitted to it; sitting twice in one place, one seat."""
    return _one_per_place(vertices, vertex_part, sitting_spans(vertices, vertex_part, fps), _fit_seat)


def place_beds(vertices: np.ndarray, vertex_part: np.ndarray, fps: float) -> tuple[Prop, ...]:
    """One bed per place the body lies (``lying_spans``), fitted to it; lying twice in one place, one bed."""
    return _one_per_place(vertices, vertex_part, lying_spans(vertices, vertex_part, fps), _fit_bed)


def _one_per_place(
    vertices: np.ndarray,
    vertex_part: np.ndarray,
    spans: list[tuple[int, int]],
    fit: Callable[[np.ndarray, np.ndarray, tuple[int, int]], Prop | None],
) -> tuple[Prop, ...]:
    props: list[Prop] = []
    for span in spans:
        prop = fit(vertices, vertex_part, span)
        if prop is not None and not any(_same_place(prop, other) for other in props):
            props.append(prop)
    return tuple(props)


def place_steps(vertices: np.ndarray, vertex_part: np.ndarray, fps: float) -> tuple[Prop, ...]:
    """One step per place a foot is planted above the ground (module doc); a place planted twice, one step."""
    resting = _sits(vertices, vertex_part) | _lies(vertices, vertex_part, fps)
    steps: list[Prop] = []
    for foot in _FEET:
        for span in _spans(_planted_above_ground(vertices, vertex_part, foot, fps) & ~resting, fps):
            step = _fit_step(vertices, vertex_part, foot, span)
            if step is not None and not any(_same_place(step, other) for other in steps):
                steps.append(step)
    return tuple(steps)


def place_supports(vertices: np.ndarray, vertex_part: np.ndarray, fps: float) -> tuple[Prop, ...]:
    """Every support the body needs: its seats, beds and steps."""
    args = (vertices, vertex_part, fps)
    return place_seats(*args) + place_beds(*args) + place_steps(*args)


def supports_for_take(
    model: Poser, poses: np.ndarray, trans: np.ndarray, betas: np.ndarray, vertex_part: np.ndarray, fps: float
) -> tuple[Prop, ...]:
    """The supports a take needs: ``place_supports`` on its body, posed at most ``MAX_POSED_FPS`` and
    ``MAX_POSED_FRAMES``."""
    step = max(1, math.ceil(fps / MAX_POSED_FPS), math.ceil(len(poses) / MAX_POSED_FRAMES))
    vertices = model.pose(poses[::step], trans[::step], betas).vertices
    return place_supports(vertices, vertex_part, fps / step)


def _same_place(a: Prop, b: Prop) -> bool:
    # Two feet side by side stand about 0.2 m apart, each on its own step.
    near = 0.05 if a.kind == "step" else 0.2
    return math.dist(a.centre[:2], b.centre[:2]) < near and abs(a.size[2] - b.size[2]) < 0.05


def _planted_above_ground(vertices: np.ndarray, vertex_part: np.ndarray, foot: int, fps: float) -> np.ndarray:
    points = np.asarray(vertices)[:, vertex_part == foot]
    sole = points[..., 2].min(axis=1)
    still = _speed(points.mean(axis=1), fps) < STILL_MPS
    return np.asarray(still & (sole > STEP_MIN_HEIGHT_M) & (sole < STEP_MAX_HEIGHT_M))


def sitting_frames(vertices: np.ndarray, vertex_part: np.ndarray, span: tuple[int, int]) -> np.ndarray:
    """Frames of ``span`` where the body rests: its hips within ``REST_BAND_M`` of their lowest there."""
    low, _ = _seat_signals(vertices[span[0] : span[1]], vertex_part)
    return span[0] + np.nonzero(low <= low.min() + REST_BAND_M)[0]


def resting_frames(vertices: np.ndarray, vertex_part: np.ndarray, span: tuple[int, int]) -> np.ndarray:
    """Frames of a lying ``span`` where the body rests: its hips within ``REST_BAND_M`` of their lowest there."""
    return sitting_frames(vertices, vertex_part, span)


def fit(seat: Prop, vertices: np.ndarray, vertex_part: np.ndarray, frames: Sequence[int]) -> SeatFit:
    """The prop's gap to the body parts it carries (by its kind) in ``frames``, and the deepest sink into it over
    the whole take."""
    contact = np.isin(vertex_part, _CONTACT[seat.kind])
    top = seat.centre[2] + seat.size[2] / 2
    over = [_lowest_over(seat, vertices[t][contact]) for t in frames]
    gap = max(o - top for o in over if o is not None) if any(o is not None for o in over) else math.inf
    sink = max(float(seat.depth_inside(v).max()) for v in vertices)
    return SeatFit(frames=len(frames), max_gap_m=round(float(gap), 4), max_sink_m=round(sink, 4))


def _lowest_over(seat: Prop, points: np.ndarray) -> float | None:
    """The lowest of ``points`` above the seat's footprint, or None if none is over it."""
    local = seat.local(points)
    half = np.asarray(seat.size) / 2
    over = (np.abs(local[:, 0]) <= half[0]) & (np.abs(local[:, 1]) <= half[1])
    return float(points[over, 2].min()) if over.any() else None


def _seat_signals(vertices: np.ndarray, vertex_part: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per frame: the hips' lowest height, and its horizontal distance from the feet's centre."""
    hips = np.asarray(vertices)[:, vertex_part == _HIPS]
    feet = np.asarray(vertices)[:, np.isin(vertex_part, _FEET)]
    lowest = np.argmin(hips[..., 2], axis=1)
    bottom = hips[np.arange(len(hips)), lowest]
    offset = np.linalg.norm(bottom[:, :2] - feet[..., :2].mean(axis=1), axis=1)
    return bottom[:, 2], offset


def _fit_seat(vertices: np.ndarray, vertex_part: np.ndarray, span: tuple[int, int]) -> Prop | None:
    frames = sitting_frames(vertices, vertex_part, span)
    contact = np.isin(vertex_part, _CONTACT["seat"])
    top = float(min(vertices[t][contact][:, 2].min() for t in frames))
    feet = np.isin(vertex_part, _FEET)
    patch = np.concatenate([v[contact][v[contact][:, 2] <= top + CONTACT_BAND_M] for v in vertices[frames]])
    forward = vertices[frames][:, feet, :2].mean(axis=(0, 1)) - patch[:, :2].mean(axis=0)
    return _fit_box("seat", vertices, patch, top, _yaw(forward), min_side=0.1)


def _fit_bed(vertices: np.ndarray, vertex_part: np.ndarray, span: tuple[int, int]) -> Prop | None:
    frames = resting_frames(vertices, vertex_part, span)
    contact = np.isin(vertex_part, _CONTACT["bed"])
    top = float(min(vertices[t][contact][:, 2].min() for t in frames))
    laid = np.concatenate([v[v[:, 2] <= top + BED_REACH_M] for v in vertices[frames]])
    rest = vertices[frames]
    along = rest[:, vertex_part == _NECK, :2].mean(axis=(0, 1)) - rest[:, vertex_part == _HIPS, :2].mean(axis=(0, 1))
    return _fit_box("bed", vertices, laid, top, _yaw(along), min_side=0.3)


def _fit_step(vertices: np.ndarray, vertex_part: np.ndarray, foot: int, span: tuple[int, int]) -> Prop | None:
    soles = np.asarray(vertices[span[0] : span[1]])[:, vertex_part == foot]
    top = float(soles[..., 2].min())
    patch = soles[soles[..., 2] <= top + CONTACT_BAND_M]
    # The sole's long axis: the direction its contact points spread most.
    spread = np.linalg.eigh(np.cov(patch[:, :2].T))[1][:, -1] if len(patch) > 2 else np.array([1.0, 0.0])
    return _fit_box("step", vertices, patch, top, _yaw(spread), min_side=0.05)


def _yaw(direction: np.ndarray) -> float:
    return round(math.degrees(math.atan2(float(direction[1]), float(direction[0]))), 3)


def _fit_box(
    kind: str, vertices: np.ndarray, patch: np.ndarray, top: float, yaw: float, min_side: float
) -> Prop | None:
    """A box of ``kind`` from the ground to ``top`` over ``patch`` (grown by ``MARGIN_M``), cut back until no body
    point in any frame sinks in deeper than ``SINK_TOLERANCE_M``; None where less than ``min_side`` wide is left."""
    probe = Prop(kind, (*patch[:, :2].mean(axis=0), top / 2), (1.0, 1.0, top), yaw)
    local = probe.local(patch)
    lo = local[:, :2].min(axis=0) - MARGIN_M
    hi = local[:, :2].max(axis=0) + MARGIN_M
    box = _box(probe, lo, hi, top)
    # The box only shrinks: the body points that could ever sink into it are found once.
    points = np.asarray(vertices, np.float64).reshape(-1, 3)
    reach = math.hypot(*box.size[:2]) / 2
    points = points[(points[:, 2] < top) & (np.hypot(*(points[:, :2] - box.centre[:2]).T) < reach)]
    while len(points) and float(box.depth_inside(points).max()) > SINK_TOLERANCE_M:
        lo, hi = _shrink_towards(box, points, lo, hi, probe)
        if (hi - lo).min() < min_side:
            return None  # nothing big enough fits under this body
        box = _box(probe, lo, hi, top)
    return box


def _box(probe: Prop, lo: np.ndarray, hi: np.ndarray, top: float) -> Prop:
    """The box spanning [lo, hi] in ``probe``'s frame, from the ground up to ``top``."""
    mid = (lo + hi) / 2
    yaw = math.radians(probe.yaw_deg)
    c, s = math.cos(yaw), math.sin(yaw)
    x = probe.centre[0] + c * mid[0] - s * mid[1]
    y = probe.centre[1] + s * mid[0] + c * mid[1]
    size = (round(float(hi[0] - lo[0]), 4), round(float(hi[1] - lo[1]), 4), round(top, 4))
    return Prop(probe.kind, (round(x, 4), round(y, 4), round(top / 2, 4)), size, probe.yaw_deg)


def _shrink_towards(
    seat: Prop, points: np.ndarray, lo: np.ndarray, hi: np.ndarray, probe: Prop
) -> tuple[np.ndarray, np.ndarray]:
    """Move a side of the box inwards past the deepest sinking point: a seat's front for calves, else the nearest."""
    where = points[int(np.argmax(seat.depth_inside(points)))]
    point = probe.local(where[None])[0, :2]
    lo, hi = lo.copy(), hi.copy()
    if seat.kind == "seat" and point[0] > (lo[0] + hi[0]) / 2:  # the front half: calves under the knees
        hi[0] = max(point[0] - _SHRINK_STEP_M, lo[0])
        return lo, hi
    gaps = np.concatenate([point - lo, hi - point])  # distance to each of the four sides
    side = int(np.argmin(gaps))
    if side < 2:
        lo[side] = min(point[side] + _SHRINK_STEP_M, hi[side])
    else:
        hi[side - 2] = max(point[side - 2] - _SHRINK_STEP_M, lo[side - 2])
    return lo, hi
