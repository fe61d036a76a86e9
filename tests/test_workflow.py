"""The workflow end to end on a tiny config: real demo inputs, real Blender
renders on the CPU, real HDF5 shards, and the manifest.

Snakemake runs in a temporary folder holding its own config.yaml, so the
tests never share ``.snakemake/`` state with a user's run in the repository.
The run is the session's tiny run (fixture ``tiny_run``, tests/conftest.py);
the tests that rerun part of it work on a copy (``tiny_run_copy``).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import h5py
import numpy as np
import pytest

from synthact.consume.reader import ClipTable, ShardReader
from synthact.scene.cameras import project
from synthact.shard_format import FORMAT_VERSION, TAKE_DATASETS, VIEW_DATASETS, by_key
from tests.helpers import BIN, TINY, build_tiny, dry_run, make_run, shard_files, snakemake, tiny_config


@pytest.mark.slow  # a real snakemake dry-run
def test_dry_run_lists_the_stages(tmp_path):
    workdir = make_run(tmp_path, TINY)
    rules = {job.rule for job in dry_run(workdir)}
    assert {"demo_data", "index", "plan"} <= rules, rules
    assert not (workdir / "output").exists()  # a dry run writes nothing


@pytest.mark.slow
def test_dataset_shards_clip_tables_and_manifest(tiny_run):
    output = tiny_run / "output"
    manifest = json.loads((output / "manifest.json").read_text())
    shards = shard_files(tiny_run)
    assert len(shards) >= 2 and len(manifest["shards"]) == len(shards)
    assert manifest["views"] == ["front", "left", "back", "right"]
    assert manifest["num_takes"] == sum(s["num_takes"] for s in manifest["shards"]) == 3
    assert set(manifest["splits"]) <= {"train", "val"}
    assert [e["path"] for e in manifest["labels"]] == [
        "labels/segments/clips.jsonl",
        "labels/segments/classes.json",
        "labels/babel-chunks-150/clips.jsonl",
        "labels/babel-chunks-150/classes.json",
    ]
    check = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=output, capture_output=True, text=True)
    listed = len(shards) + 4 + 1  # shards, two files per protocol, the dataset card
    assert check.returncode == 0 and check.stdout.count(": OK") == listed, check.stdout + check.stderr
    verify = subprocess.run([str(BIN / "synthact"), "verify", str(output)], capture_output=True, text=True)
    assert verify.returncode == 0 and f"{listed}/{listed} files OK" in verify.stdout
    for entry in manifest["shards"]:
        with h5py.File(output / entry["path"], "r") as f:
            assert f.attrs["format_version"] == FORMAT_VERSION and f.attrs["render_key"] == entry["render_key"]
            assert sorted(f["takes"]) == sorted(entry["take_ids"])
            assert json.loads(f.attrs["software"])["bpy"].startswith("5.0")
    if shutil.which("h5ls"):
        listing = subprocess.run(["h5ls", "-r", str(shards[0])], capture_output=True, text=True, check=True).stdout
        assert "/views/front/rgb" in listing and "/views/front/R" in listing


SPECS = by_key(VIEW_DATASETS + TAKE_DATASETS)


def person_zero(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The tiny run's takes hold one person: its arrays, the person axis taken out."""
    return {
        k: np.take(v, 0, SPECS[k].person_axis) if k in SPECS and SPECS[k].per_person else v for k, v in arrays.items()
    }


def iter_take_views(workdir: Path):
    for path in shard_files(workdir):
        reader = ShardReader(path)
        for take_id in reader.take_ids:
            for view in reader.views:
                yield reader, take_id, view, person_zero(reader.read(take_id, view))
        reader.close()


@pytest.mark.slow
def test_ground_truth_is_consistent_on_every_frame_with_per_frame_cameras(tiny_run):
    on_mask_fractions = []
    for reader, take_id, view, s in iter_take_views(tiny_run):
        T, H, W = s["mask"].shape
        where = f"{take_id}/{view}"
        assert s["rgb"].shape == (T, H, W, 3) and s["parts"].shape == (T, H, W)
        assert s["R"].shape == (T, 3, 3) and s["t"].shape == (T, 3) and s["K"].shape == (T, 3, 3)
        # Projecting the stored 3D joints with each frame's camera gives the stored 2D keypoints.
        cam = np.einsum("tij,tkj->tki", s["R"], s["joints_world"]) + s["t"][:, None, :]
        assert np.allclose(cam, s["joints_cam"], atol=1e-4), where
        uv_check = np.stack([project(cam[i], s["K"][i]) for i in range(T)])
        assert np.abs(uv_check - s["keypoints_2d"]).max() < 0.5, where
        mask = s["mask"].astype(bool)
        assert mask.any(axis=(1, 2)).all(), f"{where}: the person is missing from a frame"
        # Visible keypoints fall on the person mask.
        uv, vis = s["keypoints_2d"], s["keypoints_visible"]
        t_idx, j_idx = np.nonzero(vis)
        px, py = np.floor(uv[t_idx, j_idx]).astype(int).T
        assert mask[t_idx, py, px].all(), where
        # Independently of the visibility flags: body joints that project into the
        # image land on (or next to) the rendered silhouette, i.e. Blender's camera
        # is the stored camera, frame by frame.
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
        assert np.median(person_depth) == pytest.approx(np.median(cam[..., 2]), abs=0.6), where
        assert (depth >= 0).all()
        # Boxes are the mask's extent; parts only on the person.
        assert ((s["parts"] > 0) == mask).all(), where
        x0, y0, x1, y1 = s["bbox"][0]
        ys, xs = np.nonzero(mask[0])
        assert (x0, y0, x1, y1) == (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
        normals = s["normals"][mask].astype(np.float32)
        assert np.allclose(np.linalg.norm(normals, axis=-1), 1.0, atol=0.02), where
        # The stored encodings, as docs/FORMAT.md states them.
        group = reader.file[f"takes/{take_id}/views/{view}"]
        assert group["depth"].dtype == np.uint16 and group["depth"].compression == "gzip", where
        assert group["normals"].shape[-1] == 2 and group["rgb"].attrs["codec"] == "h264", where
        assert group["rgb/keyframe"][::8].all(), where  # a keyframe at least every K = 8 frames
    assert np.mean(on_mask_fractions) > 0.95


@pytest.mark.slow
def test_a_walking_actor_stays_in_frame_and_keeps_its_size(tiny_run):
    walked = 0.0
    for _reader, take_id, view, s in iter_take_views(tiny_run):
        pelvis = s["joints_world"][:, 0]
        walked = max(walked, float(np.linalg.norm(pelvis[:, None, :2] - pelvis[None, :, :2], axis=-1).max()))
        _, H, W = s["mask"].shape
        uv = s["keypoints_2d"][:, 0]
        assert ((uv[:, 0] >= 0) & (uv[:, 0] < W) & (uv[:, 1] >= 0) & (uv[:, 1] < H)).all(), f"{take_id}/{view}"
        # The camera keeps its distance as it follows: the person's box height stays within a factor 2.
        heights = s["bbox"][:, 3] - s["bbox"][:, 1]
        assert heights.max() / heights.min() < 2.0, f"{take_id}/{view}: box heights {heights.min()}-{heights.max()}"
    assert walked >= 6.0  # the walked-further take travels at least 6 m


@pytest.mark.slow
def test_takes_keep_their_source_labels_and_clip_tables_point_into_them(tiny_run):
    babel = {}
    for name in ("train.json", "val.json"):
        babel.update(json.loads((tiny_run / "data" / "babel" / name).read_text()))
    by_feat = {v["feat_p"]: v for v in babel.values()}
    frames = {}
    for path in shard_files(tiny_run):
        reader = ShardReader(path)
        for take_id in reader.take_ids:
            attrs = reader.take_attrs(take_id)
            entry = by_feat[attrs["source"]]
            given = {(lb["seg_id"], lb["start_t"], lb["end_t"]) for lb in entry["frame_ann"]["labels"]}
            assert {(seg["seg_id"], seg["start_t"], seg["end_t"]) for seg in attrs["segments"]} == given
            assert attrs["num_frames"] == attrs["num_sequence_frames"]  # render.span: whole
            assert attrs["appearance"]["hdri"]
            frames[take_id] = (path.stem, attrs["num_frames"])
        reader.close()
    for protocol in ("segments", "babel-chunks-150"):
        table = ClipTable.load(tiny_run / "output", protocol)
        assert table.rows and {r.take_id for r in table.rows} <= set(frames)
        for row in table.rows:
            shard, num_frames = frames[row.take_id]
            assert row.shard == shard and 0 <= row.take_frame_start < row.take_frame_stop <= num_frames
            assert table.classes.classes[row.label_index] == row.label
    assert ClipTable.load(tiny_run / "output").protocol == "segments"  # the first protocol is the default
    assert "transition" in ClipTable.load(tiny_run / "output", "segments").classes.classes  # every act_cat


def rendered_windows(workdir: Path) -> list[tuple[str, str, int, int]]:
    """(view, take, window, frames) of every render the worker logs report."""
    pattern = re.compile(
        r"\[(?P<shard>[^/\]]+)/(?P<view>\w+)\] rendered take (?P<take>t\w+) window (?P<w>\d+) \((?P<n>\d+) frames"
    )
    logs = (workdir / "output" / "work" / "logs" / "submitit").rglob("*.err")
    return [(m["view"], m["take"], int(m["w"]), int(m["n"])) for log in logs for m in pattern.finditer(log.read_text())]


@pytest.mark.slow
def test_every_frame_of_every_view_is_rendered_exactly_once(tiny_run):
    windows = rendered_windows(tiny_run)
    assert len(windows) == len(set(windows)) > 0  # no (view, take, window) twice
    manifest = json.loads((tiny_run / "output" / "manifest.json").read_text())
    needed = manifest["num_frames"] * len(manifest["views"])
    assert sum(n for *_, n in windows) == needed  # rendered frames / needed frames = 1


def cache_files(workdir: Path) -> dict[Path, tuple[int, int]]:
    """Every file of the render cache, with its inode and mtime: a rendered window changes both."""
    cache = workdir / "output" / "work" / "cache"
    return {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in cache.rglob("*") if p.is_file()}


@pytest.mark.slow
def test_relabelling_reruns_only_labels_and_manifest(tiny_run_copy):
    copy = tiny_run_copy
    make_run(copy, tiny_config(labels={"protocols": ["babel-chunks-60", "segments"], "chunk_seconds": 2.0}))
    jobs = {job.rule for job in dry_run(copy)}
    assert jobs - {"all"} == {"labels", "manifest"}, jobs
    before = {p: p.read_bytes() for p in shard_files(copy)}
    cache_before = cache_files(copy)
    assert cache_before  # the copy carries the finished render cache
    ran = snakemake(copy)
    jobs_ran = set(re.findall(r"^(?:local)?(?:rule|checkpoint) (\w+):", ran.stdout + ran.stderr, re.MULTILINE))
    assert jobs_ran - {"all"} == {"labels", "manifest"}, ran.stderr[-3000:]  # no render job ran
    assert cache_files(copy) == cache_before  # no window was rendered or rewritten
    assert {p: p.read_bytes() for p in shard_files(copy)} == before
    assert ClipTable.load(copy / "output").protocol == "babel-chunks-60"
    chunks = ClipTable.load(copy / "output", "babel-chunks-60")
    assert len(chunks.classes.classes) == 60 and max(r.num_frames for r in chunks.rows) <= 12  # 2 s at 6 fps


@pytest.mark.slow
def test_a_render_setting_reruns_render_and_merge_and_changes_the_pixels(tiny_run, tiny_run_copy):
    copy = tiny_run_copy
    make_run(copy, tiny_config(randomize={"hdri_strength": [3.0, 3.5]}))
    jobs = {job.rule for job in dry_run(copy)}
    assert jobs - {"all"} == {"render", "merge", "manifest"}, jobs
    shard = shard_files(copy)[-1]
    snakemake(copy, str(shard.relative_to(copy)))  # one shard is enough to see the change
    with h5py.File(shard) as new, h5py.File(tiny_run / "output" / "shards" / shard.name) as old:
        take = next(iter(new["takes"]))
        a, b = (f[f"takes/{take}/views/front"] for f in (new, old))
        assert np.array_equal(a["depth"][()], b["depth"][()])  # the same geometry
        assert a["rgb/data"][()].tobytes() != b["rgb/data"][()].tobytes()  # other light
        assert new.attrs["render_key"] != old.attrs["render_key"]


@pytest.mark.slow
def test_rerun_does_nothing_and_a_deleted_shard_rebuilds_alone(tiny_run_copy):
    tiny_run = tiny_run_copy
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
    again = build_tiny(tmp_path / "again")
    first = {e["name"]: e["sha256"] for e in json.loads((tiny_run / "output/manifest.json").read_text())["shards"]}
    second = {e["name"]: e["sha256"] for e in json.loads((again / "output/manifest.json").read_text())["shards"]}
    assert first.keys() == second.keys()
    for path in shard_files(tiny_run):
        with h5py.File(path) as a, h5py.File(again / "output/shards" / path.name) as b:
            for take_id in a["takes"]:
                for name in ("depth", "mask", "parts", "keypoints_2d", "joints_cam", "R"):
                    x, y = a[f"takes/{take_id}/views/front/{name}"][()], b[f"takes/{take_id}/views/front/{name}"][()]
                    assert np.array_equal(x, y), f"{path.name}/{take_id}/{name}"
                for name in ("data", "offsets", "keyframe"):  # the same H.264 stream: encoder pinned
                    x, y = (f[f"takes/{take_id}/views/back/rgb/{name}"][()] for f in (a, b))
                    assert np.array_equal(x, y), f"{path.name}/{take_id}/rgb/{name}"
    assert first == second  # byte-identical shards

    def labels(run: Path) -> dict[str, str]:
        return {e["path"]: e["sha256"] for e in json.loads((run / "output/manifest.json").read_text())["labels"]}

    assert labels(tiny_run) == labels(again)  # and identical clip tables
