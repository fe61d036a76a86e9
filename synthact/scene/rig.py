"""The view rig: where each view's camera stands, for every frame of a take.

Two modes (``rig.mode``):

- **actor**: views are defined relative to the actor: azimuth 0 is the
  direction the actor faces at the take's first frame (the "front" view looks
  at their face), 90 is their left side. Each take draws distance, height and
  azimuth jitter per view. Optionally (the NTU preset) a take also draws, once
  for all its views, a capture *setup* (one camera height and distance shared
  by every view) and which view the actor *faces* (the rig turns so that view
  is in front of them), plus a jitter of that turn.
- **room**: views stand at fixed positions of a room centred on the take's
  path centre (the Smarthome preset), looking at the room's centre unless they
  carry their own pan and tilt; a take draws small per-view jitters of
  position, pan and tilt.

And two camera motions (``rig.camera_motion``) for the actor mode:

- **static**: the rig is placed once per take around the path centre, far
  enough that the take's whole path stays in view;
- **follow**: the rig moves with the actor's smoothed pelvis path, like a
  camera operator: it keeps the drawn distance, height and azimuth, with no
  shake. Distance is raised where the pelvis strays from the smoothed path.
  With several bodies it follows the group's centre, and the distance is
  raised until the farthest body stays in frame.

Room cameras never move. The plan draws every random value
(``takes.views.plan_views``) into a ``ViewPlan`` per view; the worker turns the
draws into per-frame cameras (``view_cameras``), because following needs the
posed pelvis path. This module knows no take table: a camera path needs only a
take's frame rate and path (``TakePath``), so the scene stays below the takes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from synthact.scene.cameras import intrinsics, look_at, vertical_fov_deg
from synthact.scene.framing import max_distance_for_share

# Half-width and height margins (metres) that keep limbs in frame: an arm
# stretched sideways reaches ~0.9 m from the pelvis, the head ~0.9 m above it.
BODY_HALF_WIDTH_M = 0.9
BODY_HALF_HEIGHT_M = 1.0
PERSON_HEIGHT_M = 1.7  # the standing person the size rule measures


class TakePath(Protocol):
    """What a camera path needs of a take (``takes.records.Take`` has it)."""

    @property
    def fps(self) -> float: ...

    @property
    def path_center(self) -> tuple[float, float]: ...

    @property
    def path_radius(self) -> float: ...


@dataclass(frozen=True)
class ViewSpec:
    """One view of the rig (``rig.views`` in the config).

    Attributes:
        name: View name.
        azimuth_deg: actor mode: angle around the actor (0 in front, 90 on
            their left). room mode: the camera's pan from the room's +X, or
            None to look at the room centre.
        position_m: room mode: the camera's XY in room coordinates.
        height_m: This camera's height, instead of a draw from ``Rig.height_m``.
        tilt_deg: room mode: downward tilt, or None to look at the room centre.
    """

    name: str
    azimuth_deg: float | None = None
    position_m: tuple[float, float] | None = None
    height_m: float | None = None
    tilt_deg: float | None = None

    @classmethod
    def from_config(cls, view: dict[str, Any]) -> ViewSpec:
        def number(key: str) -> float | None:
            return float(view[key]) if view.get(key) is not None else None

        position = view.get("position_m")
        return cls(
            name=view["name"],
            azimuth_deg=number("azimuth_deg"),
            position_m=(float(position[0]), float(position[1])) if position is not None else None,
            height_m=number("height_m"),
            tilt_deg=number("tilt_deg"),
        )


@dataclass(frozen=True)
class Setup:
    """A capture setup: every view's camera height and distance for one take."""

    height_m: float
    distance_m: float


@dataclass(frozen=True)
class Rig:
    views: tuple[ViewSpec, ...]
    distance_m: tuple[float, float]
    height_m: tuple[float, float]
    azimuth_jitter_deg: float
    hfov_deg: float
    look_at_height_m: float
    width: int
    height: int
    mode: str = "actor"  # actor | room
    camera_motion: str = "static"  # static | follow (actor mode)
    follow_smoothing_s: float = 1.0
    tilt_jitter_deg: float = 0.0  # room mode
    position_jitter_m: float = 0.0  # room mode
    setups: tuple[Setup, ...] = ()  # actor mode: one per take, shared by its views
    facing: tuple[str, ...] = ()  # actor mode: view names the actor may face
    facing_jitter_deg: float = 0.0  # actor mode: per take turn of the whole rig
    hfov_range_deg: tuple[float, float] | None = None  # per view and take, instead of hfov_deg
    min_person_share: float = 0.0  # actor mode: nearest share of the image height a standing person fills

    @classmethod
    def from_config(cls, rig: dict[str, Any], render: dict[str, Any]) -> Rig:
        return cls(
            views=tuple(ViewSpec.from_config(v) for v in rig["views"]),
            distance_m=tuple(rig["distance_m"]),
            height_m=tuple(rig["height_m"]),
            azimuth_jitter_deg=float(rig["azimuth_jitter_deg"]),
            hfov_deg=float(rig["hfov_deg"]),
            look_at_height_m=float(rig["look_at_height_m"]),
            width=int(render["width"]),
            height=int(render["height"]),
            mode=rig.get("mode", "actor"),
            camera_motion=resolved_camera_motion(rig),
            follow_smoothing_s=float(rig.get("follow_smoothing_s", 1.0)),
            tilt_jitter_deg=float(rig.get("tilt_jitter_deg", 0.0)),
            position_jitter_m=float(rig.get("position_jitter_m", 0.0)),
            setups=tuple(Setup(float(s["height_m"]), float(s["distance_m"])) for s in rig.get("setups", ())),
            facing=tuple(rig.get("facing", ())),
            facing_jitter_deg=float(rig.get("facing_jitter_deg", 0.0)),
            hfov_range_deg=tuple(rig["hfov_range_deg"]) if rig.get("hfov_range_deg") else None,
            min_person_share=float(rig.get("min_person_share", 0.0)),
        )

    @property
    def draws_per_take(self) -> bool:
        """Whether takes draw a setup, a facing or a turn shared by their views."""
        return bool(self.setups or self.facing or self.facing_jitter_deg)

    def K(self, hfov_deg: float | None = None) -> np.ndarray:  # noqa: N802  K: the intrinsic matrix, as in the papers
        return intrinsics(self.width, self.height, self.hfov_deg if hfov_deg is None else hfov_deg)


def resolved_camera_motion(rig: dict[str, Any]) -> str:
    """``auto`` follows the actor in actor mode; room cameras are fixed."""
    motion = rig.get("camera_motion", "auto")
    if motion == "auto":
        return "follow" if rig.get("mode", "actor") == "actor" else "static"
    return str(motion)


@dataclass(frozen=True)
class ViewPlan:
    """One view's drawn placement for one take: what the worker turns into cameras.

    Attributes:
        name: The view.
        seed: The renderer's noise seed for this view.
        camera_motion: ``static`` or ``follow``.
        azimuth_deg: World azimuth of the camera around the actor (actor mode) or
            around the room centre (room mode), degrees counter-clockwise from +X.
        distance_m: Drawn horizontal distance (actor mode; raised to fit, see
            ``view_cameras``) or distance from the room centre (room mode).
        height_m: Camera height.
        placement: Every other drawn value (module doc), JSON-ready.
    """

    name: str
    seed: int
    camera_motion: str
    azimuth_deg: float
    distance_m: float
    height_m: float
    placement: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "seed": self.seed,
            "camera_motion": self.camera_motion,
            "azimuth_deg": self.azimuth_deg,
            "distance_m": self.distance_m,
            "height_m": self.height_m,
            "placement": self.placement,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ViewPlan:
        return cls(**data)


def min_distance(rig: Rig, path_radius: float, hfov_deg: float | None = None) -> float:
    """Closest distance at which a body within ``path_radius`` of the aim point stays in frame."""
    hfov = rig.hfov_deg if hfov_deg is None else hfov_deg
    half_h = math.radians(hfov) / 2
    half_v = math.radians(vertical_fov_deg(rig.width, rig.height, hfov)) / 2
    fit_width = (path_radius + BODY_HALF_WIDTH_M) / math.tan(half_h)
    fit_height = BODY_HALF_HEIGHT_M / math.tan(half_v)
    return path_radius + max(fit_width, fit_height)


# --- per-frame cameras (the worker) -------------------------------------------------


@dataclass(frozen=True)
class CameraPath:
    """A view's camera at every frame of a take: intrinsics and world->camera extrinsics.

    Attributes:
        K: (3, 3) intrinsics (fixed over the take).
        R: (T, 3, 3) rotations; t: (T, 3) translations (OpenCV, ``X_cam = R X_world + t``).
        distance_m: The horizontal distance actually used (actor mode: the drawn one,
            raised where the body would leave the frame).
    """

    K: np.ndarray
    R: np.ndarray
    t: np.ndarray
    distance_m: float


def smooth_path(xy: np.ndarray, sigma_frames: float) -> np.ndarray:
    """Gaussian-smoothed (T, 2) path; edges extend the first and last position (no pull inwards)."""
    xy = np.asarray(xy, dtype=np.float64)
    if sigma_frames <= 0 or len(xy) < 2:
        return xy.copy()
    radius = math.ceil(3 * sigma_frames)
    offsets = np.arange(-radius, radius + 1)
    weights = np.exp(-0.5 * (offsets / sigma_frames) ** 2)
    weights /= weights.sum()
    padded = np.concatenate([np.repeat(xy[:1], radius, 0), xy, np.repeat(xy[-1:], radius, 0)])
    return np.stack([np.convolve(padded[:, k], weights, mode="valid") for k in range(2)], axis=1)


def group_centre(pelvis_xy: np.ndarray, present: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(T, 2) mean XY of the bodies present at each frame and (T,) how far the farthest of them is from it.

    A frame without any body present takes the next frame that has one (the last such
    frame past the end; body 0's pelvis where none has), so a camera that follows the
    group does not swing through a gap.
    """
    shown = np.asarray(present, bool)
    xy = np.where(shown[..., None], np.asarray(pelvis_xy, dtype=np.float64), 0.0)  # absent: placeholders
    count = shown.sum(axis=1)
    with np.errstate(invalid="ignore"):
        centre = (xy * shown[..., None]).sum(axis=1) / count[:, None]
    spread = np.where(shown, np.linalg.norm(xy - centre[:, None], axis=-1), 0.0).max(axis=1)
    seen = np.flatnonzero(count > 0)
    if not len(seen):
        return xy[:, 0].copy(), np.zeros(len(xy))
    nearest = seen[np.clip(np.searchsorted(seen, np.arange(len(xy))), 0, len(seen) - 1)]
    gap = count == 0
    centre[gap], spread[gap] = centre[nearest[gap]], spread[nearest[gap]]
    return centre, spread


def view_cameras(
    rig: Rig, view: ViewPlan, take: TakePath, pelvis_xy: np.ndarray, present: np.ndarray | None = None
) -> CameraPath:
    """Every frame's camera of one view of ``take``.

    With several bodies a camera frames the group: a following camera aims at the
    mean of the present pelvises, and its distance keeps the farthest body in view
    (the group's spread is added to how far the aim strays), as a static camera
    keeps every body's path in view.

    Args:
        rig: The rig (sizes, field of view, look-at height).
        view: The view's drawn placement (``plan_views``).
        take: The take (path centre and radius for static cameras).
        pelvis_xy: (T, 2) world XY of the rendered body's pelvis at each take frame,
            or (T, P, 2) of every body's.
        present: (T, P) bool, which bodies each frame shows (with (T, P, 2) pelvises;
            default: all).
    """
    pelvis_xy = np.asarray(pelvis_xy, dtype=np.float64)
    spread, reach = np.zeros(len(pelvis_xy)), take.path_radius
    if pelvis_xy.ndim == 3:
        shown = np.ones(pelvis_xy.shape[:2], bool) if present is None else np.asarray(present, bool)
        if pelvis_xy.shape[1] == 1 and shown.all():  # one body, always there: as ever
            pelvis_xy = pelvis_xy[:, 0]
        else:
            reach = _static_reach(take, pelvis_xy, shown)
            pelvis_xy, spread = group_centre(pelvis_xy, shown)
    T = len(pelvis_xy)
    hfov = float(view.placement.get("hfov_deg", rig.hfov_deg))
    K = rig.K(hfov)
    if view.placement.get("mode") == "room":
        R, t = _room_camera(view, take)
        return CameraPath(K, np.repeat(R[None], T, 0), np.repeat(t[None], T, 0), view.distance_m)
    if view.camera_motion == "follow":
        aim = smooth_path(pelvis_xy, rig.follow_smoothing_s * take.fps)
        stray = float((np.linalg.norm(np.asarray(pelvis_xy) - aim, axis=1) + spread).max()) if T else 0.0
    else:
        aim = np.repeat(np.asarray(take.path_center, dtype=np.float64)[None], T, 0)
        stray = reach
    distance = camera_distance(rig, view.distance_m, stray, K)
    a = math.radians(view.azimuth_deg)
    offset = np.array([distance * math.cos(a), distance * math.sin(a)])
    R = np.empty((T, 3, 3))
    t = np.empty((T, 3))
    target_z = float(view.placement.get("look_at_height_m", rig.look_at_height_m))
    for i, (x, y) in enumerate(aim):
        R[i], t[i] = look_at((x + offset[0], y + offset[1], view.height_m), (x, y, target_z))
    return CameraPath(K, R, t, distance)


def _static_reach(take: TakePath, pelvis_xy: np.ndarray, present: np.ndarray) -> float:
    """How far any present body gets from the take's path centre (at least its ``path_radius``)."""
    away = np.linalg.norm(pelvis_xy - np.asarray(take.path_center, dtype=np.float64), axis=-1)
    return max(float(take.path_radius), float(np.where(present, away, 0.0).max(initial=0.0)))


def camera_distance(rig: Rig, drawn: float, stray: float, K: np.ndarray) -> float:
    """The drawn distance, capped so a standing person fills ``min_person_share`` of the image
    height, then raised where a body ``stray`` metres from the aim point would leave the frame.

    Keeping the actor in frame wins over the size rule: a static camera on a long path may
    stand farther than the cap (a following camera rarely needs to).
    """
    hfov = math.degrees(2 * math.atan(rig.width / (2 * K[0, 0])))
    if rig.min_person_share > 0:
        drawn = min(drawn, max_distance_for_share(PERSON_HEIGHT_M, K[1, 1], rig.height, rig.min_person_share))
    return max(drawn, min_distance(rig, stray, hfov))


def _room_camera(view: ViewPlan, take: TakePath) -> tuple[np.ndarray, np.ndarray]:
    """A camera fixed in the room, whose origin is the take's path centre."""
    p = view.placement
    rx, ry = p["room_position_m"]
    pan, tilt = math.radians(p["pan_deg"]), math.radians(p["tilt_deg"])
    cx, cy = float(take.path_center[0]), float(take.path_center[1])
    h = view.height_m
    position = (cx + rx, cy + ry, h)
    target = (
        position[0] + math.cos(tilt) * math.cos(pan),
        position[1] + math.cos(tilt) * math.sin(pan),
        h - math.sin(tilt),
    )
    return look_at(position, target)
