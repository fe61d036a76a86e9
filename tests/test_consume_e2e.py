"""Every consumer on a real run: the session's tiny run (fixture ``tiny_run``: real
Blender, real shards, real clip tables), then the CLI exports it, previews it, counts
it, a DataLoader with workers reads it, both examples train on it, and
`snakemake --report` embeds the previews and statistics (on a copy of the run).

Each check reads the shards back independently (h5py or ``ShardReader``) and compares.
The tiny run is 160x120, where H.264 keeps PSNR above 30 dB on renders.
"""

from __future__ import annotations

import csv
import json
import pickle
import re
import runpy
import subprocess
import zipfile
from collections import Counter
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from synthact.consume import SynthActVideoDataset, collate
from synthact.consume.depth_video import quantisation_error_m, read_depth_mp4
from synthact.consume.export_ntu_depth import ROOT as NTU_ROOT
from synthact.consume.export_ntu_depth import read_png16
from synthact.consume.preview import CAPTION_PX, preview_selection, slug
from synthact.consume.reader import ClipTable, ShardReader
from synthact.consume.video import probe_mp4, psnr, read_mp4
from synthact.shard_format import VIDEO_DATASETS
from tests.helpers import BIN, REPO, TINY, dry_run, run_bounded, snakemake

pytestmark = pytest.mark.slow
CODING = "yuv420p, keyframe every 16"  # the video exports' default coding, recorded with each export

W, H = TINY["render"]["width"], TINY["render"]["height"]


def synthact(*args: str) -> subprocess.CompletedProcess:
    result = run_bounded([str(BIN / "synthact"), *args], 600)
    assert result.returncode == 0, (
        f"synthact {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return result


@pytest.fixture(scope="module")
def output(tiny_run) -> Path:
    return tiny_run / "output"


@pytest.fixture(scope="module")
def shards(output) -> list[ShardReader]:
    readers = [ShardReader(p) for p in sorted((output / "shards").glob("*.h5"))]
    yield readers
    for r in readers:
        r.close()


def reader_of(shards: list[ShardReader], take_id: str) -> ShardReader:
    return next(r for r in shards if take_id in r.take_ids)


@pytest.fixture(scope="module")
def pyskl_dir(output, tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("pyskl")
    synthact("export", "pyskl", str(output), str(dest), "--quiet")
    return dest


def test_amarv_videos_decode_match_the_shards_and_the_csv_is_the_segments_table(output, shards, tmp_path):
    dest = tmp_path / "amarv"
    synthact("export", "amarv", str(output), str(dest))
    takes = {t: r for r in shards for t in r.take_ids}
    rgb_videos = sorted((dest / "videos").rglob("RGB_*_Camera_640.mp4"))
    assert len(rgb_videos) == len(takes) * 4 and len(list((dest / "videos").rglob("Depth_*.mp4"))) == len(rgb_videos)
    names = {"Front": "front", "Left": "left", "Back": "back", "Right": "right"}
    worst = np.inf
    for path in rgb_videos:
        take_id = next(t for t, r in takes.items() if f"sequence_{r.take_attrs(t)['sequence_id']}" == path.parts[-3])
        view = names[path.name.split("_")[1]]
        reference = takes[take_id].read(take_id, view, ["rgb"])["rgb"]
        decoded = read_mp4(path)  # PyAV
        assert probe_mp4(path).frames == len(decoded) == takes[take_id].num_frames(take_id), path
        worst = min(worst, min(psnr(d, r) for d, r in zip(decoded, reference, strict=True)))
        if view == "front":  # body-only depth, hue-coded: back within its quantisation step
            arrays = takes[take_id].read(take_id, view, ["depth", "mask"])
            depth = read_depth_mp4(path.with_name(path.name.replace("RGB_", "Depth_")))
            on = arrays["mask"] > 0
            assert np.all(np.abs(depth[on] - arrays["depth"][on]) <= quantisation_error_m(arrays["depth"][on]) + 1e-4)
            assert np.all(depth[~on] == 0)
    print(f"amarv export: worst frame PSNR {worst:.1f} dB over {len(rgb_videos)} videos")
    assert worst > 30
    # The CSVs are the segments clip table, row for row.
    table = ClipTable.load(output, "segments")
    for split in ("train", "val"):
        rows = table.split(split)
        with open(dest / "labels" / f"{split}.csv", newline="") as f:
            lines = list(csv.reader(f))
        assert len(lines) == len(rows) and all(len(line) == 9 for line in lines)
        for line, row in zip(lines, rows, strict=True):
            attrs = takes[row.take_id].take_attrs(row.take_id)
            assert line[0] == re.sub(r"_poses\.npz$", "", row.source)
            assert [int(i) for i in line[1].split(";")] == list(row.label_indices)
            assert line[3].split(";") == list(row.labels) and line[5] == row.proc_label
            assert float(line[6]) == pytest.approx(row.start_t, abs=1e-6) and float(line[7]) == pytest.approx(
                row.end_t, abs=1e-6
            )
            assert float(line[8]) == pytest.approx(attrs["duration_s"], abs=1e-6)
    assert (dest / "labels" / "test.csv").read_text() == (dest / "labels" / "val.csv").read_text()
    categories = (dest / "labels" / "category_index.csv").read_text().splitlines()
    assert categories[0] == "category#raw_labels" and [c.split("#")[0] for c in categories[1:]] == list(
        table.classes.classes
    )
    again = synthact("export", "amarv", str(output), str(dest), "--quiet")  # resumes: nothing left to write
    assert f"(0 written now, {2 * len(rgb_videos)} already complete)" in again.stdout


def test_pyskl_pickles_hold_the_shards_ntu25_joints(output, shards, pyskl_dir):
    table = ClipTable.load(output)
    with open(pyskl_dir / "pyskl_3d.pkl", "rb") as f:
        d3 = pickle.load(f)
    with open(pyskl_dir / "pyskl_2d.pkl", "rb") as f:
        d2 = pickle.load(f)
    assert d3["split"] == d2["split"] and set(d3["split"]) == {"train", "val"}
    assert len(d3["annotations"]) == len(d2["annotations"]) == len(table.rows) * 4
    by_clip = {r.clip_id: r for r in table.rows}
    for a3, a2 in zip(d3["annotations"], d2["annotations"], strict=True):
        clip_id, view = a3["frame_dir"].rsplit("_", 1)
        row = by_clip[clip_id]
        T = row.take_frame_stop - row.take_frame_start
        joints = reader_of(shards, row.take_id).read(row.take_id, view, ["ntu25_joints_cam"])["ntu25_joints_cam"]
        np.testing.assert_array_equal(a3["keypoint"][0], joints[row.take_frame_start : row.take_frame_stop, 0])
        assert a3["keypoint"].shape == (1, T, 25, 3) and a3["keypoint"].dtype == np.float32
        assert a2["keypoint"].shape == (1, T, 17, 2) and a2["keypoint_score"].shape == (1, T, 17)
        assert a2["img_shape"] == a2["original_shape"] == (H, W)
        assert a3["label"] == a2["label"] == row.label_index and a3["total_frames"] == T
        assert a3["frame_dir"] in d3["split"][row.split]


def test_video_list_has_one_mp4_per_clip_view(output, tmp_path):
    dest = tmp_path / "videolist"
    synthact("export", "video-list", str(output), str(dest), "--quiet", "--protocol", "babel-chunks-150")
    table = ClipTable.load(output, "babel-chunks-150")
    listed = []
    for split in {r.split for r in table.rows}:
        lines = (dest / "mmaction" / f"{split}_list_videos.txt").read_text().splitlines()
        assert lines == (dest / "slowfast" / f"{split}.csv").read_text().splitlines()
        listed += lines
    assert len(listed) == len(table.rows) * 4
    frames = {f"{r.clip_id}": r.take_frame_stop - r.take_frame_start for r in table.rows}
    labels = {r.clip_id: r.label_index for r in table.rows}
    for line in listed:
        path, label = line.split(" ")
        clip_id = Path(path).stem.rsplit("_", 1)[0]
        assert int(label) == labels[clip_id] and probe_mp4(dest / "videos" / path).frames == frames[clip_id]
    assert (dest / "classes.txt").read_text().splitlines() == list(table.classes.classes)


def test_ntu_depth_pngs_are_the_shards_depth_in_mm_on_the_mask(output, shards, tmp_path):
    dest = tmp_path / "ntu"
    synthact("export", "ntu-depth", str(output), str(dest), "--quiet")
    table = ClipTable.load(output)
    samples = sorted((dest / NTU_ROOT).iterdir())
    assert len(samples) == len(table.rows) * 4  # demo sources are not NTU-named: <clip_id>_<view>
    by_clip = {r.clip_id: r for r in table.rows}
    for folder in samples:
        clip_id, view = folder.name.rsplit("_", 1)
        row = by_clip[clip_id]
        frames = slice(row.take_frame_start, row.take_frame_stop)
        arrays = reader_of(shards, row.take_id).read(row.take_id, view, ["depth", "mask"], frames)
        pngs = sorted(folder.glob("MDepth-*.png"))
        assert [p.name for p in pngs] == [f"MDepth-{i:08d}.png" for i in range(1, row.num_frames + 1)]
        for png, depth, mask in zip(pngs, arrays["depth"], arrays["mask"], strict=True):
            got = read_png16(png)
            on = mask > 0
            assert got.dtype == np.uint16 and got.shape == (H, W)
            np.testing.assert_array_equal(got[on], np.rint(depth[on].astype(np.float64) * 1000).astype(np.uint16))
            assert not got[~on].any()


def test_two_video_list_exports_never_mix_in_one_destination(output, tmp_path):
    dest = tmp_path / "lists"
    synthact("export", "video-list", str(output), str(dest), "--quiet", "--protocol", "segments")
    first = sorted(p.relative_to(dest) for p in dest.rglob("*.mp4"))
    refused = run_bounded(
        [
            str(BIN / "synthact"),
            "export",
            "video-list",
            str(output),
            str(dest),
            "--quiet",
            "--protocol",
            "babel-chunks-150",
        ],
        600,
    )
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert refused.stderr.strip().splitlines() == [
        f"synthact export: error: {dest}: holds another export (video-list export of protocol segments"
        f" ({CODING}) from {output.resolve()}; this one is a video-list export of protocol babel-chunks-150"
        f" ({CODING}) from"
        f" {output.resolve()}): choose another folder, or pass --replace to delete that export and write this one"
    ]
    assert sorted(p.relative_to(dest) for p in dest.rglob("*.mp4")) == first
    synthact("export", "video-list", str(output), str(dest), "--quiet", "--protocol", "babel-chunks-150", "--replace")
    listed = {
        line.split(" ")[0]
        for path in (dest / "mmaction").glob("*_list_videos.txt")
        for line in path.read_text().split("\n")
        if line
    }
    assert {str(p.relative_to(dest / "videos")) for p in dest.rglob("*.mp4")} == listed  # every mp4 is on a list
    inside = run_bounded([str(BIN / "synthact"), "export", "pyskl", str(output), str(output / "pyskl")], 600)
    assert inside.returncode == 1 and "inside the run's own folder" in inside.stderr
    assert not (output / "pyskl").exists()


def expected_counts(output: Path, shards: list[ShardReader]) -> dict:
    """What the stats must say, counted here straight from the files."""
    classes = {}
    for folder in sorted((output / "labels").iterdir()):
        names = json.loads((folder / "classes.json").read_text())["classes"]
        rows = [json.loads(line) for line in (folder / "clips.jsonl").read_text().splitlines()]
        classes[folder.name] = {
            s: dict(
                zip(
                    names,
                    [sum(r["label_index"] == i and r["split"] == s for r in rows) for i in range(len(names))],
                    strict=True,
                )
            )
            for s in {r["split"] for r in rows}
        }
    frames, azimuths, genders = 0, [], Counter()
    for reader in shards:
        with h5py.File(reader.path, "r") as f:
            for take in f["takes"].values():
                frames += int(take.attrs["num_frames"])
                genders[str(take.attrs["gender"])] += 1
                azimuths += [float(v.attrs["azimuth_deg"]) % 360 for v in take["views"].values()]
    return {"classes": classes, "frames": frames, "azimuths": azimuths, "genders": dict(genders)}


def test_stats_and_preview_match_counts_from_the_shards(output, shards, tmp_path):
    synthact("stats", str(output), str(tmp_path / "stats"))
    stats = json.loads((tmp_path / "stats" / "stats.json").read_text())
    want = expected_counts(output, shards)
    assert stats["classes"] == want["classes"]
    assert stats["volume"]["frames"] == want["frames"] and stats["volume"]["views"] == 4
    assert stats["takes"] == sum(len(r.take_ids) for r in shards) and stats["body"]["gender"] == want["genders"]
    assert stats["persons"] == {"takes_by_persons": {"1": stats["takes"]}, "persons": stats["takes"]}
    az = stats["camera"]["azimuth_deg"]["histogram"]
    assert sum(az["counts"]) == len(want["azimuths"]) == stats["takes"] * 4
    for i in range(len(az["counts"])):
        assert az["counts"][i] == sum(az["edges"][i] <= a < az["edges"][i + 1] for a in want["azimuths"])
    rgb_bytes = sum(
        f[f"takes/{t}/views/{v}/rgb/{part}"].id.get_storage_size()
        for r in shards
        for t in r.take_ids
        for v in r.views
        for f in [r.file]
        for part in VIDEO_DATASETS  # the bitstream, its index and its checksums
    )
    assert stats["volume"]["bytes"]["rgb"] == rgb_bytes and stats["volume"]["bytes"]["ntu25_joints_cam"] > 0
    for name in ["durations", "camera", "body", "appearance", "modalities"] + [f"classes_{p}" for p in want["classes"]]:
        with Image.open(tmp_path / "stats" / f"{name}.png") as image:
            assert image.format == "PNG" and image.size[0] > 100
    preview = tmp_path / "preview"
    synthact("preview", str(output), str(preview), "--max-clips", "2", "--quiet")
    page = (preview / "index.html").read_text()
    links = re.findall(r"src='([^']+)'", page)
    assert len([p for p in links if p.startswith("clips/")]) == 2 and all((preview / p).is_file() for p in links)
    table = ClipTable.load(output)
    first = preview_selection([r.to_dict() for r in table.rows], 2)[0]  # spread over classes and takes
    name = f"{slug(table.classes.classes[first['label_index']])}-{first['clip_id']}"  # named by action
    frames = first["take_frame_stop"] - first["take_frame_start"]
    info = probe_mp4(preview / "clips" / f"{name}.mp4")
    assert (info.frames, info.width, info.height) == (frames, 4 * W, H + CAPTION_PX)  # under its caption
    with Image.open(preview / "sheets" / f"{name}.png") as sheet:  # a title, then one named row per view
        assert sheet.size == (min(6, frames) * W, 4 * (H + CAPTION_PX) + CAPTION_PX)


def test_dataloader_with_two_workers_reads_the_shards_windows(output, shards):
    ds = SynthActVideoDataset(
        output, split="train", modalities=("rgb", "depth", "ntu25"), num_frames=4, stride=2, seed=3
    )
    loader = DataLoader(ds, batch_size=4, num_workers=2, collate_fn=collate)
    seen = 0
    for batch in loader:
        assert batch["rgb"].shape[1:] == (3, 4, H, W) and batch["rgb"].dtype == torch.uint8
        assert batch["depth"].shape[1:] == (1, 4, H, W) and batch["ntu25_joints_cam"].shape[1:] == (4, 1, 25, 3)
        for k in range(len(batch["label"])):
            row = next(r for r in ds.rows if r.clip_id == batch["clip_id"][k])
            frames = row.take_frame_start + batch["frames"][k].numpy()
            ref = reader_of(shards, row.take_id).read(
                row.take_id, batch["view"][k], ["rgb", "ntu25_joints_cam"], frames
            )
            np.testing.assert_array_equal(batch["rgb"][k].permute(1, 2, 3, 0).numpy(), ref["rgb"])
            np.testing.assert_array_equal(batch["ntu25_joints_cam"][k].numpy(), ref["ntu25_joints_cam"])
            assert int(batch["label"][k]) == row.label_index
        seen += len(batch["label"])
    assert seen == len(ds) == len(ClipTable.load(output).split("train"))


def test_both_examples_train_and_the_loss_falls(output, pyskl_dir, capsys):
    video = runpy.run_path(str(REPO / "examples" / "train_dataset.py"))
    result = video["train"](*video["datasets"](str(output), None), epochs=6, workers=0, log_every=3)
    losses = result.epoch_losses
    print(f"video example: loss {losses[0]:.3f} -> {losses[-1]:.3f}, validation accuracy {result.accuracy:.2f}")
    assert losses[-1] < 0.9 * losses[0] and 0 <= result.accuracy <= 1  # deterministic: seeded, no workers
    skeleton = runpy.run_path(str(REPO / "examples" / "train_pyskl.py"))
    losses = skeleton["train"](pyskl_dir / "pyskl_3d.pkl", "train", steps=60, log_every=20)
    print(f"pyskl example: loss {np.mean(losses[:5]):.3f} -> {np.mean(losses[-5:]):.3f}")
    assert np.mean(losses[-5:]) < 0.5 * np.mean(losses[:5])
    assert capsys.readouterr().out.count("loss") >= 6


def test_snakemake_report_embeds_the_stats_and_previews(tiny_run_copy):
    workdir, output = tiny_run_copy, tiny_run_copy / "output"
    assert "stats" not in {job.rule for job in dry_run(workdir)}  # not part of `rule all` by default
    snakemake(workdir, "consume_report")
    stats = json.loads((output / "report" / "stats" / "stats.json").read_text())
    assert stats["takes"] == json.loads((output / "manifest.json").read_text())["num_takes"]
    # --report describes the DAG of its targets: name consume_report (or set report.enabled).
    snakemake(workdir, "--report", "report.zip", "consume_report")
    with zipfile.ZipFile(workdir / "report.zip") as z:
        names = z.namelist()
    assert any(n.endswith("report.html") for n in names)
    sheets = sorted((output / "report" / "preview" / "sheets").glob("*.png"))
    for wanted in ["camera.png", "classes_segments.png", "classes_babel-chunks-150.png", ".mp4", sheets[0].name]:
        assert any(n.endswith(wanted) for n in names), (wanted, names)
    snakemake(workdir, "--report", "report.html", "consume_report")
    html = (workdir / "report.html").read_text()
    assert "Statistics" in html and "Previews" in html
    for wanted in ["camera.png", "classes_segments.png", sheets[0].name, "video/mp4"]:
        assert wanted in html, wanted
    assert len(html) > 1_000_000 and "base64" in html  # the plots, sheets and videos are inside the one file
