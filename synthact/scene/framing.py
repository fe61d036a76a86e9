"""Person size in the image: focal-length draws and the camera-distance rule (pure, no bpy).

For the rig (``rig.py``) and the plan's view draws (``takes/views.py``): a
preset states a horizontal field-of-view range and a minimum share of the
image height the person must fill; the plan draws the FOV per view, and the
rig caps the camera distance so that a standing person stays at least that
tall. Sizes use the pinhole model: an object of height
``h`` at distance ``d`` spans ``fy * h / d`` pixels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def draw_hfov_deg(rng: np.random.Generator, hfov_range: Sequence[float]) -> float:
    """Horizontal FOV, uniform in focal length (not in angle) between the range's ends.

    Uniform in focal length because lens and zoom choices are spread in
    millimetres; ``[a, a]`` returns ``a``.
    """
    low, high = (float(v) for v in hfov_range)
    if not 1.0 <= low <= high < 179.0:
        raise ValueError(f"hfov range {list(hfov_range)}: expected 1 <= low <= high < 179 degrees")
    if low == high:
        return low
    f_wide, f_tele = 1.0 / math.tan(math.radians(high) / 2), 1.0 / math.tan(math.radians(low) / 2)
    f = rng.uniform(f_wide, f_tele)
    return math.degrees(2 * math.atan(1.0 / f))


def focal_px(width: int, hfov_deg: float) -> float:
    """Focal length in pixels of a camera ``width`` pixels wide with this horizontal FOV."""
    return (width / 2.0) / math.tan(math.radians(hfov_deg) / 2.0)


def person_height_px(person_height_m: float, distance_m: float, fy_px: float) -> float:
    """Pixels a standing person of this height spans at this distance (facing the camera)."""
    return fy_px * person_height_m / distance_m


def max_distance_for_share(person_height_m: float, fy_px: float, image_height_px: int, min_share: float) -> float:
    """Farthest camera distance at which the person fills at least ``min_share`` of the image height.

    The rig should draw its distance, raise it where the path leaves the
    frame, then cap it here; where the path needs more than the cap, widen
    the view by drawing a smaller focal length rather than shrinking the
    person below the share (the caller decides, this function only measures).
    """
    if not 0.0 < min_share <= 1.0:
        raise ValueError(f"min_share {min_share}: expected 0 < share <= 1")
    return fy_px * person_height_m / (min_share * image_height_px)
