"""Camera math and the view rig, with known answers (no Blender)."""

import math

import numpy as np
import pytest

from synthact.render.cameras import Camera, intrinsics, look_at, project, to_camera, vertical_fov_deg
from synthact.render.rig import Setup, ViewSpec, min_distance, place_views
from tests.helpers import make_clip, make_rig


def test_intrinsics_known_answer():
    K = intrinsics(200, 100, 90.0)
    assert K[0, 0] == pytest.approx(100.0)  # tan(45 deg) = 1: f = W / 2
    assert (K[0, 2], K[1, 2]) == (100.0, 50.0)
    assert vertical_fov_deg(200, 100, 90.0) == pytest.approx(2 * math.degrees(math.atan(0.5)))


def test_look_at_centres_target_and_keeps_up_up():
    position, target = np.array([4.0, 0.0, 1.5]), np.array([0.0, 0.0, 1.0])
    R, t = look_at(position, target)
    cam = Camera(K=intrinsics(320, 240, 60), R=R, t=t, width=320, height=240)
    assert np.allclose(R @ R.T, np.eye(3)) and np.linalg.det(R) == pytest.approx(1.0)
    assert np.allclose(cam.position, position)
    uv = project(to_camera(target[None], cam), cam.K)[0]
    assert np.allclose(uv, (160, 120))
    # A point above the target appears higher in the image (smaller v).
    above = project(to_camera((target + [0, 0, 0.5])[None], cam), cam.K)[0]
    assert above[1] < 120 and above[0] == pytest.approx(160)
    # Camera on +X looking at -X: world +Y is on the image's right.
    right = project(to_camera((target + [0, 0.5, 0])[None], cam), cam.K)[0]
    assert right[0] > 160


def test_project_known_point():
    cam = Camera(K=intrinsics(100, 100, 90), R=np.eye(3), t=np.zeros(3), width=100, height=100)
    assert np.allclose(project(np.array([[1.0, -0.5, 2.0]]), cam.K), [[75.0, 37.5]])


def test_views_are_90_degrees_apart_and_front_faces_actor():
    clip = make_clip()
    views = place_views(make_rig(), clip, seed=0)
    azimuths = [v.azimuth_deg for v in views]
    assert np.allclose(np.diff(azimuths), 90.0)
    front = views[0].camera.position - np.array([*clip.path_center, 0.0])
    assert math.degrees(math.atan2(front[1], front[0])) == pytest.approx(clip.heading_deg)


def test_every_view_looks_at_the_actor_and_sees_the_whole_path():
    clip = make_clip(path_radius=2.0)
    rig = make_rig(azimuth_jitter_deg=10.0)
    for view in place_views(rig, clip, seed=3):
        assert view.distance_m >= min_distance(rig, clip.path_radius) - 1e-9
        centre = np.array([*clip.path_center, rig.look_at_height_m])
        uv = project(to_camera(centre[None], view.camera), view.camera.K)[0]
        assert np.allclose(uv, (160, 120), atol=1e-6)
        for dx, dy in ((2, 0), (-2, 0), (0, 2), (0, -2)):  # path edge, head and feet
            for z in (0.0, 1.8):
                p = np.array([clip.path_center[0] + dx, clip.path_center[1] + dy, z])
                u, v = project(to_camera(p[None], view.camera), view.camera.K)[0]
                assert 0 <= u < 320 and 0 <= v < 240


def test_placement_is_deterministic_and_depends_on_identity():
    rig = make_rig(azimuth_jitter_deg=10.0)
    a = place_views(rig, make_clip(), seed=0)
    b = place_views(rig, make_clip(), seed=0)
    assert [v.to_dict() for v in a] == [v.to_dict() for v in b]
    other_clip = place_views(rig, make_clip(clip_id="c9999"), seed=0)
    other_seed = place_views(rig, make_clip(), seed=1)
    assert a[0].distance_m != other_clip[0].distance_m
    assert a[0].distance_m != other_seed[0].distance_m
    assert len({v.seed for v in a}) == len(a)  # each view gets its own noise seed


def test_room_views_stand_fixed_in_the_room_with_their_own_pan_and_tilt():
    views = (
        ViewSpec("aimed", position_m=(2.0, 0.0), height_m=2.4),  # looks at the room centre
        ViewSpec("fixed", azimuth_deg=90.0, position_m=(0.0, -3.0), height_m=2.0, tilt_deg=30.0),
    )
    rig = make_rig(views=views, mode="room", azimuth_jitter_deg=0.0)
    clip = make_clip(path_center=(1.0, -2.0))
    aimed, fixed = place_views(rig, clip, seed=0)
    assert np.allclose(aimed.camera.position, (3.0, -2.0, 2.4)) and np.allclose(fixed.camera.position, (1.0, -5.0, 2.0))
    centre = np.array([*clip.path_center, rig.look_at_height_m])
    assert np.allclose(project(to_camera(centre[None], aimed.camera), aimed.camera.K)[0], (160, 120))
    s30 = math.sin(math.radians(30))
    assert np.allclose(fixed.camera.R[2], (0.0, math.cos(math.radians(30)), -s30))  # forward: +Y, 30 deg down
    assert fixed.placement["tilt_deg"] == 30.0 and fixed.placement["pan_deg"] == 90.0
    # Jitter moves each camera a little, per view and clip, and is recorded.
    jittered = place_views(make_rig(views=views, mode="room", azimuth_jitter_deg=3.0, tilt_jitter_deg=2.0,
                                    position_jitter_m=0.1), clip, seed=0)  # fmt: skip
    for view in jittered:
        p = view.placement
        assert abs(p["pan_jitter_deg"]) <= 3 and abs(p["tilt_jitter_deg"]) <= 2
        assert max(abs(d) for d in p["position_jitter_m"]) <= 0.1 and p["position_jitter_m"] != [0.0, 0.0]


def test_clip_draws_turn_the_whole_rig_and_share_one_setup():
    rig = make_rig(
        views=(ViewSpec("mid", 0.0), ViewSpec("left", 45.0), ViewSpec("right", -45.0)),
        setups=(Setup(0.5, 4.5), Setup(2.7, 2.0)), facing=("left", "right"), facing_jitter_deg=5.0,
    )  # fmt: skip
    clip = make_clip(path_radius=0.0)
    views = place_views(rig, clip, seed=0)
    draws = views[0].placement["clip"]
    setup = rig.setups[draws["setup"]]
    assert all(v.height_m == setup.height_m for v in views)
    assert all(v.distance_m == max(setup.distance_m, min_distance(rig, 0.0)) for v in views)
    faced = next(v for v in views if v.name == draws["facing"])
    assert faced.azimuth_deg == pytest.approx(clip.heading_deg + draws["facing_jitter_deg"])
    assert views[1].azimuth_deg - views[0].azimuth_deg == pytest.approx(45.0)
