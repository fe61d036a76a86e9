"""HDF5 shards and the manifest: a round trip through our writer, our reader,
and HDF5's own command-line tools (h5ls, h5dump), without rendering."""

import json
import shutil
import subprocess

import h5py
import numpy as np
import pytest

from synthact.consume.reader import ShardReader, SynthActDataset
from synthact.render.worker import cache_path, encode_jpegs, keypoint_visibility, mask_bboxes, save_atomic
from synthact.shards.manifest import verify, write_manifest
from synthact.shards.writer import MergeError, write_shard

T, H, W, J = 3, 24, 32, 73
VIEWS = ["front", "back"]


def fake_view_arrays(rng: np.random.Generator, joints_world: np.ndarray) -> dict:
    mask = np.zeros((T, H, W), dtype=np.uint8)
    mask[:, 5:20, 10:22] = 1
    rgb = rng.integers(0, 255, (T, H, W, 3), dtype=np.uint8)
    jpeg, offsets = encode_jpegs(rgb, 90)
    depth = np.where(mask, 3.0 + rng.random((T, H, W)), 0).astype(np.float32)
    return {
        "rgb_jpeg": jpeg, "rgb_offsets": offsets, "depth": depth, "mask": mask,
        "parts": (mask * rng.integers(1, 17, (T, H, W))).astype(np.uint8),
        "normals": rng.standard_normal((T, H, W, 3)).astype(np.float16),
        "keypoints_2d": rng.uniform(0, W, (T, J, 2)).astype(np.float32),
        "keypoints_visible": rng.random((T, J)) > 0.5, "joints_cam": rng.standard_normal((T, J, 3)).astype(np.float32),
        "joints_world": joints_world, "bbox": mask_bboxes(mask.astype(bool)),
        "source_frames": np.arange(T) * 4, "poses": np.zeros((T, 156), np.float32), "trans": np.zeros((T, 3), np.float32),
        "betas": np.zeros(16, np.float32), "gender": np.array("female"), "appearance": np.array('{"hdri": "forest.exr"}'),
    }  # fmt: skip


def camera_dict() -> dict:
    return {"K": np.eye(3).tolist(), "R": np.eye(3).tolist(), "t": [0, 0, 3], "width": W, "height": H}


def make_document(clip_ids: list[str]) -> dict:
    clips = []
    for cid in clip_ids:
        clips.append({
            "clip_id": cid, "source": f"Demo/Demo/S01/{cid}_poses.npz", "sequence_id": "3", "split": "train",
            "segment_id": "seg", "chunk": 0, "fps": 30.0, "source_fps": 120.0, "frame_start": 0, "frame_stop": T,
            "gender": "female", "primary_category": "walk", "categories": ["walk", "forward movement"],
            "category_overlap": {"walk": 1.0, "turn": 0.34}, "path_center": [0, 0], "path_radius": 0.2,
            "heading_deg": 10.0, "appearance_seed": 123,
            "timeline": [{"category": "walk", "start": 0, "stop": 3, "raw_label": "walk"},
                         {"category": "turn", "start": 2, "stop": 3, "raw_label": "turn left"}],
            "views": [{"name": v, "camera": camera_dict(), "seed": 7, "azimuth_deg": 0.0, "distance_m": 3.0,
                       "height_m": 1.2} for v in VIEWS],
        })  # fmt: skip
    return {"shard": "train-00000-of-00001", "split": "train", "views": VIEWS, "config_hash": "abc", "clips": clips}


@pytest.fixture
def cache(tmp_path):
    rng = np.random.default_rng(0)
    document = make_document(["c1", "c2"])
    for clip in document["clips"]:
        joints_world = rng.standard_normal((T, J, 3)).astype(np.float32)
        for view in VIEWS:
            save_atomic(cache_path(tmp_path / "cache", view, clip["clip_id"]), fake_view_arrays(rng, joints_world))
    return document, tmp_path / "cache"


def test_round_trip_through_our_reader(tmp_path, cache):
    document, cache_dir = cache
    out = tmp_path / "out" / "shards" / "train-00000-of-00001.h5"
    assert write_shard(document, cache_dir, out, {"seed": 0})[0] == 2
    assert not list(out.parent.glob(".*tmp"))  # no temporary left behind
    reader = ShardReader(out)
    assert reader.clip_ids == ["c1", "c2"] and reader.views == VIEWS
    with np.load(cache_path(cache_dir, "back", "c2")) as expected:
        got = reader.read("c2", "back")
        for key in ("depth", "mask", "parts", "keypoints_2d", "keypoints_visible", "joints_cam", "bbox"):
            assert np.array_equal(got[key], expected[key], equal_nan=True), key  # lossless
        assert got["rgb"].shape == (T, H, W, 3)
        assert np.array_equal(got["joints_world"], expected["joints_world"])
    # Per-frame label timeline: turn starts at frame 2.
    names = got["category_names"]
    assert got["frame_categories"][:, names.index("turn")].tolist() == [0, 0, 1]
    assert reader.clip_attrs("c2")["category_overlap"]["turn"] == pytest.approx(0.34)


def test_same_inputs_give_byte_identical_shards(tmp_path, cache):
    document, cache_dir = cache
    a, b = tmp_path / "a.h5", tmp_path / "b.h5"
    write_shard(document, cache_dir, a, {"seed": 0})
    write_shard(document, cache_dir, b, {"seed": 0})
    assert a.read_bytes() == b.read_bytes()


@pytest.mark.skipif(shutil.which("h5ls") is None, reason="hdf5-tools not installed (make setup installs it)")
def test_independent_hdf5_tools_read_the_shard(tmp_path, cache):
    document, cache_dir = cache
    out = tmp_path / "s.h5"
    write_shard(document, cache_dir, out, {"seed": 0})
    listing = subprocess.run(["h5ls", "-r", str(out)], capture_output=True, text=True, check=True).stdout
    assert "/clips/c1/views/front/depth Dataset {3, 24, 32}" in listing
    assert "/clips/c2/views/back/rgb Dataset {3}" in listing
    dump = subprocess.run(["h5dump", "-d", "/clips/c1/views/front/bbox", str(out)], capture_output=True, text=True, check=True)
    assert "10, 5, 22, 20" in dump.stdout  # the fake mask's box, read by HDF5's own tool


def test_missing_and_corrupt_results_name_the_file(tmp_path, cache):
    document, cache_dir = cache
    cache_path(cache_dir, "back", "c2").unlink()
    with pytest.raises(MergeError, match="c2.npz: render result missing"):
        write_shard(document, cache_dir, tmp_path / "s.h5", {})
    assert not (tmp_path / "s.h5").exists() and not list(tmp_path.glob(".s.h5*"))
    cache_path(cache_dir, "back", "c2").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(MergeError, match="c2.npz: unreadable"):
        write_shard(document, cache_dir, tmp_path / "s.h5", {})


def test_manifest_checksums_and_verify(tmp_path, cache):
    document, cache_dir = cache
    out = tmp_path / "out"
    shard = out / "shards" / "train-00000-of-00001.h5"
    write_shard(document, cache_dir, shard, {})
    manifest = write_manifest(out, [shard], "abc", VIEWS)
    assert manifest.num_clips == 2 and manifest.shards[0].clip_ids == ["c1", "c2"]
    check = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=out, capture_output=True, text=True)
    assert check.returncode == 0 and "train-00000-of-00001.h5: OK" in check.stdout
    assert verify(out)[1] == []
    with open(shard, "r+b") as f:  # flip one byte in the middle
        f.seek(shard.stat().st_size // 2)
        byte = f.read(1)
        f.seek(-1, 1)
        f.write(bytes([byte[0] ^ 0xFF]))
    problems = verify(out)[1]
    assert [(p.path, p.kind) for p in problems] == [("shards/train-00000-of-00001.h5", "checksum")]
    shard.unlink()
    assert verify(out)[1][0].kind == "missing"


def test_dataset_reads_every_clip_view(tmp_path, cache):
    document, cache_dir = cache
    shard = tmp_path / "shards" / "train-00000-of-00001.h5"
    write_shard(document, cache_dir, shard, {})
    write_manifest(tmp_path, [shard], "abc", VIEWS)
    dataset = SynthActDataset(tmp_path, split="train")
    assert len(dataset) == 4
    item = dataset[3]
    assert (item["clip_id"], item["view"], item["primary_category"]) == ("c2", "back", "walk")
    assert item["rgb"].dtype == np.uint8 and item["depth"].shape == (T, H, W)


def test_visibility_and_boxes_known_answer():
    mask = np.zeros((1, 10, 10), bool)
    mask[0, 2:6, 3:8] = True
    depth = np.where(mask, 2.0, 0.0).astype(np.float32)
    uv = np.array([[[4.5, 3.5], [4.5, 3.5], [9.5, 9.5], [-1, 3]]])
    z = np.array([[2.1, 2.9, 2.0, 2.0]])  # on person; behind an occluder; off person; outside
    assert keypoint_visibility(uv, z, depth, mask).tolist() == [[True, False, False, False]]
    assert mask_bboxes(mask).tolist() == [[3, 2, 8, 6]]
    assert np.isnan(mask_bboxes(np.zeros((1, 4, 4), bool))).all()
