"""The view rig: where each view's camera stands for a given clip.

Two modes (``rig.mode``):

- **actor**: views are defined relative to the actor: azimuth 0 is the
  direction the actor faces at the clip's first frame (the "front" view looks
  at their face), 90 is their left side. Each clip draws distance, height and
  azimuth jitter per view. Optionally (the NTU preset) a clip also draws, once
  for all its views, a capture *setup* (one camera height and distance shared
  by every view) and which view the actor *faces* (the rig turns so that view
  is in front of them), plus a jitter of that turn.
- **room**: views stand at fixed positions of a room centred on the clip's
  path centre (the Smarthome preset), looking at the room's centre unless they
  carry their own pan and tilt; a clip draws small per-view jitters of
  position, pan and tilt.

Per-view draws come from a seed derived from (global seed, clip id, view name),
per-clip draws from (global seed, clip id, "rig"), so a clip's cameras never
depend on its shard or on run order. Every drawn value is kept in the view's
``placement`` (per-clip ones under ``placement["clip"]``) and stored in the shard.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np

from synthact.clips.records import Clip
from synthact.render.cameras import Camera, intrinsics, look_at, vertical_fov_deg
from synthact.seeding import derive_seed, rng_for
from synthact.sources.ntu import NtuNameError, NtuSampleId, parse_ntu_name

# Half-width and height margins (metres) that keep limbs in frame: an arm
# stretched sideways reaches ~0.9 m from the pelvis, the head ~0.9 m above it.
BODY_HALF_WIDTH_M = 0.9
BODY_HALF_HEIGHT_M = 1.0


_NTU_NAME = re.compile(r"S\d{3}C\d{3}P\d{3}R\d{3}A\d{3}")


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
    def from_config(cls, view: dict) -> "ViewSpec":
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
    """A capture setup: every view's camera height and distance for one clip."""

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
    tilt_jitter_deg: float = 0.0  # room mode
    position_jitter_m: float = 0.0  # room mode
    setups: tuple[Setup, ...] = ()  # actor mode: one per clip, shared by its views
    facing: tuple[str, ...] = ()  # actor mode: view names the actor may face
    facing_jitter_deg: float = 0.0  # actor mode: per clip turn of the whole rig

    @classmethod
    def from_config(cls, rig: dict, render: dict) -> "Rig":
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
            tilt_jitter_deg=float(rig.get("tilt_jitter_deg", 0.0)),
            position_jitter_m=float(rig.get("position_jitter_m", 0.0)),
            setups=tuple(Setup(float(s["height_m"]), float(s["distance_m"])) for s in rig.get("setups", ())),
            facing=tuple(rig.get("facing", ())),
            facing_jitter_deg=float(rig.get("facing_jitter_deg", 0.0)),
        )

    @property
    def draws_per_clip(self) -> bool:
        """Whether clips draw a setup, a facing or a turn shared by their views."""
        return bool(self.setups or self.facing or self.facing_jitter_deg)


@dataclass(frozen=True)
class ClipDraws:
    """What one clip draws once for all its views (actor mode).

    Attributes:
        setup: Index into ``Rig.setups`` (0-based), or None without setups.
        setup_from: ``"ntu_id"`` (the source's NTU setup) or ``"draw"``.
        facing: Name of the view the actor faces, or None.
        facing_from: ``"ntu_id"`` (the source's NTU replication) or ``"draw"``.
        turn_deg: Rotation of the whole rig about the actor (facing offset plus jitter).
        facing_jitter_deg: The jitter part of ``turn_deg``.
    """

    setup: int | None
    setup_from: str
    facing: str | None
    facing_from: str
    turn_deg: float
    facing_jitter_deg: float
    setup_values: Setup | None = None

    def to_dict(self) -> dict:
        out = {
            "setup": self.setup, "setup_from": self.setup_from, "facing": self.facing,
            "facing_from": self.facing_from, "turn_deg": self.turn_deg, "facing_jitter_deg": self.facing_jitter_deg,
        }  # fmt: skip
        if self.setup_values is not None:
            out["setup_height_m"] = self.setup_values.height_m
            out["setup_distance_m"] = self.setup_values.distance_m
        return out


@dataclass(frozen=True)
class PlacedView:
    """One view's camera for one clip, with the values drawn to place it."""

    name: str
    camera: Camera
    seed: int  # the renderer's noise seed for this view
    azimuth_deg: float  # world azimuth of the camera around the path centre
    distance_m: float  # horizontal distance from the path centre
    height_m: float
    placement: dict = field(default_factory=dict)  # every other drawn value (module doc)

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "camera": self.camera.to_dict(),
            "seed": self.seed,
            "azimuth_deg": self.azimuth_deg,
            "distance_m": self.distance_m,
            "height_m": self.height_m,
            "placement": self.placement,
        }


def min_distance(rig: Rig, path_radius: float) -> float:
    """Closest distance at which the whole clip's motion stays in frame."""
    half_h = math.radians(rig.hfov_deg) / 2
    half_v = math.radians(vertical_fov_deg(rig.width, rig.height, rig.hfov_deg)) / 2
    fit_width = (path_radius + BODY_HALF_WIDTH_M) / math.tan(half_h)
    fit_height = BODY_HALF_HEIGHT_M / math.tan(half_v)
    return path_radius + max(fit_width, fit_height)


def ntu_sample(clip: Clip) -> NtuSampleId | None:
    """The NTU sample a clip comes from, if its source or sequence is named like one."""
    for text in (clip.source, clip.sequence_id):
        match = _NTU_NAME.search(text)
        if match:
            try:
                return parse_ntu_name(match.group(0))
            except NtuNameError:  # e.g. camera 4: not a real NTU name
                return None
    return None


def draw_clip(rig: Rig, clip: Clip, seed: int) -> ClipDraws | None:
    """The clip's setup, facing and rig turn, or None when the rig has none of them.

    Every value is drawn, whether used or not, so the draws stay the same
    whichever comes from an NTU id.
    """
    if rig.mode != "actor" or not rig.draws_per_clip:
        return None
    rng = rng_for(seed, clip.clip_id, "rig")
    setup_draw = int(rng.integers(len(rig.setups))) if rig.setups else None
    facing_draw = int(rng.integers(len(rig.facing))) if rig.facing else None
    jitter = float(rng.uniform(-rig.facing_jitter_deg, rig.facing_jitter_deg))
    sample = ntu_sample(clip)
    setup, setup_from = setup_draw, "draw"
    if setup is not None and sample is not None and sample.setup <= len(rig.setups):
        setup, setup_from = sample.setup - 1, "ntu_id"
    facing, facing_from = None, "draw"
    turn = jitter
    if facing_draw is not None:
        index = facing_draw
        if sample is not None:
            index, facing_from = (sample.replication - 1) % len(rig.facing), "ntu_id"
        facing = rig.facing[index]
        # Turn the rig so that the faced view is in front of the actor.
        turn = jitter - next(v.azimuth_deg for v in rig.views if v.name == facing)
    return ClipDraws(
        setup=setup, setup_from=setup_from, facing=facing, facing_from=facing_from, turn_deg=turn,
        facing_jitter_deg=jitter, setup_values=rig.setups[setup] if setup is not None else None,
    )  # fmt: skip


def place_view(rig: Rig, view: ViewSpec, clip: Clip, seed: int) -> PlacedView:
    """Place one view's camera for ``clip``, drawing from ``rng_for(seed, clip, view)``."""
    K = intrinsics(rig.width, rig.height, rig.hfov_deg)
    if rig.mode == "room":
        return _place_room_view(rig, view, clip, seed, K)
    draws = draw_clip(rig, clip, seed)
    return _place_view(rig, view, clip, seed, min_distance(rig, clip.path_radius), K, draws)


def place_views(rig: Rig, clip: Clip, seed: int) -> list[PlacedView]:
    # What does not depend on the view is computed once per clip: the plan
    # places millions of views (AMARV: 800k clips x 4), so per-call costs count.
    K = intrinsics(rig.width, rig.height, rig.hfov_deg)
    if rig.mode == "room":
        return [_place_room_view(rig, view, clip, seed, K) for view in rig.views]
    nearest = min_distance(rig, clip.path_radius)
    draws = draw_clip(rig, clip, seed)
    return [_place_view(rig, view, clip, seed, nearest, K, draws) for view in rig.views]


def _place_view(
    rig: Rig, view: ViewSpec, clip: Clip, seed: int, nearest: float, K: np.ndarray, draws: ClipDraws | None = None
) -> PlacedView:
    """actor mode. Without per-clip draws or a view height, exactly the original placement."""
    rng = rng_for(seed, clip.clip_id, view.name, "camera")
    jitter = rng.uniform(-rig.azimuth_jitter_deg, rig.azimuth_jitter_deg)
    distance = max(rng.uniform(*rig.distance_m), nearest)
    height = rng.uniform(*rig.height_m)
    relative = view.azimuth_deg
    placement: dict = {"azimuth_jitter_deg": float(jitter)}
    if draws is not None:
        relative = view.azimuth_deg + draws.turn_deg
        if draws.setup_values is not None:
            distance, height = max(draws.setup_values.distance_m, nearest), draws.setup_values.height_m
        placement["clip"] = draws.to_dict()
    if view.height_m is not None:
        height = view.height_m
    azimuth = clip.heading_deg + relative + jitter
    cx, cy = float(clip.path_center[0]), float(clip.path_center[1])
    dx, dy = math.cos(math.radians(azimuth)), math.sin(math.radians(azimuth))
    position = (cx + distance * dx, cy + distance * dy, height)
    target = (cx, cy, rig.look_at_height_m)
    R, t = look_at(position, target)
    camera = Camera(K=K.copy(), R=R, t=t, width=rig.width, height=rig.height)
    return PlacedView(
        name=view.name,
        camera=camera,
        seed=derive_seed(seed, clip.clip_id, view.name, "render") % (2**31 - 1),
        azimuth_deg=float(azimuth),
        distance_m=float(distance),
        height_m=float(height),
        placement=placement,
    )


def _place_room_view(rig: Rig, view: ViewSpec, clip: Clip, seed: int, K: np.ndarray) -> PlacedView:
    """room mode: a camera fixed in the room, whose origin is the clip's path centre."""
    rng = rng_for(seed, clip.clip_id, view.name, "camera")
    pan_jitter = float(rng.uniform(-rig.azimuth_jitter_deg, rig.azimuth_jitter_deg))
    tilt_jitter = float(rng.uniform(-rig.tilt_jitter_deg, rig.tilt_jitter_deg))
    dx = float(rng.uniform(-rig.position_jitter_m, rig.position_jitter_m))
    dy = float(rng.uniform(-rig.position_jitter_m, rig.position_jitter_m))
    drawn_height = float(rng.uniform(*rig.height_m))
    height = view.height_m if view.height_m is not None else drawn_height
    if view.position_m is None:
        raise ValueError(f"view {view.name!r}: room mode needs position_m")
    rx, ry = view.position_m[0] + dx, view.position_m[1] + dy
    cx, cy = float(clip.path_center[0]), float(clip.path_center[1])
    # Aim at the room centre (at look-at height) unless the view fixes pan or tilt.
    across = math.hypot(rx, ry)
    pan = view.azimuth_deg if view.azimuth_deg is not None else math.degrees(math.atan2(-ry, -rx))
    tilt = view.tilt_deg if view.tilt_deg is not None else math.degrees(math.atan2(height - rig.look_at_height_m, across))
    pan, tilt = pan + pan_jitter, tilt + tilt_jitter
    p, d = math.radians(pan), math.radians(tilt)
    position = (cx + rx, cy + ry, height)
    target = (position[0] + math.cos(d) * math.cos(p), position[1] + math.cos(d) * math.sin(p), height - math.sin(d))
    R, t = look_at(position, target)
    placement = {
        "mode": "room", "room_position_m": [rx, ry], "position_jitter_m": [dx, dy], "pan_deg": pan,
        "tilt_deg": tilt, "pan_jitter_deg": pan_jitter, "tilt_jitter_deg": tilt_jitter,
    }  # fmt: skip
    return PlacedView(
        name=view.name,
        camera=Camera(K=K.copy(), R=R, t=t, width=rig.width, height=rig.height),
        seed=derive_seed(seed, clip.clip_id, view.name, "render") % (2**31 - 1),
        azimuth_deg=math.degrees(math.atan2(ry, rx)),
        distance_m=across,
        height_m=float(height),
        placement=placement,
    )
