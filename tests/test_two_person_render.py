"""Takes with two bodies through the render task and the merge: both bodies drawn in every
view, each with its own instance id and ground truth, and the shard in format 4 with P = 2.

One module-scoped render with the geometry engine (a two-person take and the same take
with one body) and one tiny Cycles render. The motions are the demo's, written as two AMASS
files: body 1 is body 0's motion moved 0.8 m sideways and absent in two frames.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

import h5py
import numpy as np
import pytest

from synthact import shard_format
from synthact.codecs import depth as depth_codec
from synthact.render.cache import RenderCache, windows
from synthact.scene.rig import ViewPlan
from synthact.takes.plan import ShardPlan, TakePlan
from synthact.takes.records import Take
from tests.helpers import tiny_config

pytestmark = pytest.mark.slow

T = 6
ABSENT = (2, 3)  # body 1 is not in the scene in these frames
WINDOW = 4  # two windows: 4 frames and 2
VIEWS = ("front", "side")
SIZE = (96, 72)
PARTNER = "Two/B_poses.npz"


@dataclass
class TwoPersonRun:
    root: Path
    config: dict
    two: TakePlan
    one: TakePlan
    shard_two: Path
    shard_one: Path
    renderer: object  # the geometry engine's TakeRenderer, for renders of one body alone


def write_motions(root: Path, body_models: Path) -> float:
    """Two AMASS files of T frames, body 1 beside body 0 and absent in ``ABSENT``; returns the rate."""
    from synthact.demo.dataset import write_demo_dataset
    from synthact.fitting.export import motion_arrays, write_motion
    from synthact.sources.amass import iter_motion_files, load_motion

    write_demo_dataset(root / "demo", body_models, num_sequences=1, seed=0)
    motion = load_motion(next(iter_motion_files(root / "demo" / "amass")))
    fps = float(round(motion.fps))
    poses, trans = motion.poses[:T], motion.trans[:T]
    write_motion(root / "amass" / "Two" / "A_poses.npz", motion_arrays(poses, trans, motion.betas, "female", fps))
    partner = motion_arrays(poses, trans + (0.0, 0.8, 0.0), motion.betas, "male", fps)
    partner["present"] = np.isin(np.arange(T), ABSENT, invert=True)
    write_motion(root / "amass" / PARTNER, partner)
    return fps


def take_plan(fps: float, partners: tuple[str, ...]) -> TakePlan:
    take = Take(
        take_id="t2p" if partners else "t1p",
        sequence_key="Two/A_poses.npz",
        source="Two/A_poses.npz",
        sequence_id="1",
        split="train",
        repetition=0,
        fps=fps,
        source_fps=fps,
        num_sequence_frames=T,
        duration_s=T / fps,
        spans=((0, T),),
        gender="female",
        path_center=(0.0, 0.4 if partners else 0.0),
        path_radius=0.5,
        partners=partners,
    )
    views = (
        ViewPlan("front", 3, "follow", 0.0, 3.0, 1.2, {"azimuth_jitter_deg": 0.0, "look_at_height_m": 0.9}),
        ViewPlan("side", 4, "static", 70.0, 3.0, 1.4, {"azimuth_jitter_deg": 0.0, "look_at_height_m": 0.9}),
    )
    return TakePlan(take, 11, views)


def make_renderer(config: dict, **render: object) -> object:
    from synthact.config import validate_config
    from synthact.config_sections import RunConfig
    from synthact.render.worker import TakeRenderer

    run = RunConfig.from_dict(validate_config(tiny_config(**{**config, "render": {**config["render"], **render}})))
    return TakeRenderer(run.seed, run.motion, run.rig, run.render, run.randomize, run.clips.fps)


def render_shard(renderer: object, take: TakePlan, out: Path) -> Path:
    """Every window of every view through the render task's loop, then the merge."""
    from synthact.render.worker import render_windows
    from synthact.shards.writer import write_shard

    cache = RenderCache(out.parent / f"cache-{out.stem}")
    views = tuple(v.name for v in take.views)
    for view in views:
        jobs = [
            (take, i, a, b, cache.window_path(view, take.take.take_id, i))
            for i, (a, b) in enumerate(windows(T, WINDOW))
        ]
        render_windows(renderer, view, jobs)
    plan = ShardPlan("train-00000-of-00001", "train", views, WINDOW, "key", (take,))
    write_shard(plan, cache, out, {"seed": 7, "render_key": "rk"})
    return out


@pytest.fixture(scope="module")
def two_person(tmp_path_factory, demo_body_model_dir) -> TwoPersonRun:
    root = tmp_path_factory.mktemp("two_person")
    shutil.copytree(demo_body_model_dir, root / "body_models")
    fps = write_motions(root, root / "body_models")
    views = [{"name": "front", "azimuth_deg": 0.0}, {"name": "side", "azimuth_deg": 70.0}]
    config = {
        "demo": {"enabled": False},
        "motion": {"amass_root": str(root / "amass"), "body_model_dir": str(root / "body_models")},
        "clips": {"fps": int(fps)},
        "rig": {"views": views},
        "render": {"width": SIZE[0], "height": SIZE[1], "samples": 1, "threads": 1, "engine": "GEOMETRY"},
    }
    renderer = make_renderer(config)
    two, one = take_plan(fps, (PARTNER,)), take_plan(fps, ())
    shard_two = render_shard(renderer, two, root / "two.h5")
    shard_one = render_shard(renderer, one, root / "one.h5")
    return TwoPersonRun(root, config, two, one, shard_two, shard_one, renderer)


def view_arrays(shard: Path, take_id: str, view: str) -> dict[str, np.ndarray]:
    with h5py.File(shard) as f:
        group = f[shard_format.view_path(take_id, view)]
        out = {name: group[name][()] for name in ("instances", "mask", "parts", "keypoints_2d", "keypoints_visible")}
        out |= {name: group[name][()] for name in ("bbox", "joints_cam", "K", "R", "t", "ntu25/keypoints_2d")}
        out["depth"] = depth_codec.decode_stored(group["depth"][()], group["depth"].attrs["encoding"])
    return out


def alone(run: TwoPersonRun, view: str, person: int) -> object:
    """Body ``person`` of the two-person take rendered without the other, with the same cameras."""
    from synthact.scene.cameras import Camera

    renderer = run.renderer
    prepared = renderer.prepare(run.two, view)
    posed = renderer.pose_window(prepared, 0, T)[person]
    path = prepared.cameras
    cameras = [Camera(K=path.K, R=path.R[i], t=path.t[i], width=SIZE[0], height=SIZE[1]) for i in range(T)]
    return renderer.scene.render_clip(posed.vertices, cameras, prepared.appearance)


def test_the_shard_has_format_4_and_a_person_axis_of_two(two_person):
    with h5py.File(two_person.shard_two) as f:
        assert f.attrs["format_version"] == shard_format.FORMAT_VERSION == 4
        take = f[shard_format.take_path("t2p")]
        assert take.attrs["num_persons"] == 2
        persons = json.loads(take.attrs["persons"])
        assert [p["source"] for p in persons] == ["Two/A_poses.npz", PARTNER]
        assert [p["gender"] for p in persons] == ["female", "male"]
        assert persons[0]["appearance"] != persons[1]["appearance"]  # each body its own look
        assert len(json.loads(take.attrs["appearance"])["partners"]) == 1
        sizes = {"T": T, "P": 2, "H": SIZE[1], "W": SIZE[0]}
        for spec in (*shard_format.TAKE_DATASETS, *shard_format.VIEW_DATASETS):
            if spec is shard_format.RGB:
                continue
            group = take if spec in shard_format.TAKE_DATASETS else take[f"views/{VIEWS[0]}"]
            want = tuple(sizes.get(d) or int(d) for d in spec.shape.strip("(,)").split(", "))
            got = group[spec.name].shape
            assert got[: len(want)] == want[: len(got)] and len(got) == len(want), (spec.name, got, want)
        present = take["present"][()]
        assert present[:, 0].all() and present[:, 1].tolist() == [f not in ABSENT for f in range(T)]
        joints, ntu25 = take["joints_world"][()], take["ntu25/joints_world"][()]
        assert np.isnan(joints[~present]).all() and np.isnan(ntu25[~present]).all()
        assert np.isfinite(joints[present]).all()
        assert np.isnan(take["smplh/poses"][()][~present]).all() and np.isfinite(take["smplh/trans"][()][present]).all()


def test_both_bodies_are_drawn_in_every_view_and_absent_frames_show_no_pixel(two_person):
    shown = np.isin(np.arange(T), ABSENT, invert=True)
    for view in VIEWS:
        got = view_arrays(two_person.shard_two, "t2p", view)
        ids = got["instances"]
        assert ((ids == 1).sum(axis=(1, 2)) > 50).all(), view
        assert ((ids == 2).sum(axis=(1, 2)) > 50)[shown].all(), view
        assert not (ids == 2)[~shown].any(), view
        np.testing.assert_array_equal(got["mask"], ids > 0)  # the mask is the union
        assert np.isnan(got["keypoints_2d"][~shown, 1]).all() and not got["keypoints_visible"][~shown, 1].any()
        assert np.isnan(got["bbox"][~shown, 1]).all() and np.isfinite(got["bbox"][:, 0]).all()
        assert np.isnan(got["ntu25/keypoints_2d"][~shown, 1]).all()


def test_each_instance_agrees_with_that_body_rendered_alone(two_person):
    covered = 0  # pixels where one body hides the other
    for view in VIEWS:
        got = view_arrays(two_person.shard_two, "t2p", view)
        solo = [alone(two_person, view, k) for k in range(2)]
        depth = [np.where(s.mask, s.depth, np.inf) for s in solo]
        nearest = np.where(depth[1] < depth[0], 2, 1)
        expected = np.where(solo[0].mask | solo[1].mask, nearest, 0)
        tie = np.abs(depth[0] - depth[1]) < 1e-4
        np.testing.assert_array_equal(got["instances"][~tie], expected[~tie])
        for k in range(2):
            own = got["instances"] == k + 1
            error = np.abs(got["depth"][own] - solo[k].depth[own]).max()
            assert error <= depth_codec.MAX_PERSON_ERROR_M + 1e-6  # within a millimetre on the person
            np.testing.assert_array_equal(got["parts"][own], solo[k].parts[own])
        covered += (solo[0].mask & (got["instances"] == 2)).sum() + (solo[1].mask & (got["instances"] == 1)).sum()
    assert covered > 0, "the bodies never overlap: move them closer"


def test_each_persons_visible_keypoints_fall_on_that_persons_instance(two_person):
    for view in VIEWS:
        got = view_arrays(two_person.shard_two, "t2p", view)
        ids = got["instances"]
        t, k, j = np.nonzero(got["keypoints_visible"])
        assert set(k.tolist()) == {0, 1}
        uv = got["keypoints_2d"][t, k, j]
        assert (ids[t, uv[:, 1].astype(int), uv[:, 0].astype(int)] == k + 1).all()
        for person in range(2):  # each box is its own instance's
            own = ids == person + 1
            rows = np.flatnonzero(own[0].any(axis=1))
            assert got["bbox"][0, person, 1] == rows[0] and got["bbox"][0, person, 3] == rows[-1] + 1


def test_a_keypoint_hidden_by_the_other_body_is_not_visible(two_person):
    """Some joints of one body project onto the other's pixels in front of them: none of those is visible."""
    hidden = 0
    for view in VIEWS:
        got = view_arrays(two_person.shard_two, "t2p", view)
        ids, uv = got["instances"], got["keypoints_2d"]
        inside = np.isfinite(uv).all(-1) & (uv[..., 0] >= 0) & (uv[..., 0] < SIZE[0])
        inside &= (uv[..., 1] >= 0) & (uv[..., 1] < SIZE[1])
        t, k, j = np.nonzero(inside)
        px = ids[t, uv[t, k, j, 1].astype(int), uv[t, k, j, 0].astype(int)]
        other = (px > 0) & (px != k + 1)
        hidden += other.sum()
        assert not got["keypoints_visible"][t[other], k[other], j[other]].any()
    assert hidden > 0, "the bodies never overlap: move them closer"


def test_person_zero_is_the_one_person_take(two_person):
    """The same take without its partner: person 0's body, shape draw and look are unchanged."""
    with h5py.File(two_person.shard_two) as two, h5py.File(two_person.shard_one) as one:
        a, b = two[shard_format.take_path("t2p")], one[shard_format.take_path("t1p")]
        assert b.attrs["num_persons"] == 1 and b["joints_world"].shape == (T, 1, 73, 3)
        for name in ("joints_world", "smplh/poses", "smplh/trans", "smplh/betas_used", "smplh/shape_noise"):
            np.testing.assert_array_equal(a[name][()][:, :1] if a[name].ndim > 2 else a[name][:1], b[name][()])
        assert a["smplh"].attrs["ground_offset_m"] == b["smplh"].attrs["ground_offset_m"]
        look = json.loads(a.attrs["appearance"])
        del look["partners"]
        assert look == json.loads(b.attrs["appearance"])
        assert json.loads(a.attrs["persons"])[0] | {"source": None} == json.loads(b.attrs["persons"])[0] | {
            "source": None
        }


def test_cycles_draws_two_bodies_as_the_geometry_engine_does(two_person, tmp_path):
    """One tiny Cycles render of the two-person take: its instances match the z-buffer's."""
    cycles = make_renderer(two_person.config, engine="CYCLES", samples=1, max_bounces=1)
    shard = render_shard(cycles, replace(two_person.two, views=two_person.two.views[:1]), tmp_path / "c.h5")
    # The same scene then renders a one-person take: the second body is hidden, not drawn.
    alone = render_shard(cycles, replace(two_person.one, views=two_person.one.views[:1]), tmp_path / "c1.h5")
    cycles.scene.close()
    ids = view_arrays(alone, "t1p", "front")["instances"]
    assert set(np.unique(ids).tolist()) == {0, 1}
    reference = view_arrays(two_person.shard_one, "t1p", "front")["instances"] == 1
    assert ((ids == 1) & reference).sum() / ((ids == 1) | reference).sum() >= 0.9
    geometry = view_arrays(two_person.shard_two, "t2p", "front")
    got = view_arrays(shard, "t2p", "front")
    for k in (1, 2):
        a, b = got["instances"] == k, geometry["instances"] == k
        present = b.any(axis=(1, 2))
        iou = (a & b).sum(axis=(1, 2))[present] / (a | b).sum(axis=(1, 2))[present]
        assert iou.min() >= 0.9, (k, iou)
        assert not a[~present].any()
    with h5py.File(shard) as f:
        assert f[shard_format.view_path("t2p", "front")]["rgb/data"].size > 0
