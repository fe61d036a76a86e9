"""HDF5 shards and the manifest: a round trip through our writer, our reader,
and HDF5's own command-line tools (h5ls, h5dump), without rendering."""

import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import h5py
import numpy as np
import pytest

from synthact import shard_format
from synthact.codecs import depth as depth_codec
from synthact.codecs import normals as normals_codec
from synthact.consume.reader import ShardReader, ShardVersionError
from synthact.render.cache import RenderCache, windows
from synthact.render.encode import StorageSettings, WindowCoder
from synthact.render.visibility import keypoint_visibility
from synthact.render.window_record import WindowRecord, WindowRecordError, WindowScene, expected_keys
from synthact.render.worker import mask_bboxes
from synthact.scene.rig import ViewPlan
from synthact.shards.manifest import verify, write_manifest
from synthact.shards.writer import MergeError, write_shard
from synthact.takes.plan import ShardPlan, TakePlan
from synthact.takes.records import SourceLabel, Take

T, H, W, J = 5, 24, 32, 73
WINDOW = 2  # windows of 2, 2 and 1 frames
VIEWS = ["front", "back"]


KEYFRAMES = StorageSettings(keyframe_interval=2)  # windows of 2 frames: each starts a GOP


def unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v, axis=-1, keepdims=True)).astype(np.float32)


def raw_path(window_path: Path) -> Path:
    """Where a test window's raw frames are kept, beside the cache (not in it)."""
    return window_path.parents[3] / "raw" / window_path.relative_to(window_path.parents[2])


def fake_window(
    rng: np.random.Generator, joints_world: np.ndarray, a: int, b: int, settings: StorageSettings = KEYFRAMES
) -> tuple[WindowRecord, dict[str, np.ndarray]]:
    """A window as the render loop caches it, coded by the real WindowCoder, and its raw
    frames (``raw_*``, ``mask``, ``parts``) so tests can compare what the shard gives back."""
    n = b - a
    mask = np.zeros((n, H, W), dtype=np.uint8)
    mask[:, 5:20, 10:22] = 1
    yy, xx = np.mgrid[0:H, 0:W]
    rgb = np.stack(
        [np.stack([(xx * 7 + t * 5) % 256, (yy * 9) % 256, np.full_like(xx, 90 + 10 * t)], -1) for t in range(a, b)]
    ).astype(np.uint8)  # smooth, so the video codes it well
    depth = np.where(mask, 3.0 + rng.random((n, H, W)), 0).astype(np.float32)
    depth[:, 0, :] = 131.0  # the far ground plane, beyond uint16 millimetres
    normals = np.where(depth[..., None] > 0, unit(rng.standard_normal((n, H, W, 3))), 0).astype(np.float32)
    parts = (mask * rng.integers(1, 17, (n, H, W))).astype(np.uint8)
    coder = WindowCoder(W, H, settings)
    for i in range(n):
        coder.add(rgb[i], depth[i], mask[i], parts[i], normals[i], mask[i])
    R = np.repeat(np.eye(3)[None], n, 0)
    keypoints_2d = rng.uniform(0, W, (n, 1, J, 2)).astype(np.float32)
    visible = rng.random((n, 1, J)) > 0.5
    scene = WindowScene(
        keypoints_2d=keypoints_2d,
        joints_cam=rng.standard_normal((n, 1, J, 3)).astype(np.float32),
        joints_world=joints_world[a:b],
        K=np.array([[30.0, 0, 16], [0, 30.0, 12], [0, 0, 1]]),
        R=R,
        t=np.tile([0.0, 0.0, 3.0 + a], (n, 1)),
        distance_m=3.5,
        source_frames=np.arange(a, b) * 4,
        poses=np.zeros((n, 1, 156), np.float32),
        trans=np.zeros((n, 1, 3), np.float32),
        betas=np.zeros((1, 16), np.float32),
        betas_used=np.zeros((1, 16), np.float32),
        shape_noise=np.zeros((1, 16), np.float32),
        present=np.ones((n, 1), bool),
        ground_offset_m=0.0,
        gender="female",
        appearance='{"hdri": "forest"}',
        persons='[{"gender": "female", "source": "Demo/S01/t_poses.npz"}]',
    )
    boxes = mask_bboxes(mask.astype(bool))[:, None]
    record = WindowRecord(scene, coder.finish(), keypoints_visible=visible, bbox=boxes)
    return record, {"raw_rgb": rgb, "raw_depth": depth, "mask": mask, "parts": parts, "raw_normals": normals}


def make_take(take_id: str) -> Take:
    walk = SourceLabel(
        "seg", 0.0, 0.2, ("walk", "forward movement"), "walks", "walk", "lid", "anntr", False, "train.json"
    )
    return Take(
        take_id=take_id,
        sequence_key=f"Demo/Demo/S01/{take_id}_poses.npz",
        source=f"Demo/S01/{take_id}_poses.npz",
        sequence_id="3",
        split="train",
        repetition=0,
        fps=30.0,
        source_fps=120.0,
        num_sequence_frames=T,
        duration_s=T / 30,
        spans=((0, T),),
        gender="female",
        labels=(walk,),
        path_center=(0.0, 0.0),
        path_radius=0.2,
        heading_deg=10.0,
    )


def make_plan(take_ids: list[str]) -> ShardPlan:
    takes = tuple(
        TakePlan(
            make_take(t),
            123,
            tuple(ViewPlan(v, 7, "follow", 0.0, 3.0, 1.2, {"azimuth_jitter_deg": 1.0}) for v in VIEWS),
        )
        for t in take_ids
    )
    return ShardPlan("train-00000-of-00001", "train", tuple(VIEWS), WINDOW, "plankey", takes)


@pytest.fixture
def cache(tmp_path):
    rng = np.random.default_rng(0)
    plan = make_plan(["t1", "t2"])
    cache = RenderCache(tmp_path / "cache")
    for take in plan.takes:
        joints_world = rng.standard_normal((T, 1, J, 3)).astype(np.float32)
        for view in VIEWS:
            for i, (a, b) in enumerate(windows(T, WINDOW)):
                path = cache.window_path(view, take.take.take_id, i)
                record, raw = fake_window(rng, joints_world, a, b)
                record.write(path)
                raw_path(path).parent.mkdir(parents=True, exist_ok=True)
                np.savez(raw_path(path), **raw)
    return plan, cache


def test_round_trip_through_our_reader(tmp_path, cache):
    plan, cache = cache
    out = tmp_path / "out" / "shards" / "train-00000-of-00001.h5"
    assert write_shard(plan, cache, out, {"seed": 0})[0] == 2
    assert not list(out.parent.glob(".*tmp"))  # no temporary left behind
    reader = ShardReader(out)
    assert reader.take_ids == ["t1", "t2"] and reader.views == VIEWS
    got = reader.read("t2", "back")
    for i, (a, b) in enumerate(windows(T, WINDOW)):
        path = cache.window_path("back", "t2", i)
        record = WindowRecord.read(path)
        with np.load(raw_path(path)) as raw:
            fields = ("keypoints_2d", "keypoints_visible", "joints_cam", "bbox", "R", "t", "joints_world")
            expected = {**{k: record.field(k) for k in fields}, **raw}
            for key in ("mask", "parts", "keypoints_2d", "keypoints_visible", "joints_cam", "bbox", "R", "t"):
                assert np.array_equal(got[key][a:b], expected[key], equal_nan=True), key  # lossless, in order
            assert np.array_equal(got["joints_world"][a:b], expected["joints_world"])
            raw = expected["raw_depth"]
            near = (raw > 0) & (raw < 60)
            bound = depth_codec.max_error_m(raw, expected["mask"])[near] + 1e-6  # 1 mm on the person
            assert (np.abs(got["depth"][a:b][near] - raw[near]) <= bound).all()
            far = raw > 60
            assert (np.abs(got["depth"][a:b][far] - raw[far]) <= 2.6e-4 * raw[far]).all()  # the log band
            assert (got["depth"][a:b][raw == 0] == 0).all()  # no surface stays 0
            cos = np.sum(got["normals"][a:b] * expected["raw_normals"], axis=-1)[raw > 0]
            assert np.degrees(np.arccos(np.clip(cos, -1, 1))).max() <= normals_codec.MAX_ERROR_DEG[8]
            assert (got["normals"][a:b][raw == 0] == 0).all()
            psnr = 10 * np.log10(255**2 / np.mean((got["rgb"][a:b].astype(float) - expected["raw_rgb"]) ** 2))
            assert psnr > 30, psnr
    assert got["rgb"].shape == (T, H, W, 3) and got["K"].shape == (T, 3, 3)  # a camera per frame
    assert got["t"][:, 2].tolist() == [3.0, 3.0, 5.0, 5.0, 7.0]
    attrs = reader.take_attrs("t2")
    assert attrs["segments"][0]["act_cat"] == ["walk", "forward movement"] and attrs["num_frames"] == T
    assert attrs["camera_motion"] == "follow" and reader.view_attrs("t2", "back")["distance_m"] == 3.5


def test_reads_only_the_frames_and_modalities_asked_for(tmp_path, cache):
    plan, cache = cache
    out = tmp_path / "s.h5"
    write_shard(plan, cache, out, {})
    reader = ShardReader(out)
    full = reader.read("t1", "front")
    window = reader.read("t1", "front", modalities=["rgb", "depth", "joints_world"], frames=slice(1, 4))
    assert sorted(window) == ["depth", "joints_world", "rgb"]
    assert np.array_equal(window["depth"], full["depth"][1:4]) and np.array_equal(window["rgb"], full["rgb"][1:4])
    picked = reader.read("t1", "front", modalities=["keypoints_2d"], frames=[4, 0, 4])
    assert np.array_equal(picked["keypoints_2d"], full["keypoints_2d"][[4, 0, 4]])
    images = ["rgb", "depth", "normals", "mask", "parts"]
    with ShardReader(out, parallel_decode=False) as serial:  # the RGB thread changes nothing but the time
        for frames in ([4, 0, 4, -1], slice(3, 0, -1), slice(0, 5, 2), None):
            side_by_side, one_by_one = (
                reader.read("t1", "front", images, frames),
                serial.read("t1", "front", images, frames),
            )
            assert list(side_by_side) == images  # in the order asked for, RGB collected last or not
            for name in images:
                want = full[name] if frames is None else full[name][frames]
                assert np.array_equal(side_by_side[name], want) and np.array_equal(one_by_one[name], want), name
    with pytest.raises(KeyError, match="unknown modality 'colour'"):
        reader.read("t1", "front", modalities=["colour"])


def test_the_rgb_decode_thread_gets_bytes_already_read(tmp_path, cache):
    """h5py holds the GIL while it reads: the caller reads the window's packets, so
    the decode thread never waits for the depth read. Its job works on a closed file."""
    plan, cache = cache
    out = tmp_path / "s.h5"
    write_shard(plan, cache, out, {})
    with ShardReader(out) as reader:
        want = reader.read("t1", "front", ["rgb"], slice(1, 4))["rgb"]
        decode = reader._rgb_decoder(reader.file["takes/t1/views/front/rgb"], slice(1, 4))
    assert np.array_equal(decode(), want)


def test_same_inputs_give_byte_identical_shards(tmp_path, cache):
    plan, cache = cache
    a, b = tmp_path / "a.h5", tmp_path / "b.h5"
    write_shard(plan, cache, a, {"seed": 0})
    write_shard(plan, cache, b, {"seed": 0})
    assert a.read_bytes() == b.read_bytes()


def _tree(group: h5py.Group) -> tuple[set[str], set[str]]:
    """Datasets (a group with a video's index counts as one) and subgroups under ``group``, as paths."""
    datasets, groups = set(), set()

    def visit(name: str, node: h5py.HLObject) -> None:
        (datasets if isinstance(node, h5py.Dataset) else groups).add(name)

    group.visititems(visit)
    return datasets, groups


def test_the_shard_holds_exactly_what_the_format_module_declares(tmp_path, cache):
    plan, cache = cache
    out = tmp_path / "s.h5"
    write_shard(plan, cache, out, {"seed": 0, "render_key": "rk"})
    rgb = shard_format.RGB.name
    view_names = {s.name for s in shard_format.VIEW_DATASETS if s is not shard_format.RGB}
    view_names |= {f"{rgb}/{name}" for name in shard_format.VIDEO_DATASETS}
    with h5py.File(out) as f:
        assert set(f.attrs) == {a.name for a in shard_format.FILE_ATTRIBUTES}
        assert f.attrs["format_version"] == shard_format.FORMAT_VERSION
        for take_id in ("t1", "t2"):
            take = f[shard_format.take_path(take_id)]
            assert set(take.attrs) == {a.name for a in shard_format.TAKE_ATTRIBUTES}
            assert set(take[shard_format.SMPLH_GROUP].attrs) == {a.name for a in shard_format.SMPLH_ATTRIBUTES}
            datasets, _ = _tree(take)
            take_names = {s.name for s in shard_format.TAKE_DATASETS}
            assert datasets == take_names | {f"views/{v}/{n}" for v in VIEWS for n in view_names}
            for view in VIEWS:
                group = f[shard_format.view_path(take_id, view)]
                assert set(group.attrs) == {a.name for a in shard_format.VIEW_ATTRIBUTES}
                assert set(group[rgb].attrs) == {a.name for a in shard_format.VIDEO_ATTRIBUTES}
                for spec in shard_format.VIEW_DATASETS:
                    if spec is not shard_format.RGB:
                        assert group[spec.name].dtype == np.dtype(spec.dtype), spec.name
                        assert (
                            group[spec.name].shape[0] == T and len(group[spec.name].shape) == spec.shape.count(",") + 1
                        )
                    if spec.chunked_image:
                        assert group[spec.name].attrs["encoding"] == shard_format.ENCODINGS[spec.codec]
            for spec in shard_format.TAKE_DATASETS:
                assert take[spec.name].dtype == np.dtype(spec.dtype), spec.name


@pytest.mark.parametrize("version", [1, 5, None])
def test_the_reader_refuses_a_format_version_it_does_not_know(tmp_path, cache, version):
    plan, cache = cache
    out = tmp_path / "s.h5"
    write_shard(plan, cache, out, {})
    with h5py.File(out, "r+") as f:  # what an older or newer SynthAct would have written
        if version is None:
            del f.attrs["format_version"]
        else:
            f.attrs["format_version"] = version
    found = "no format_version" if version is None else f"format_version {version};"
    with pytest.raises(ShardVersionError, match=rf"^{re.escape(str(out))}: {found}.* reads format_version 2, 3, 4\b"):
        ShardReader(out).read("t1", "front", ["depth"])
    with h5py.File(out, "r+") as f:
        f.attrs["format_version"] = shard_format.FORMAT_VERSION
    with ShardReader(out) as reader:  # the same file, its version restored, reads
        assert reader.read("t1", "front", ["depth"])["depth"].shape == (T, H, W)


def test_window_records_round_trip_and_name_the_file_when_damaged(tmp_path, cache):
    _, cache = cache
    path = cache.window_path("front", "t1", 0)
    record = WindowRecord.read(path)
    with np.load(path) as data:
        assert data.files == expected_keys(video=True)  # the npz keys, in the order the render task writes them
        stored = {k: data[k] for k in data.files}
    copy = tmp_path / "copy" / "w00000.npz"
    record.write(copy)
    with np.load(copy) as data:
        assert all(np.array_equal(data[k], stored[k]) and data[k].dtype == stored[k].dtype for k in stored)
    assert record.num_frames == 2 and record.coded.video is not None and record.coded.normal_bits == 8
    del stored["bbox"]
    np.savez(copy, **stored)
    with pytest.raises(WindowRecordError, match=rf"^{re.escape(str(copy))}: render result lacks \['bbox'\]"):
        WindowRecord.read(copy)


@pytest.mark.skipif(shutil.which("h5ls") is None, reason="hdf5-tools not installed (make setup installs it)")
def test_independent_hdf5_tools_read_the_shard(tmp_path, cache):
    plan, cache = cache
    out = tmp_path / "s.h5"
    write_shard(plan, cache, out, {"seed": 0})
    listing = subprocess.run(["h5ls", "-r", str(out)], capture_output=True, text=True, check=True).stdout
    assert f"/takes/t1/views/front/depth Dataset {{{T}, 24, 32}}" in listing
    assert re.search(r"/takes/t2/views/back/rgb +Group", listing)
    assert re.search(rf"/takes/t2/views/back/rgb/keyframe +Dataset \{{{T}\}}", listing)
    depth = subprocess.run(
        ["h5dump", "-d", "/takes/t1/views/front/depth", "-s", "0,0,0", "-c", "1,1,4", str(out)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "65535, 65535" not in depth and re.search(r"\(0,0,0\): 6\d{4}, 6\d{4}", depth)  # far band codes, no plugin
    assert re.search(rf"/takes/t2/views/back/R +Dataset {{{T}, 3, 3}}", listing)
    dump = subprocess.run(
        ["h5dump", "-d", "/takes/t1/views/front/bbox", str(out)], capture_output=True, text=True, check=True
    )
    assert "10, 5, 22, 20" in dump.stdout  # the fake mask's box, read by HDF5's own tool


def test_missing_and_corrupt_results_name_the_file(tmp_path, cache):
    plan, cache = cache
    cache.window_path("back", "t2", 1).unlink()
    with pytest.raises(MergeError, match=r"t2/w00001\.npz: render result missing"):
        write_shard(plan, cache, tmp_path / "s.h5", {})
    assert not (tmp_path / "s.h5").exists() and not list(tmp_path.glob(".s.h5*"))
    cache.window_path("back", "t2", 1).write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(MergeError, match=r"t2/w00001\.npz: unreadable"):
        write_shard(plan, cache, tmp_path / "s.h5", {})


def test_a_view_that_saw_another_body_is_refused(tmp_path, cache):
    plan, cache = cache
    path = cache.window_path("back", "t1", 2)
    record = WindowRecord.read(path)
    replace(record, scene=replace(record.scene, joints_world=record.scene.joints_world + 1.0)).write(path)
    with pytest.raises(MergeError, match="saw a different body"):
        write_shard(plan, cache, tmp_path / "s.h5", {})


def test_manifest_checksums_shards_and_clip_tables(tmp_path, cache):
    plan, cache = cache
    out = tmp_path / "out"
    shard = out / "shards" / "train-00000-of-00001.h5"
    write_shard(plan, cache, shard, {"render_key": "rk"})
    clips, classes = out / "labels" / "segments" / "clips.jsonl", out / "labels" / "segments" / "classes.json"
    clips.parent.mkdir(parents=True)
    clips.write_text('{"clip_id": "c1"}\n{"clip_id": "c2"}\n')
    classes.write_text('{"classes": ["walk"]}')
    manifest = write_manifest(out, [shard], [("segments", clips, classes)], "rk", VIEWS)
    assert manifest.num_takes == 2 and manifest.num_frames == 2 * T and manifest.shards[0].take_ids == ["t1", "t2"]
    assert manifest.shards[0].render_key == "rk"
    assert [(e.path, e.num_clips, e.num_classes) for e in manifest.labels] == [
        ("labels/segments/clips.jsonl", 2, 1),
        ("labels/segments/classes.json", 2, 1),
    ]
    check = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=out, capture_output=True, text=True)
    assert check.returncode == 0 and "train-00000-of-00001.h5: OK" in check.stdout
    assert "labels/segments/clips.jsonl: OK" in check.stdout
    assert verify(out)[1] == []
    with open(shard, "r+b") as f:  # flip one byte in the middle
        f.seek(shard.stat().st_size // 2)
        byte = f.read(1)
        f.seek(-1, 1)
        f.write(bytes([byte[0] ^ 0xFF]))
    clips.write_text('{"clip_id": "c1"}\n{"clip_id": "c3"}\n')  # same size, other content
    problems = verify(out)[1]
    assert [(p.path, p.kind) for p in problems] == [
        ("shards/train-00000-of-00001.h5", "checksum"),
        ("labels/segments/clips.jsonl", "checksum"),
    ]
    shard.unlink()
    assert verify(out)[1][0].kind == "missing"


def test_visibility_and_boxes_known_answer():
    mask = np.zeros((1, 10, 10), bool)
    mask[0, 2:6, 3:8] = True
    depth = np.where(mask, 2.0, 0.0).astype(np.float32)
    uv = np.array([[[4.5, 3.5], [4.5, 3.5], [9.5, 9.5], [-1, 3]]])
    z = np.array([[2.1, 2.9, 2.0, 2.0]])  # on person; behind an occluder; off person; outside
    parts = np.where(mask, 3, 0).astype(np.uint8)  # the torso, every joint's own part here
    torso = np.full(4, 3)
    assert keypoint_visibility(uv, z, depth, mask, parts, joint_parts=torso).tolist() == [[True, False, False, False]]
    assert mask_bboxes(mask).tolist() == [[3, 2, 8, 6]]
    assert np.isnan(mask_bboxes(np.zeros((1, 4, 4), bool))).all()
