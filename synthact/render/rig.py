"""The view rig: where each view's camera stands for a given clip.

Views are defined relative to the actor: azimuth 0 is the direction the actor
faces at the clip's first frame (the "front" view looks at their face), 90 is
their left side. Each clip draws distance, height and azimuth jitter per view
from a seed derived from (global seed, clip id, view name), so a clip's cameras
never depend on its shard or on run order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from synthact.clips.records import Clip
from synthact.render.cameras import Camera, intrinsics, look_at, vertical_fov_deg
from synthact.seeding import derive_seed, rng_for

# Half-width and height margins (metres) that keep limbs in frame: an arm
# stretched sideways reaches ~0.9 m from the pelvis, the head ~0.9 m above it.
BODY_HALF_WIDTH_M = 0.9
BODY_HALF_HEIGHT_M = 1.0


@dataclass(frozen=True)
class ViewSpec:
    name: str
    azimuth_deg: float


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

    @classmethod
    def from_config(cls, rig: dict, render: dict) -> "Rig":
        return cls(
            views=tuple(ViewSpec(v["name"], float(v["azimuth_deg"])) for v in rig["views"]),
            distance_m=tuple(rig["distance_m"]),
            height_m=tuple(rig["height_m"]),
            azimuth_jitter_deg=float(rig["azimuth_jitter_deg"]),
            hfov_deg=float(rig["hfov_deg"]),
            look_at_height_m=float(rig["look_at_height_m"]),
            width=int(render["width"]),
            height=int(render["height"]),
        )


@dataclass(frozen=True)
class PlacedView:
    """One view's camera for one clip, with the values drawn to place it."""

    name: str
    camera: Camera
    seed: int  # the renderer's noise seed for this view
    azimuth_deg: float  # world azimuth of the camera around the actor
    distance_m: float
    height_m: float

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "camera": self.camera.to_dict(),
            "seed": self.seed,
            "azimuth_deg": self.azimuth_deg,
            "distance_m": self.distance_m,
            "height_m": self.height_m,
        }


def min_distance(rig: Rig, path_radius: float) -> float:
    """Closest distance at which the whole clip's motion stays in frame."""
    half_h = math.radians(rig.hfov_deg) / 2
    half_v = math.radians(vertical_fov_deg(rig.width, rig.height, rig.hfov_deg)) / 2
    fit_width = (path_radius + BODY_HALF_WIDTH_M) / math.tan(half_h)
    fit_height = BODY_HALF_HEIGHT_M / math.tan(half_v)
    return path_radius + max(fit_width, fit_height)


def place_view(rig: Rig, view: ViewSpec, clip: Clip, seed: int) -> PlacedView:
    """Place one view's camera for ``clip``, drawing from ``rng_for(seed, clip, view)``."""
    rng = rng_for(seed, clip.clip_id, view.name, "camera")
    jitter = rng.uniform(-rig.azimuth_jitter_deg, rig.azimuth_jitter_deg)
    distance = max(rng.uniform(*rig.distance_m), min_distance(rig, clip.path_radius))
    height = rng.uniform(*rig.height_m)
    azimuth = clip.heading_deg + view.azimuth_deg + jitter
    centre = np.array([*clip.path_center, 0.0])
    direction = np.array([math.cos(math.radians(azimuth)), math.sin(math.radians(azimuth)), 0.0])
    position = centre + distance * direction + np.array([0.0, 0.0, height])
    target = centre + np.array([0.0, 0.0, rig.look_at_height_m])
    R, t = look_at(position, target)
    camera = Camera(K=intrinsics(rig.width, rig.height, rig.hfov_deg), R=R, t=t, width=rig.width, height=rig.height)
    return PlacedView(
        name=view.name,
        camera=camera,
        seed=derive_seed(seed, clip.clip_id, view.name, "render") % (2**31 - 1),
        azimuth_deg=float(azimuth),
        distance_m=float(distance),
        height_m=float(height),
    )


def place_views(rig: Rig, clip: Clip, seed: int) -> list[PlacedView]:
    return [place_view(rig, view, clip, seed) for view in rig.views]
