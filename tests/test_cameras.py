"""Camera math and the view rig, with known answers (no Blender)."""

import math

import numpy as np
import pytest

from synthact.scene.cameras import Camera, intrinsics, look_at, project, to_camera, vertical_fov_deg
from synthact.scene.rig import Setup, ViewSpec, min_distance, smooth_path, view_cameras
from synthact.takes.records import Take
from synthact.takes.views import plan_views
from tests.fixtures.takes import cameras_at_rest, make_rig, make_take


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
    take = make_take()
    views = cameras_at_rest(make_rig(), take, seed=0)
    assert np.allclose(np.diff([v.azimuth_deg for v, _, _ in views]), 90.0)
    front = views[0][2].position - np.array([*take.path_center, 0.0])
    assert math.degrees(math.atan2(front[1], front[0])) == pytest.approx(take.heading_deg)


def test_static_views_look_at_the_actor_and_see_the_whole_path():
    take = make_take(path_radius=2.0)
    rig = make_rig(azimuth_jitter_deg=10.0)
    for _, path, camera in cameras_at_rest(rig, take, seed=3):
        assert path.distance_m >= min_distance(rig, take.path_radius) - 1e-9
        assert np.allclose(path.R, path.R[0]) and np.allclose(path.t, path.t[0])  # static: one camera
        centre = np.array([*take.path_center, rig.look_at_height_m])
        uv = project(to_camera(centre[None], camera), camera.K)[0]
        assert np.allclose(uv, (160, 120), atol=1e-6)
        for dx, dy in ((2, 0), (-2, 0), (0, 2), (0, -2)):  # path edge, head and feet
            for z in (0.0, 1.8):
                p = np.array([take.path_center[0] + dx, take.path_center[1] + dy, z])
                u, v = project(to_camera(p[None], camera), camera.K)[0]
                assert 0 <= u < 320 and 0 <= v < 240


def walking_take(metres: float, frames: int) -> tuple[Take, np.ndarray]:
    """A take whose pelvis walks ``metres`` along +X (then back a little), and its pelvis path."""
    x = np.linspace(0.0, metres, frames)
    pelvis = np.stack([x, 0.3 * np.sin(x)], axis=1)
    centre = pelvis.mean(axis=0)
    radius = float(np.linalg.norm(pelvis - centre, axis=1).max())
    take = make_take(
        num_sequence_frames=frames, spans=((0, frames),), path_center=tuple(centre), path_radius=radius, heading_deg=0.0
    )
    return take, pelvis


def body_box(camera_R: np.ndarray, camera_t: np.ndarray, K: np.ndarray, pelvis_xy: np.ndarray) -> tuple:
    """Projected pelvis and the image height of a 1.8 m upright body at ``pelvis_xy``."""
    feet, head, pelvis = (np.array([*pelvis_xy, z]) for z in (0.0, 1.8, 0.95))
    uv = [project((camera_R @ p + camera_t)[None], K)[0] for p in (feet, head, pelvis)]
    return uv[2], abs(uv[0][1] - uv[1][1])


@pytest.mark.parametrize("motion", ["follow", "static"])
def test_a_walking_actor_stays_in_frame_for_the_whole_take(motion):
    take, pelvis = walking_take(metres=7.0, frames=210)
    rig = make_rig(camera_motion=motion, follow_smoothing_s=1.0, azimuth_jitter_deg=10.0)
    for view in plan_views(rig, take, seed=5):
        path = view_cameras(rig, view, take, pelvis)
        heights = []
        for i in range(len(pelvis)):
            uv, height = body_box(path.R[i], path.t[i], path.K, pelvis[i])
            assert 0 <= uv[0] < rig.width and 0 <= uv[1] < rig.height, (view.name, i)
            heights.append(height)
        if motion == "follow":
            # The camera keeps its distance: the person's size barely changes.
            assert max(heights) / min(heights) < 2.0, view.name
            assert path.distance_m < 6.0  # not pushed back to fit the whole 7 m path
        else:
            assert path.distance_m >= min_distance(rig, take.path_radius) - 1e-9


def test_follow_keeps_drawn_azimuth_height_and_has_no_shake():
    take, pelvis = walking_take(metres=6.0, frames=120)
    rig = make_rig(camera_motion="follow", follow_smoothing_s=0.5)
    view = plan_views(rig, take, seed=1)[1]
    path = view_cameras(rig, view, take, pelvis)
    positions = -np.einsum("tji,tj->ti", path.R, path.t)  # camera centres
    assert np.allclose(positions[:, 2], view.height_m)
    aim = smooth_path(pelvis, 0.5 * take.fps)
    offset = positions[:, :2] - aim
    assert np.allclose(np.degrees(np.arctan2(offset[:, 1], offset[:, 0])) % 360, view.azimuth_deg % 360, atol=1e-6)
    assert np.allclose(np.linalg.norm(offset, axis=1), path.distance_m)
    # No shake: the camera's speed changes smoothly (second differences are tiny).
    assert np.abs(np.diff(positions[:, :2], n=2, axis=0)).max() < 0.01


def test_smooth_path_keeps_a_straight_line_and_its_ends():
    line = np.stack([np.linspace(0, 3, 50), np.zeros(50)], axis=1)
    smoothed = smooth_path(line, 4.0)
    assert np.allclose(smoothed[:, 1], 0.0) and abs(smoothed[25, 0] - line[25, 0]) < 1e-9
    assert smoothed[0, 0] >= 0.0 and smoothed[-1, 0] <= 3.0


def test_placement_is_deterministic_and_depends_on_identity():
    rig = make_rig(azimuth_jitter_deg=10.0)
    a = plan_views(rig, make_take(), seed=0)
    b = plan_views(rig, make_take(), seed=0)
    assert [v.to_dict() for v in a] == [v.to_dict() for v in b]
    other_take = plan_views(rig, make_take(take_id="t9999"), seed=0)
    other_seed = plan_views(rig, make_take(), seed=1)
    assert a[0].distance_m != other_take[0].distance_m
    assert a[0].distance_m != other_seed[0].distance_m
    assert len({v.seed for v in a}) == len(a)  # each view gets its own noise seed


def test_room_views_stand_fixed_in_the_room_with_their_own_pan_and_tilt():
    views = (
        ViewSpec("aimed", position_m=(2.0, 0.0), height_m=2.4),  # looks at the room centre
        ViewSpec("fixed", azimuth_deg=90.0, position_m=(0.0, -3.0), height_m=2.0, tilt_deg=30.0),
    )
    rig = make_rig(views=views, mode="room", azimuth_jitter_deg=0.0)
    take = make_take(path_center=(1.0, -2.0))
    (_, _, aimed), (fixed_plan, _, fixed) = cameras_at_rest(rig, take, seed=0)
    assert np.allclose(aimed.position, (3.0, -2.0, 2.4)) and np.allclose(fixed.position, (1.0, -5.0, 2.0))
    centre = np.array([*take.path_center, rig.look_at_height_m])
    assert np.allclose(project(to_camera(centre[None], aimed), aimed.K)[0], (160, 120))
    s30 = math.sin(math.radians(30))
    assert np.allclose(fixed.R[2], (0.0, math.cos(math.radians(30)), -s30))  # forward: +Y, 30 deg down
    assert fixed_plan.placement["tilt_deg"] == 30.0 and fixed_plan.placement["pan_deg"] == 90.0
    # Jitter moves each camera a little, per view and take, and is recorded.
    jittered = plan_views(
        make_rig(views=views, mode="room", azimuth_jitter_deg=3.0, tilt_jitter_deg=2.0, position_jitter_m=0.1),
        take,
        seed=0,
    )
    for view in jittered:
        p = view.placement
        assert abs(p["pan_jitter_deg"]) <= 3 and abs(p["tilt_jitter_deg"]) <= 2
        assert max(abs(d) for d in p["position_jitter_m"]) <= 0.1 and p["position_jitter_m"] != [0.0, 0.0]


def test_take_draws_turn_the_whole_rig_and_share_one_setup():
    rig = make_rig(
        views=(ViewSpec("mid", 0.0), ViewSpec("left", 45.0), ViewSpec("right", -45.0)),
        setups=(Setup(0.5, 4.5), Setup(2.7, 2.0)),
        facing=("left", "right"),
        facing_jitter_deg=5.0,
    )
    take = make_take(path_radius=0.0)
    views = cameras_at_rest(rig, take, seed=0)
    draws = views[0][0].placement["take"]
    setup = rig.setups[draws["setup"]]
    assert all(v.height_m == setup.height_m for v, _, _ in views)
    assert all(path.distance_m == max(setup.distance_m, min_distance(rig, 0.0)) for _, path, _ in views)
    faced = next(v for v, _, _ in views if v.name == draws["facing"])
    assert faced.azimuth_deg == pytest.approx(take.heading_deg + draws["facing_jitter_deg"])
    assert views[1][0].azimuth_deg - views[0][0].azimuth_deg == pytest.approx(45.0)


def test_a_source_capture_id_picks_the_setup_and_facing():
    rig = make_rig(
        views=(ViewSpec("mid", 0.0), ViewSpec("left", 45.0), ViewSpec("right", -45.0)),
        setups=(Setup(0.5, 4.5), Setup(2.7, 2.0)),
        facing=("left", "right"),
    )
    draws = plan_views(rig, make_take(capture_setup=2, capture_replication=2), seed=0)[0].placement["take"]
    got = (draws["setup"], draws["setup_from"], draws["facing"], draws["facing_from"])
    assert got == (1, "source", "right", "source")


def test_a_drawn_lens_goes_into_k_and_the_framing():
    rig = make_rig(hfov_range_deg=(40.0, 70.0))
    take = make_take()
    lenses = set()
    for view, path, camera in cameras_at_rest(rig, take, seed=2):
        hfov = view.placement["hfov_deg"]
        assert 40.0 <= hfov <= 70.0
        assert camera.K[0, 0] == pytest.approx(intrinsics(320, 240, hfov)[0, 0])
        assert path.distance_m >= min_distance(rig, take.path_radius, hfov) - 1e-9
        lenses.add(round(hfov, 6))
    assert len(lenses) == 4  # each view its own
    again = cameras_at_rest(rig, take, seed=2)
    assert [v.placement["hfov_deg"] for v, _, _ in again] == [
        v.placement["hfov_deg"] for v, _, _ in cameras_at_rest(rig, take, seed=2)
    ]


def test_min_person_share_brings_far_cameras_closer_but_keeps_the_body_in_frame():
    take = make_take(path_radius=0.0)
    far = make_rig(distance_m=(9.0, 10.0))
    near = make_rig(distance_m=(9.0, 10.0), min_person_share=0.5)
    pairs = zip(cameras_at_rest(far, take, 0), cameras_at_rest(near, take, 0), strict=True)
    for (_, far_path, _), (_, near_path, camera) in pairs:
        assert far_path.distance_m >= 9.0
        person_px = camera.K[1, 1] * 1.7 / near_path.distance_m
        assert person_px >= 0.5 * 240 - 1e-6 and near_path.distance_m < far_path.distance_m
        assert near_path.distance_m >= min_distance(near, 0.0) - 1e-9  # the body still fits
    walk = make_take(path_radius=3.0)  # static: a long path wins over the size rule
    for _, path, _ in cameras_at_rest(near, walk, 0):
        assert path.distance_m >= min_distance(near, 3.0) - 1e-9
