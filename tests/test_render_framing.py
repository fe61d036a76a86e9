"""Focal-length draws and the person-size distance rule."""

from __future__ import annotations

import math

import numpy as np
import pytest

from synthact.scene.cameras import Camera, intrinsics, look_at, project, to_camera
from synthact.scene.framing import draw_hfov_deg, focal_px, max_distance_for_share, person_height_px


def test_hfov_draws_stay_in_range_and_are_seeded() -> None:
    draws = [draw_hfov_deg(np.random.default_rng(s), (40.0, 70.0)) for s in range(200)]
    assert 40.0 <= min(draws) and max(draws) <= 70.0 and np.ptp(draws) > 20
    assert draw_hfov_deg(np.random.default_rng(3), (40, 70)) == draw_hfov_deg(np.random.default_rng(3), (40, 70))
    assert draw_hfov_deg(np.random.default_rng(0), (55, 55)) == 55.0
    with pytest.raises(ValueError, match="hfov range"):
        draw_hfov_deg(np.random.default_rng(0), (70, 40))


def test_the_distance_cap_gives_the_person_the_stated_share() -> None:
    width, height, hfov = 160, 120, 55.0
    fy = focal_px(width, hfov)
    assert fy == pytest.approx(intrinsics(width, height, hfov)[1, 1])
    d = max_distance_for_share(1.7, fy, height, 0.5)
    # A 1.7 m pole at that distance, projected by the real camera code, spans 60 px.
    R, t = look_at((0.0, -d, 0.85), (0.0, 0.0, 0.85))
    cam = Camera(K=intrinsics(width, height, hfov), R=R, t=t, width=width, height=height)
    ends = project(to_camera(np.array([[0, 0, 0.0], [0, 0, 1.7]]), cam), cam.K)
    assert abs(ends[0, 1] - ends[1, 1]) == pytest.approx(0.5 * height, rel=1e-6)
    assert person_height_px(1.7, d, fy) == pytest.approx(60.0)
    # Issue 13's jog clip: 9.5 m away a 1.7 m person is under a quarter of 120 px; a 0.4 share caps it at 5.44 m.
    assert person_height_px(1.7, 9.5, fy) < 30 and math.isclose(
        max_distance_for_share(1.7, fy, 120, 0.4), 5.44, rel_tol=0.01
    )
