"""Cameras that frame a group of bodies: the follow camera aims at the mean of the present
pelvises and stands far enough for the farthest body; one body frames as before."""

from __future__ import annotations

import numpy as np

from synthact.scene.cameras import Camera, project
from synthact.scene.rig import Rig, ViewPlan, group_centre, view_cameras
from synthact.takes.records import Take
from tests.fixtures.takes import make_rig

W, H, T = 160, 120, 40


def make_take(path_center: tuple[float, float], path_radius: float) -> Take:
    return Take(
        "t", "k", "a.npz", "1", "train", 0, 30.0, 30.0, T, T / 30, ((0, T),), "female", (), path_center, path_radius
    )


def rig() -> Rig:
    return make_rig(width=W, height=H, hfov_deg=50.0, min_person_share=0.6)


def bodies(gap_m: float) -> np.ndarray:
    """(T, 2, 2) pelvises: two people ``gap_m`` apart across the camera's view, walking along it."""
    walk = np.stack([np.linspace(0.0, 1.0, T), np.zeros(T)], axis=1)
    return np.stack([walk + (0.0, -gap_m / 2), walk + (0.0, gap_m / 2)], axis=1)


def pelvis_pixels(cameras, pelvis_xy: np.ndarray) -> np.ndarray:
    """(T, P, 2) where every pelvis (at 0.9 m) lands in the image."""
    points = np.concatenate([pelvis_xy, np.full((*pelvis_xy.shape[:2], 1), 0.9)], axis=-1)
    out = []
    for i in range(len(points)):
        cam = Camera(K=cameras.K, R=cameras.R[i], t=cameras.t[i], width=W, height=H)
        out.append(project(points[i] @ cam.R.T + cam.t, cam.K))
    return np.array(out)


def test_the_group_centre_is_the_mean_of_the_present_bodies_and_fills_gaps() -> None:
    xy = bodies(2.0)
    present = np.ones((T, 2), bool)
    present[10:15, 1] = False
    present[20:22] = False  # nobody: the next frame with somebody stands in
    centre, spread = group_centre(xy, present)
    np.testing.assert_allclose(centre[0], xy[0].mean(axis=0))
    np.testing.assert_allclose(centre[12], xy[12, 0])
    np.testing.assert_allclose(spread[12], 0.0)
    np.testing.assert_allclose(spread[0], 1.0)
    np.testing.assert_allclose(centre[20], centre[22])
    np.testing.assert_allclose(centre[21], centre[22])


def test_a_following_camera_keeps_both_bodies_in_frame() -> None:
    view = ViewPlan("front", 1, "follow", 0.0, 2.0, 1.2, {"look_at_height_m": 0.9})
    xy = bodies(3.0)
    one = view_cameras(rig(), view, make_take((0.5, -1.5), 0.5), xy[:, 0])
    group = view_cameras(rig(), view, make_take((0.5, 0.0), 2.0), xy, np.ones((T, 2), bool))
    alone_px = pelvis_pixels(one, xy)
    group_px = pelvis_pixels(group, xy)
    assert group.distance_m > one.distance_m
    assert ((group_px[..., 0] > 0) & (group_px[..., 0] < W)).all()
    assert not ((alone_px[:, 1, 0] > 0) & (alone_px[:, 1, 0] < W)).all()  # framed for body 0, body 1 leaves
    np.testing.assert_allclose(group_px[:, :, 0].mean(axis=1), W / 2, atol=1.0)  # aimed at the group's centre


def test_one_body_in_a_group_layout_frames_as_one_body() -> None:
    for motion in ("follow", "static"):
        view = ViewPlan("front", 1, motion, 30.0, 2.5, 1.2, {"look_at_height_m": 0.9})
        take = make_take((0.5, -1.5), 0.5)
        xy = bodies(3.0)[:, :1]
        flat = view_cameras(rig(), view, take, xy[:, 0])
        stacked = view_cameras(rig(), view, take, xy, np.ones((T, 1), bool))
        np.testing.assert_array_equal(flat.R, stacked.R)
        np.testing.assert_array_equal(flat.t, stacked.t)
        assert flat.distance_m == stacked.distance_m


def test_a_gap_in_a_body_leaves_the_cameras_finite_and_still() -> None:
    """Absent frames hold placeholder positions (NaN here): the camera neither reads them nor jumps."""
    xy = bodies(0.0)[:, :1].copy()
    present = np.ones((T, 1), bool)
    present[10:20] = False
    xy[10:20] = np.nan
    for motion in ("follow", "static"):
        view = ViewPlan("front", 1, motion, 0.0, 2.5, 1.2, {"look_at_height_m": 0.9})
        cameras = view_cameras(rig(), view, make_take((0.5, 0.0), 0.5), xy, present)
        assert np.isfinite(cameras.R).all() and np.isfinite(cameras.t).all() and np.isfinite(cameras.distance_m)
