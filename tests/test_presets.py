"""The dataset presets (AMARV, Synthetic Smarthome, Synthetic NTU RGB+D).

Fast tests: how presets merge with the schema defaults and the user's values,
the rig geometry each preset asks for, and the domain-randomisation draws.
Slow tests: each preset builds a small dataset end to end with Snakemake on the
built-in demo motion (real Blender renders), and the cameras stored in the
shards are checked against the geometry of the dataset the preset mirrors.
"""

from __future__ import annotations

import copy
import itertools
import json
import math
from pathlib import Path

import h5py
import numpy as np
import pytest

from synthact.codecs import depth as depth_codec
from synthact.config import config_hash, validate_config
from synthact.errors import ConfigError
from synthact.presets.catalog import PRESETS, preset_values
from synthact.render.worker import body_shape_noise, select_hdris
from synthact.scene import room
from synthact.scene.appearance import PATTERNS, AppearanceRanges, sample_appearance
from synthact.scene.cameras import project
from synthact.scene.rig import Rig, min_distance
from synthact.sources.ntu import SMPLH_TO_NTU25
from tests.fixtures.takes import cameras_at_rest, make_take
from tests.helpers import make_run, shard_files, snakemake

HDRIS = ["city", "forest", "night", "sunset"]


def wrap(angle: float) -> float:
    """Angle in (-180, 180]."""
    a = (angle + 180.0) % 360.0 - 180.0
    return 180.0 if a == -180.0 else a


def rig_of(preset: str, **overrides) -> Rig:
    config = validate_config({"preset": preset, **overrides})
    return Rig.from_config(config["rig"], config["render"])


# --- configuration --------------------------------------------------------------------


@pytest.mark.parametrize("name", PRESETS)
def test_each_preset_is_a_valid_configuration(name):
    config = validate_config({"preset": name})
    assert config["preset"] == name
    for key, section in preset_values(name).items():  # the preset's values are in effect
        for sub, value in section.items():
            assert config[key][sub] == value, f"{key}.{sub}"


def test_none_is_the_schema_defaults():
    assert validate_config({"preset": "none"}) == validate_config({})


def test_user_values_win_key_by_key_over_the_preset():
    config = validate_config({"preset": "ntu", "render": {"width": 64}, "rig": {"facing_jitter_deg": 0}})
    assert config["render"]["width"] == 64  # yours
    assert config["render"]["height"] == 360  # the preset's, beside your width
    assert config["rig"]["facing_jitter_deg"] == 0 and [v["name"] for v in config["rig"]["views"]] == ["c1", "c2", "c3"]
    assert config["render"]["quality"] == validate_config({})["render"]["quality"]  # the schema's


def test_resolving_a_resolved_config_again_changes_nothing():
    # A resolved config given back as a config file of one's own (--config) resolves to itself.
    user = {"preset": "smarthome", "clips": {"fps": 6}}
    workflow = validate_config(copy.deepcopy(user))
    again = validate_config(json.loads(json.dumps(workflow)))
    assert again == workflow
    assert config_hash(again) == config_hash(workflow)


def test_preset_and_rig_errors_name_their_key():
    with pytest.raises(ConfigError, match="preset"):
        validate_config({"preset": "kinetics"})
    with pytest.raises(ConfigError, match="position_m"):
        validate_config({"rig": {"mode": "room"}})  # the default views have no room positions
    with pytest.raises(ConfigError, match=r"rig\.facing"):
        validate_config({"rig": {"facing": ["nowhere"]}})
    with pytest.raises(ConfigError, match=r"randomize\.hdri_strength"):
        validate_config({"randomize": {"hdri_strength": [2.0, 1.0]}})


# --- rig geometry -----------------------------------------------------------------------


def camera_azimuths(views, centre) -> list[float]:
    """Azimuth of each camera centre around ``centre`` (world XY), from its extrinsics."""
    out = []
    for _, _, camera in views:
        c = camera.position
        out.append(math.degrees(math.atan2(c[1] - centre[1], c[0] - centre[0])))
    return out


def test_ntu_cameras_are_45_degrees_apart_at_one_height_and_distance():
    rig = rig_of("ntu")
    assert rig.camera_motion == "static"
    faced = set()
    for i in range(40):
        take = make_take(take_id=f"t{i}", heading_deg=17.0 * i, path_radius=0.3)
        views = cameras_at_rest(rig, take, seed=0)
        c1, c2, c3 = camera_azimuths(views, take.path_center)
        assert wrap(c2 - c1) == pytest.approx(45.0) and wrap(c3 - c1) == pytest.approx(-45.0)
        assert len({round(camera.position[2], 9) for _, _, camera in views}) == 1
        assert len({round(path.distance_m, 9) for _, path, _ in views}) == 1
        draws = views[0][0].placement["take"]
        assert all(v.placement["take"] == draws for v, _, _ in views)
        setup = rig.setups[draws["setup"]]
        nearest = min_distance(rig, take.path_radius)  # the whole path stays in frame
        assert views[0][0].height_m == setup.height_m and views[0][1].distance_m == max(setup.distance_m, nearest)
        # The actor faces the faced camera, up to the drawn jitter.
        camera = {"c2": c2, "c3": c3}[draws["facing"]]
        assert wrap(camera - take.heading_deg - draws["facing_jitter_deg"]) == pytest.approx(0.0, abs=1e-9)
        assert abs(draws["facing_jitter_deg"]) <= 5.0
        faced.add(draws["facing"])
    assert faced == {"c2", "c3"}  # a seeded draw alternates between them


def test_ntu_sources_take_their_setup_and_replication():
    rig = rig_of("ntu")
    for setup, replication, facing in ((3, 1, "c2"), (16, 2, "c3")):
        take = make_take(take_id=f"S{setup}", capture_setup=setup, capture_replication=replication)
        draws = cameras_at_rest(rig, take, seed=0)[0][0].placement["take"]
        assert (draws["setup"], draws["setup_from"]) == (setup - 1, "source")
        assert (draws["facing"], draws["facing_from"]) == (facing, "source")
    beyond = cameras_at_rest(rig, make_take(capture_setup=30, capture_replication=1), seed=0)[0][0].placement["take"]
    assert beyond["setup_from"] == "draw"  # S030 is beyond the (NTU-60) table


def test_amarv_views_are_90_degrees_apart():
    rig = rig_of("amarv", rig={"azimuth_jitter_deg": 0})
    assert rig.camera_motion == "follow"
    take = make_take()
    azimuths = camera_azimuths(cameras_at_rest(rig, take, seed=0), take.path_center)
    assert [wrap(b - a) for a, b in itertools.pairwise(azimuths)] == pytest.approx([90.0, 90.0, 90.0])
    jittered = cameras_at_rest(rig_of("amarv"), take, seed=0)
    for (view, _, _), expected in zip(jittered, (0, 90, 180, 270), strict=True):
        jitter = view.placement["azimuth_jitter_deg"]
        assert abs(jitter) <= 10 and wrap(view.azimuth_deg - take.heading_deg - expected - jitter) == pytest.approx(
            0.0, abs=1e-9
        )


def test_amarv_preset_mirrors_the_released_dataset():
    config = validate_config({"preset": "amarv"})
    assert (config["render"]["span"], config["render"]["repetitions"]) == ("whole", 3)
    assert (config["render"]["width"], config["render"]["height"], config["clips"]["fps"]) == (640, 480, 30)
    assert config["labels"]["protocols"] == ["segments", "babel-chunks-60", "babel-chunks-120"]


def test_smarthome_cameras_hang_high_in_the_room_and_look_down_at_it():
    rig = rig_of("smarthome")
    take = make_take(path_center=(4.0, -1.5), heading_deg=123.0)
    views = cameras_at_rest(rig, take, seed=0)
    assert len(views) == 7
    blocks = [b for b in room.room_blocks() if not b.name.startswith("wall")]
    for view, _, camera in views:
        c = camera.position
        local = c[:2] - np.array(take.path_center)
        assert 2.0 < c[2] <= 2.6 and room.inside_room(*local, margin=0.0), view.name
        assert not any(
            abs(local[0] - b.centre[0]) < b.size[0] / 2
            and abs(local[1] - b.centre[1]) < b.size[1] / 2
            and c[2] < b.centre[2] + b.size[2] / 2
            for b in blocks
        ), view.name
        forward = camera.R[2]
        assert forward[2] < -0.15, view.name  # tilted down
        # The room centre (the actor's path centre) is in the image.
        u, v = project((camera.R @ np.array([*take.path_center, 0.9]) + camera.t)[None], camera.K)[0]
        assert 0 <= u < rig.width and 0 <= v < rig.height, view.name
    # Fixed in the room: turning the actor moves no camera (only per-view jitter is drawn).
    turned = cameras_at_rest(rig, make_take(path_center=(4.0, -1.5), heading_deg=-50.0), seed=0)
    assert all(np.allclose(a[2].t, b[2].t) for a, b in zip(views, turned, strict=True))


# --- domain randomisation ---------------------------------------------------------------


def test_body_shape_noise_is_seeded_per_take():
    a = body_shape_noise(0, "t1", 0.5, 16)
    assert np.array_equal(a, body_shape_noise(0, "t1", 0.5, 16)) and a.std() > 0.1
    assert not np.array_equal(a, body_shape_noise(0, "t2", 0.5, 16))
    assert not body_shape_noise(0, "t1", 0.0, 16).any()


def test_appearance_ranges_come_from_the_config():
    ranges = AppearanceRanges.from_config(
        validate_config({"randomize": {"hdri_strength": [2.0, 2.5], "clothing_patterns": ["checker"]}})["randomize"]
    )
    assert AppearanceRanges.from_config(validate_config({})["randomize"]) == AppearanceRanges()
    for seed in range(30):
        look = sample_appearance(seed, HDRIS, ranges, room=True)
        assert 2.0 <= look.hdri_strength <= 2.5
        assert look.top.pattern == look.bottom.pattern == look.shoes.pattern == "checker"
        assert 100 <= look.room.light_w <= 300
        # The room's draws come last: the rest of the look is the outdoor one.
        outdoor = sample_appearance(seed, HDRIS, ranges).to_dict()
        assert {k: v for k, v in look.to_dict().items() if k != "room"} == outdoor
    assert set(PATTERNS) == set(AppearanceRanges().clothing_patterns)
    assert select_hdris(HDRIS, []) == HDRIS and select_hdris(HDRIS, ["night"]) == ["night"]
    with pytest.raises(ValueError, match=r"randomize\.hdris"):
        select_hdris(HDRIS, ["moon"])


# --- end to end (real Blender) ------------------------------------------------------------

# Tiny on purpose: one demo sequence at 2 fps, one take, one Cycles sample.
BASE = {
    "seed": 3,
    "output_dir": "output",
    "demo": {"enabled": False},
    "clips": {"fps": 2},
    "render": {"width": 64, "height": 48, "samples": 1, "repetitions": 1},
}


@pytest.fixture(scope="module")
def demo_data(tmp_path_factory) -> dict:
    """The built-in demo inputs, generated once for every preset run."""
    from synthact.demo.generate import generate_demo_inputs

    root = tmp_path_factory.mktemp("preset-demo")
    motion = {
        "amass_root": str(root / "amass"),
        "babel_dir": str(root / "babel"),
        "body_model_dir": str(root / "body_models"),
    }
    generate_demo_inputs(
        validate_config({"demo": {"data_dir": str(root), "sequences": 1, "seed": 1}, "motion": motion})
    )
    return motion


def build(tmp_path_factory, demo_data: dict, preset: str, **extra) -> Path:
    config = copy.deepcopy(BASE) | {"preset": preset, "motion": demo_data}
    for key, value in extra.items():
        config[key] = config.get(key, {}) | value
    workdir = make_run(tmp_path_factory.mktemp(preset), config)
    snakemake(workdir)
    return workdir


@pytest.mark.slow
def test_a_reshaped_body_keeps_its_lowest_point(demo_data):
    from synthact.body.smplh import BodyModel
    from synthact.render.worker import ground_offset
    from synthact.sources.amass import load_motion

    root = Path(demo_data["amass_root"])
    motion = load_motion(str(next(root.rglob("*_poses.npz")).relative_to(root)), root=root)
    model = BodyModel(demo_data["body_model_dir"], motion.gender)
    poses, trans, betas = motion.poses[:5], motion.trans[:5], np.asarray(motion.betas, np.float32)
    assert ground_offset(model, poses, trans, betas, np.zeros_like(betas)) == 0.0
    noise = body_shape_noise(0, "t1", 1.5, len(betas))
    offset = ground_offset(model, poses, trans, betas, noise)
    assert offset != 0.0
    plain = model.pose(poses, trans, betas)
    reshaped = model.pose(poses, trans + np.array([0.0, 0.0, offset]), betas + noise)
    assert reshaped.vertices[0, :, 2].min() == pytest.approx(plain.vertices[0, :, 2].min(), abs=1e-5)
    assert not np.allclose(reshaped.vertices[0], plain.vertices[0], atol=1e-3)  # another body


@pytest.fixture(scope="module")
def amarv_run(tmp_path_factory, demo_data) -> Path:
    return build(tmp_path_factory, demo_data, "amarv")


@pytest.fixture(scope="module")
def ntu_run(tmp_path_factory, demo_data) -> Path:
    return build(tmp_path_factory, demo_data, "ntu", render={"height": 36})


@pytest.fixture(scope="module")
def smarthome_run(tmp_path_factory, demo_data) -> Path:
    return build(tmp_path_factory, demo_data, "smarthome")


def stored_views(workdir: Path):
    """(take group, {view: (camera centres (T, 3), R (T, 3, 3), view group)}) for every stored take."""
    for path in shard_files(workdir):
        with h5py.File(path) as f:
            for take_id in f["takes"]:
                take = f[f"takes/{take_id}"]
                views = {}
                for name in json.loads(f.attrs["views"]):
                    group = take[f"views/{name}"]
                    R, t = group["R"][()], group["t"][()]
                    views[name] = (-np.einsum("tji,tj->ti", R, t), R, group)
                yield take, views


def stored_azimuth(centre: np.ndarray, take) -> float:
    path_center = take.attrs["path_center"]
    return math.degrees(math.atan2(centre[1] - path_center[1], centre[0] - path_center[0]))


def aim_azimuth(R: np.ndarray) -> float:
    """Azimuth of a camera around the point it looks at, from its forward axis."""
    forward = R[2]
    return math.degrees(math.atan2(-forward[1], -forward[0]))


def check_common(workdir: Path, views: list[str]) -> int:
    """What every preset's shards share: views, NTU-25 joints, shape draws, per-frame cameras."""
    manifest = json.loads((workdir / "output" / "manifest.json").read_text())
    assert manifest["views"] == views
    takes = 0
    for take, stored in stored_views(workdir):
        takes += 1
        world = take["joints_world"][()]
        assert np.array_equal(take["ntu25/joints_world"][()], world[..., list(SMPLH_TO_NTU25), :])
        betas, used, noise = (take[f"smplh/{k}"][()] for k in ("betas", "betas_used", "shape_noise"))
        assert np.allclose(used, betas + noise, atol=1e-6)
        for _, R, group in stored.values():
            cam, uv = group["ntu25/joints_cam"][()], group["ntu25/keypoints_2d"][()]
            persons = world.shape[:2]  # (T, P): every per-person dataset has the person axis
            assert cam.shape == (*persons, 25, 3) and group["ntu25/keypoints_visible"].shape == (*persons, 25)
            K = group["K"][()]
            assert K.shape == (len(world), 3, 3) and R.shape == (len(world), 3, 3)
            assert np.abs(project(cam.astype(np.float64), K[0]) - uv).max() < 1e-2
            assert np.array_equal(cam, group["joints_cam"][()][..., list(SMPLH_TO_NTU25), :])
            assert "placement" in group.attrs
    assert takes >= 1
    return takes


def check_static(stored: dict) -> None:
    for name, (centre, R, _) in stored.items():
        assert np.allclose(centre, centre[0]) and np.allclose(R, R[0]), f"{name}: a static camera moved"


@pytest.mark.slow
def test_amarv_preset_builds_four_views_90_degrees_apart_that_follow(amarv_run):
    check_common(amarv_run, ["front", "left", "back", "right"])
    for take, stored in stored_views(amarv_run):
        assert take.attrs["fps"] == 2.0 and not take["smplh/shape_noise"][()].any()  # AMASS shapes kept
        assert take.attrs["camera_motion"] == "follow"
        for name, offset in zip(("front", "left", "back", "right"), (0, 90, 180, 270), strict=True):
            _, R, group = stored[name]
            jitter = json.loads(group.attrs["placement"])["azimuth_jitter_deg"]
            expected = take.attrs["heading_deg"] + offset + jitter
            for i in range(len(R)):  # the camera keeps its azimuth around the actor as it follows
                assert wrap(aim_azimuth(R[i]) - expected) == pytest.approx(0.0, abs=1e-6)
            assert group["mask"][()].any(axis=(1, 2)).all()
    labels = json.loads((amarv_run / "output" / "manifest.json").read_text())["labels"]
    assert [e["protocol"] for e in labels][::2] == ["segments", "babel-chunks-60", "babel-chunks-120"]


@pytest.mark.slow
def test_ntu_preset_cameras_stand_at_minus_45_0_and_45_degrees(ntu_run):
    check_common(ntu_run, ["c1", "c2", "c3"])
    for take, stored in stored_views(ntu_run):
        check_static(stored)
        azimuth = {name: stored_azimuth(centre[0], take) for name, (centre, _, _) in stored.items()}
        assert wrap(azimuth["c2"] - azimuth["c1"]) == pytest.approx(45.0, abs=1e-6)
        assert wrap(azimuth["c3"] - azimuth["c1"]) == pytest.approx(-45.0, abs=1e-6)
        heights = {round(float(centre[0, 2]), 9) for centre, _, _ in stored.values()}
        rig = json.loads(take.attrs["rig"])
        assert heights == {rig["setup_height_m"]}
        faced = azimuth[rig["facing"]] - take.attrs["heading_deg"] - rig["facing_jitter_deg"]
        assert wrap(faced) == pytest.approx(0.0, abs=1e-6)
        assert take["smplh/shape_noise"][()].any()  # the preset randomises body shape
        assert all(group["mask"][()].any() for _, _, group in stored.values())


@pytest.mark.slow
def test_smarthome_preset_cameras_are_high_and_look_down_into_the_room(smarthome_run):
    check_common(smarthome_run, [f"cam{i}" for i in range(1, 8)])
    seen = []
    for take, stored in stored_views(smarthome_run):
        check_static(stored)
        assert json.loads(take.attrs["appearance"])["room"]["light_w"] > 0
        for name, (centre, R, group) in stored.items():
            assert centre[0, 2] > 2.0 and R[0][2][2] < -0.15, name  # above 2 m, looking down
            local = centre[0, :2] - take.attrs["path_center"]
            assert room.inside_room(*local), name
            placement = json.loads(group.attrs["placement"])
            assert np.allclose(placement["room_position_m"], local)
            mask = group["mask"][()]
            seen.append(mask.any(axis=(1, 2)).mean())
            # The mask is the body's alone: walls and furniture are never the person.
            assert ((group["parts"][()] > 0) == mask.astype(bool)).all()
            depth = depth_codec.decode_stored(group["depth"][()], group["depth"].attrs["encoding"])
            assert (depth > 0).all(), name  # inside a closed room every ray hits a surface
    assert np.mean(seen) > 0.9  # furniture may hide the actor now and then, rarely
