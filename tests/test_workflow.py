"""The workflow end to end on a tiny config: real demo inputs, real Blender
renders on the CPU, real HDF5 shards, and the manifest.

Snakemake runs in a temporary folder holding its own config.yaml, so the
tests never share ``.snakemake/`` state with a user's run in the repository.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import h5py
import numpy as np
import pytest

from synthact.consume.reader import ShardReader
from synthact.render.cameras import project
from tests.helpers import BIN, TINY, make_run, shard_files, snakemake


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    workdir = make_run(tmp_path_factory.mktemp("tiny"), TINY)
    snakemake(workdir)
    return workdir


def test_dry_run_lists_the_stages(tmp_path):
    workdir = make_run(tmp_path, TINY)
    out = snakemake(workdir, "-n").stdout
    for rule in ("demo_data", "index", "plan"):
        assert f"rule {rule}:" in out or f"checkpoint {rule}:" in out
    assert not (workdir / "output").exists()  # a dry run writes nothing


@pytest.mark.slow
def test_dataset_shards_and_manifest(tiny_run):
    output = tiny_run / "output"
    manifest = json.loads((output / "manifest.json").read_text())
    shards = shard_files(tiny_run)
    assert len(shards) >= 2 and len(manifest["shards"]) == len(shards)
    assert manifest["views"] == ["front", "left", "back", "right"]
    assert manifest["num_clips"] == sum(s["num_clips"] for s in manifest["shards"]) >= 4
    assert set(manifest["splits"]) <= {"train", "val"}
    check = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=output, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    verify = subprocess.run([str(BIN / "synthact"), "verify", str(output)], capture_output=True, text=True)
    assert verify.returncode == 0 and f"{len(shards)}/{len(shards)} shards OK" in verify.stdout
    for entry in manifest["shards"]:
        with h5py.File(output / entry["path"], "r") as f:
            assert f.attrs["config_hash"] == manifest["config_hash"]
            assert sorted(f["clips"]) == sorted(entry["clip_ids"])
            assert json.loads(f.attrs["software"])["bpy"].startswith("5.0")
    if shutil.which("h5ls"):
        listing = subprocess.run(["h5ls", "-r", str(shards[0])], capture_output=True, text=True, check=True).stdout
        assert "/views/front/rgb" in listing and "/labels/frame_categories" in listing


def iter_clip_views(workdir: Path):
    for path in shard_files(workdir):
        reader = ShardReader(path)
        for clip_id in reader.clip_ids:
            for view in reader.views:
                yield reader, clip_id, view, reader.read(clip_id, view)
        reader.close()


@pytest.mark.slow
def test_ground_truth_is_consistent_on_every_frame(tiny_run):
    on_mask_fractions = []
    for reader, clip_id, view, s in iter_clip_views(tiny_run):
        T, H, W = s["mask"].shape
        where = f"{clip_id}/{view}"
        assert s["rgb"].shape == (T, H, W, 3) and s["parts"].shape == (T, H, W)
        # Projecting the stored 3D joints with the stored camera gives the stored 2D keypoints.
        cam = s["joints_world"] @ s["R"].T + s["t"]
        assert np.allclose(cam, s["joints_cam"], atol=1e-4), where
        assert np.abs(project(cam, s["K"]) - s["keypoints_2d"]).max() < 0.5, where
        mask = s["mask"].astype(bool)
        assert mask.any(axis=(1, 2)).all(), f"{where}: the person is missing from a frame"
        # Visible keypoints fall on the person mask.
        uv, vis = s["keypoints_2d"], s["keypoints_visible"]
        t_idx, j_idx = np.nonzero(vis)
        px, py = np.floor(uv[t_idx, j_idx]).astype(int).T
        assert mask[t_idx, py, px].all(), where
        # Independently of the visibility flags: body joints that project into the
        # image land on (or next to) the rendered silhouette, i.e. Blender's camera
        # is the stored camera.
        body = uv[:, :22]
        inside = (body[..., 0] >= 1) & (body[..., 0] < W - 1) & (body[..., 1] >= 1) & (body[..., 1] < H - 1)
        t_in, j_in = np.nonzero(inside)
        bx, by = np.floor(body[t_in, j_in]).astype(int).T
        near = np.zeros(len(t_in), bool)
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                near |= mask[t_in, by + dy, bx + dx]
        on_mask_fractions.append(near.mean())
        # Depth on the mask is finite, positive and within the scene; 0 only where nothing was hit.
        depth = s["depth"]
        assert np.isfinite(depth).all(), where
        person_depth = depth[mask]
        assert (person_depth > 0.5).all() and (person_depth < 20).all(), where
        z_joints = cam[..., 2]
        assert np.median(person_depth) == pytest.approx(np.median(z_joints), abs=0.6), where
        assert (depth >= 0).all()
        # Boxes are the mask's extent; parts only on the person.
        assert ((s["parts"] > 0) == mask).all(), where
        x0, y0, x1, y1 = s["bbox"][0]
        ys, xs = np.nonzero(mask[0])
        assert (x0, y0, x1, y1) == (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
        normals = s["normals"][mask].astype(np.float32)
        assert np.allclose(np.linalg.norm(normals, axis=-1), 1.0, atol=0.02), where
    assert np.mean(on_mask_fractions) > 0.95


@pytest.mark.slow
def test_labels_and_provenance(tiny_run):
    babel = {}
    for name in ("train.json", "val.json"):
        babel.update(json.loads((tiny_run / "data" / "babel" / name).read_text()))
    feat_paths = {v["feat_p"] for v in babel.values()}
    for reader, clip_id, view, s in iter_clip_views(tiny_run):
        attrs = reader.clip_attrs(clip_id)
        assert attrs["source"] in feat_paths
        assert attrs["primary_category"] in attrs["categories"]
        assert s["frame_categories"].shape[0] == s["mask"].shape[0]
        column = s["category_names"].index(attrs["primary_category"])
        # The index rounds overlaps to 3 decimals, as BABEL does.
        assert s["frame_categories"][:, column].mean() == pytest.approx(
            attrs["category_overlap"][attrs["primary_category"]], abs=5e-4)  # fmt: skip
        assert attrs["appearance"]["hdri"]


@pytest.mark.slow
def test_rerun_does_nothing_and_a_deleted_shard_rebuilds_alone(tiny_run):
    again = snakemake(tiny_run)
    assert "Nothing to be done" in again.stdout + again.stderr
    shards = shard_files(tiny_run)
    victim, others = shards[0], shards[1:]
    before = {p: p.stat().st_mtime_ns for p in others}
    victim.unlink()
    result = snakemake(tiny_run)
    log = result.stdout + result.stderr
    assert "rule merge:" in log and "rule render:" not in log
    assert log.count("rule merge:") == 1
    assert victim.exists()
    assert {p: p.stat().st_mtime_ns for p in others} == before
    check = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=tiny_run / "output", capture_output=True)
    assert check.returncode == 0


@pytest.mark.slow
def test_same_config_and_seed_give_identical_arrays(tiny_run, tmp_path):
    # A second, independent run of the same config (other folder, fresh demo data).
    again = make_run(tmp_path / "again", TINY)
    snakemake(again)
    first = {e["name"]: e["sha256"] for e in json.loads((tiny_run / "output/manifest.json").read_text())["shards"]}
    second = {e["name"]: e["sha256"] for e in json.loads((again / "output/manifest.json").read_text())["shards"]}
    assert first.keys() == second.keys()
    for path in shard_files(tiny_run):
        with h5py.File(path) as a, h5py.File(again / "output/shards" / path.name) as b:
            for clip_id in a["clips"]:
                for name in ("depth", "mask", "parts", "keypoints_2d", "joints_cam"):
                    x, y = a[f"clips/{clip_id}/views/front/{name}"][()], b[f"clips/{clip_id}/views/front/{name}"][()]
                    assert np.array_equal(x, y), f"{path.name}/{clip_id}/{name}"
                assert [bytes(f) for f in a[f"clips/{clip_id}/views/back/rgb"][()]] == [
                    bytes(f) for f in b[f"clips/{clip_id}/views/back/rgb"][()]]  # fmt: skip
    assert first == second  # byte-identical shards
