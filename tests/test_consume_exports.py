"""Run-level exports, preview and stats over a Run of real-shaped arrays; every file read back."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

from synthact.consume.export_ntu_depth import read_png16
from synthact.consume.exports import (
    export_amarv_run,
    export_ntu_depth_run,
    export_pyskl_run,
    export_videolist_run,
    preview_run,
    stats_run,
)
from synthact.consume.video import probe_mp4
from tests.consume_inputs import ArrayRun


def test_amarv_run(tmp_path) -> None:
    run = ArrayRun(tmp_path / "run")
    assert export_amarv_run(run, tmp_path / "out", show_progress=False) == {"written": 16, "skipped": 0}
    folder = tmp_path / "out" / "videos" / "CMU/00/00_01" / "sequence_100" / "Videos"
    assert sorted(p.name for p in folder.iterdir())[:4] == [
        f"Depth_{v}_Camera_640.mp4" for v in ("Back", "Front", "Left", "Right")
    ]
    assert probe_mp4(folder / "RGB_Front_Camera_640.mp4").frames == 16
    train = (tmp_path / "out" / "labels" / "train.csv").read_text().splitlines()
    assert [line.split(",")[1] for line in train] == [str(r["label_index"]) for r in run.rows if r["split"] == "train"]
    assert export_amarv_run(run, tmp_path / "out", show_progress=False) == {"written": 0, "skipped": 16}


def test_pyskl_run_equals_joints_cam(tmp_path) -> None:
    run = ArrayRun(tmp_path / "run", persons=(1, 2))  # take t001 holds two persons, the second absent in a frame
    p3, p2 = export_pyskl_run(run, tmp_path / "out", show_progress=False)
    with open(p3, "rb") as f:
        d3 = pickle.load(f)
    with open(p2, "rb") as f:
        d2 = pickle.load(f)
    assert d3["split"] == d2["split"] and sorted(d3["split"]) == ["train", "val"]
    assert len(d3["annotations"]) == len(run.rows) * 4
    absent_seen = 0
    for ann, ann2 in zip(d3["annotations"], d2["annotations"], strict=True):
        clip_id, view = ann["frame_dir"].split("_")
        row = next(r for r in run.rows if r["clip_id"] == clip_id)
        window = slice(row["take_frame_start"], row["take_frame_stop"])
        arrays = run.arrays(row["take_id"], view)
        expected = np.moveaxis(arrays["ntu25_joints_cam"][window], 1, 0)  # (M, T, 25, 3), body order
        here = arrays["present"][window].T  # (M, T)
        persons = next(t["num_persons"] for t in run.takes() if t["take_id"] == row["take_id"])
        assert ann["keypoint"].shape == expected.shape and expected.shape[0] == persons
        np.testing.assert_array_equal(ann["keypoint"][here], expected[here])
        assert (ann["keypoint"][~here] == 0).all() and (ann2["keypoint"][~here] == 0).all()  # absent: zeros
        assert (ann2["keypoint_score"][~here] == 0).all() and ann2["keypoint_score"].shape == (
            persons,
            len(here[0]),
            17,
        )
        absent_seen += int((~here).sum())
        assert ann["label"] == row["label_index"] and ann["total_frames"] == expected.shape[1]
    assert absent_seen == 4  # t001's second person, one frame, in each of its 4 views
    assert all(a["img_shape"] == (48, 64) and a["keypoint"].shape[2:] == (17, 2) for a in d2["annotations"])
    run.reads.clear()
    export_pyskl_run(run, tmp_path / "out", show_progress=False)
    assert run.reads == []  # complete: nothing read again


def test_videolist_and_ntu_depth_runs(tmp_path) -> None:
    run = ArrayRun(tmp_path / "run")
    assert export_videolist_run(run, tmp_path / "vl", show_progress=False)["written"] == 16
    lines = (tmp_path / "vl" / "mmaction" / "val_list_videos.txt").read_text().splitlines()
    assert len(lines) == 8 and all(
        probe_mp4(tmp_path / "vl" / "videos" / ln.split()[0]).frames in (9, 7) for ln in lines
    )
    assert export_ntu_depth_run(run, tmp_path / "nd", show_progress=False) == {"written": 16, "skipped": 0}
    row = run.rows[1]
    png = read_png16(tmp_path / "nd" / "nturgb+d_depth_masked" / f"{row['clip_id']}_left" / "MDepth-00000002.png")
    a = run.arrays(row["take_id"], "left")
    t = row["take_frame_start"] + 1
    np.testing.assert_array_equal(png, np.where(a["mask"][t] > 0, np.rint(a["depth"][t].astype(np.float64) * 1000), 0))
    assert export_ntu_depth_run(run, tmp_path / "nd", show_progress=False) == {"written": 0, "skipped": 16}


@pytest.mark.slow  # renders the preview videos and plots
def test_preview_and_stats_runs(tmp_path) -> None:
    run = ArrayRun(tmp_path / "run")
    files = preview_run(run, tmp_path / "pv", max_clips=2, show_progress=False)
    assert all(f.is_file() for f in files) and (tmp_path / "pv" / "index.html") in files
    (clip_k00,) = (tmp_path / "pv" / "clips").glob("*-k00.mp4")  # named <action>-<clip id>
    assert probe_mp4(clip_k00).frames == 9
    stats = json.loads((tmp_path / "pv" / "stats" / "stats.json").read_text())
    assert stats["classes"]["segments"]["train"] == {"walk": 1, "stand": 1, "kneel": 0}
    assert stats["camera"]["count"] == 8 and stats["volume"]["frames"] == 32 and stats["volume"]["views"] == 4
    assert stats["volume"]["bytes"]["rgb"] == sum(
        run.arrays(t["take_id"], v)["rgb"].nbytes for t in run.takes() for v in run.views
    )
    assert stats_run(run, tmp_path / "st")[0].name == "stats.json"
