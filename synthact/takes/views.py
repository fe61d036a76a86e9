"""The plan's view draws: every random value that places a take's cameras.

The rig's modes and camera motions are described in ``synthact.scene.rig``.
The plan draws every random value here (``plan_views``); the worker turns the
draws into per-frame cameras (``scene.rig.view_cameras``), because following
needs the posed pelvis path. Per-view draws come from a seed derived from
(global seed, take id, view name), per-take draws from (global seed, take id,
"rig"), so a take's cameras never depend on its shard or on run order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from synthact.scene.framing import draw_hfov_deg
from synthact.scene.rig import Rig, Setup, ViewPlan, ViewSpec
from synthact.seeding import derive_seed, rng_for
from synthact.takes.records import Take


@dataclass(frozen=True)
class TakeDraws:
    """What one take draws once for all its views (actor mode).

    Attributes:
        setup: Index into ``Rig.setups`` (0-based), or None without setups.
        setup_from: ``"source"`` (the source's capture setup, e.g. NTU's) or ``"draw"``.
        facing: Name of the view the actor faces, or None.
        facing_from: ``"source"`` (the source's replication) or ``"draw"``.
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

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "setup": self.setup,
            "setup_from": self.setup_from,
            "facing": self.facing,
            "facing_from": self.facing_from,
            "turn_deg": self.turn_deg,
            "facing_jitter_deg": self.facing_jitter_deg,
        }
        if self.setup_values is not None:
            out["setup_height_m"] = self.setup_values.height_m
            out["setup_distance_m"] = self.setup_values.distance_m
        return out


def draw_take(rig: Rig, take: Take, seed: int) -> TakeDraws | None:
    """The take's setup, facing and rig turn, or None when the rig has none of them.

    Every value is drawn, whether used or not, so the draws stay the same
    whichever comes from the source's own capture ids.
    """
    if rig.mode != "actor" or not rig.draws_per_take:
        return None
    rng = rng_for(seed, take.take_id, "rig")
    setup_draw = int(rng.integers(len(rig.setups))) if rig.setups else None
    facing_draw = int(rng.integers(len(rig.facing))) if rig.facing else None
    jitter = float(rng.uniform(-rig.facing_jitter_deg, rig.facing_jitter_deg))
    setup, setup_from = setup_draw, "draw"
    if setup is not None and take.capture_setup is not None and take.capture_setup <= len(rig.setups):
        setup, setup_from = take.capture_setup - 1, "source"
    facing, facing_from, turn = None, "draw", jitter
    if facing_draw is not None:
        index = facing_draw
        if take.capture_replication is not None:
            index, facing_from = (take.capture_replication - 1) % len(rig.facing), "source"
        facing = rig.facing[index]
        # Turn the rig so that the faced view is in front of the actor.
        turn = jitter - next(v.azimuth_deg or 0.0 for v in rig.views if v.name == facing)
    return TakeDraws(
        setup=setup,
        setup_from=setup_from,
        facing=facing,
        facing_from=facing_from,
        turn_deg=turn,
        facing_jitter_deg=jitter,
        setup_values=rig.setups[setup] if setup is not None else None,
    )


def plan_views(rig: Rig, take: Take, seed: int) -> list[ViewPlan]:
    """Draw every view's placement for ``take``."""
    if rig.mode == "room":
        return [_plan_room_view(rig, view, take, seed) for view in rig.views]
    draws = draw_take(rig, take, seed)
    return [_plan_actor_view(rig, view, take, seed, draws) for view in rig.views]


def _render_seed(seed: int, take: Take, view: ViewSpec) -> int:
    return derive_seed(seed, take.take_id, view.name, "render") % (2**31 - 1)


def _lens(rig: Rig, take: Take, view: ViewSpec, seed: int) -> float:
    """The view's horizontal field of view: drawn from ``hfov_range_deg`` (its own seed), else fixed."""
    if rig.hfov_range_deg is None:
        return rig.hfov_deg
    return draw_hfov_deg(rng_for(seed, take.take_id, view.name, "lens"), rig.hfov_range_deg)


def _plan_actor_view(rig: Rig, view: ViewSpec, take: Take, seed: int, draws: TakeDraws | None) -> ViewPlan:
    rng = rng_for(seed, take.take_id, view.name, "camera")
    jitter = rng.uniform(-rig.azimuth_jitter_deg, rig.azimuth_jitter_deg)
    distance = rng.uniform(*rig.distance_m)
    height = rng.uniform(*rig.height_m)
    relative = view.azimuth_deg or 0.0
    placement: dict[str, Any] = {
        "azimuth_jitter_deg": float(jitter),
        "look_at_height_m": rig.look_at_height_m,
        "hfov_deg": _lens(rig, take, view, seed),
    }
    if draws is not None:
        relative += draws.turn_deg
        if draws.setup_values is not None:
            distance, height = draws.setup_values.distance_m, draws.setup_values.height_m
        placement["take"] = draws.to_dict()
    if view.height_m is not None:
        height = view.height_m
    return ViewPlan(
        name=view.name,
        seed=_render_seed(seed, take, view),
        camera_motion=rig.camera_motion,
        azimuth_deg=float(take.heading_deg + relative + jitter),
        distance_m=float(distance),
        height_m=float(height),
        placement=placement,
    )


def _plan_room_view(rig: Rig, view: ViewSpec, take: Take, seed: int) -> ViewPlan:
    rng = rng_for(seed, take.take_id, view.name, "camera")
    pan_jitter = float(rng.uniform(-rig.azimuth_jitter_deg, rig.azimuth_jitter_deg))
    tilt_jitter = float(rng.uniform(-rig.tilt_jitter_deg, rig.tilt_jitter_deg))
    dx = float(rng.uniform(-rig.position_jitter_m, rig.position_jitter_m))
    dy = float(rng.uniform(-rig.position_jitter_m, rig.position_jitter_m))
    drawn_height = float(rng.uniform(*rig.height_m))
    height = view.height_m if view.height_m is not None else drawn_height
    if view.position_m is None:
        raise ValueError(f"view {view.name!r}: room mode needs position_m")
    rx, ry = view.position_m[0] + dx, view.position_m[1] + dy
    # Aim at the room centre (at look-at height) unless the view fixes pan or tilt.
    across = math.hypot(rx, ry)
    pan = view.azimuth_deg if view.azimuth_deg is not None else math.degrees(math.atan2(-ry, -rx))
    tilt = (
        view.tilt_deg if view.tilt_deg is not None else math.degrees(math.atan2(height - rig.look_at_height_m, across))
    )
    placement = {
        "mode": "room",
        "room_position_m": [rx, ry],
        "position_jitter_m": [dx, dy],
        "pan_deg": pan + pan_jitter,
        "tilt_deg": tilt + tilt_jitter,
        "pan_jitter_deg": pan_jitter,
        "tilt_jitter_deg": tilt_jitter,
        "hfov_deg": _lens(rig, take, view, seed),
    }
    return ViewPlan(
        name=view.name,
        seed=_render_seed(seed, take, view),
        camera_motion="static",
        azimuth_deg=math.degrees(math.atan2(ry, rx)),
        distance_m=across,
        height_m=float(height),
        placement=placement,
    )
