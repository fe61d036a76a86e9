"""What a new user meets first: default destinations, split errors that name the
splits, windows in time with a warning for frozen clips, previews that show every
class, readable class plots, NTU sample names and one-line export summaries."""

from __future__ import annotations

import itertools
import pickle
import warnings

import numpy as np
import pytest

from synthact.cli import build_parser
from synthact.consume.commands import report_dir
from synthact.consume.dataset import warn_if_frames_repeat
from synthact.consume.export_ntu_depth import write_lists
from synthact.consume.export_summary import export_summary
from synthact.consume.preview import preview_selection, slug
from synthact.consume.reader import ClipTable
from synthact.consume.sample_names import ntu_name, sample_names
from synthact.consume.sampling import repeats_frames, time_step, window_indices
from synthact.consume.stats import class_figure
from synthact.labels.tables import ClassTable, ClipRow, UnknownSplitError, rows_of_split


def _row(k: int, split: str, frames: int = 30, take: str = "t0", label: int = 0) -> ClipRow:
    return ClipRow(
        clip_id=f"c{k}",
        protocol="segments",
        take_id=take,
        shard="train-00000-of-00001",
        split=split,
        repetition=0,
        sequence_id="0",
        source="s.npz",
        segment_id=f"g{k}",
        chunk=0,
        frame_start=0,
        frame_stop=frames,
        take_frame_start=0,
        take_frame_stop=frames,
        start_t=0.0,
        end_t=frames / 10,
        label="walk",
        label_index=label,
        labels=("walk",),
        label_indices=(label,),
        raw_label="walk",
        proc_label="walk",
        annotator="a",
    )


# --------------------------------------------------------------------------- commands


def test_preview_and_stats_default_to_the_runs_report_folder():
    args = build_parser().parse_args(["preview", "output/demo"])
    assert args.dest is None and str(report_dir(args.output_dir, args.dest, "preview")) == "output/demo/report/preview"
    args = build_parser().parse_args(["stats", "output/demo", "elsewhere"])
    assert str(report_dir(args.output_dir, args.dest, "stats")) == "elsewhere"


def test_export_summary_is_one_line_with_the_counts_and_splits(tmp_path):
    line = export_summary("amarv", {"written": 3, "skipped": 5}, tmp_path)
    assert line == f"8 videos in {tmp_path} (3 written now, 5 already complete)"
    pkl = tmp_path / "pyskl_3d.pkl"
    pkl.write_bytes(pickle.dumps({"split": {"train": ["a", "b"], "val": ["c"]}, "annotations": [{}, {}, {}]}))
    line = export_summary("pyskl", [pkl], tmp_path)
    assert "\n" not in line and "3 clip-views" in line and "splits: train (2), val (1)" in line


# --------------------------------------------------------------------------- splits


def test_unknown_split_names_the_splits_that_exist():
    rows = [_row(0, "train"), _row(1, "train"), _row(2, "val")]
    table = ClipTable("segments", tuple(rows), ClassTable("segments", ("walk",), "frequency", (-1,)))
    assert len(table.split("train")) == 2
    with pytest.raises(UnknownSplitError, match=r"no split 'test'; the splits here are: train \(2 clips\), val \(1"):
        table.split("test")
    with pytest.raises(UnknownSplitError, match="protocol 'segments'"):
        rows_of_split(rows, "xsub_train", "protocol 'segments'")


# --------------------------------------------------------------------------- time


def test_a_window_in_time_picks_the_same_seconds_at_any_stored_rate():
    at_10 = window_indices(100, 4, 1, "centre", step=time_step(1, 10.0, 5.0))
    at_30 = window_indices(300, 4, 1, "centre", step=time_step(1, 30.0, 5.0))
    assert np.diff(at_10).tolist() == [2, 2, 2] and np.diff(at_30).tolist() == [6, 6, 6]
    assert window_indices(100, 4, 2, "centre").tolist() == window_indices(100, 4, 2, "centre", step=2.0).tolist()
    finer = window_indices(100, 8, 1, "centre", step=time_step(1, 10.0, 25.0))  # 25 fps from 10 fps
    assert repeats_frames(finer) and not repeats_frames(at_10)


def test_frozen_windows_warn_once_with_the_fix():
    rows = [_row(k, "train", frames=f) for k, f in enumerate((8, 8, 60, 60))]
    with pytest.warns(UserWarning, match=r"2 of 4 clips would repeat frames.*16 frames 4 apart") as caught:
        warn_if_frames_repeat(rows, {}, 16, 4, None, "clamp")
    assert len(caught) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_if_frames_repeat(rows, {"t0": 10.0}, 4, 1, 5.0, "clamp")  # 0.6 s at 5 fps: fits 0.8 s clips
    with pytest.warns(UserWarning, match=r"at most the takes' rate \(10 fps\)"):
        warn_if_frames_repeat(rows, {"t0": 10.0}, 4, 1, 30.0, "clamp")


# --------------------------------------------------------------------------- previews and plots


def test_previews_take_every_class_before_a_second_clip_of_any():
    rows = [{"label_index": 0, "take_id": f"t{k % 2}", "clip_id": f"a{k}"} for k in range(10)]
    rows += [{"label_index": 1, "take_id": "t0", "clip_id": "b0"}, {"label_index": 2, "take_id": "t2", "clip_id": "c0"}]
    chosen = preview_selection(rows, 4)
    assert [r["label_index"] for r in chosen] == [0, 1, 2, 0]
    assert chosen[0]["take_id"] == "t0" and chosen[3]["take_id"] == "t1"  # a take not shown yet
    assert len(preview_selection(rows, 50)) == len(rows)
    assert slug("Sit Down / stand up") == "sit-down-stand-up"


def test_class_names_never_overlap_at_120_classes():
    classes = [f"class number {k} with a long name" for k in range(120)]
    fig = class_figure("babel-chunks-120", {"train": dict.fromkeys(classes, 3), "val": dict.fromkeys(classes, 1)})
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in fig.axes[0].get_yticklabels()]
    assert len(boxes) == 120
    tops = sorted((b.y0, b.y1) for b in boxes)
    assert all(lower[1] <= upper[0] for lower, upper in itertools.pairwise(tops))


# --------------------------------------------------------------------------- NTU names


def test_ntu_runs_keep_ntu_names_with_views_and_repetitions_apart(tmp_path):
    src = "ntu/S001C002P003R001A013.npz"
    items = [
        {"clip_id": f"k{rep}", "view": view, "source": src, "repetition": rep, "chunk": 0}
        for rep in (0, 1)
        for view in ("c1", "c2")
    ]
    items.append({"clip_id": "m", "view": "front", "source": "CMU/01/01_01_poses.npz", "repetition": 0, "chunk": 0})
    names = sample_names(items)
    assert names[("k0", "c1")] == "S001C001P003R001A013_rep0" and names[("k1", "c2")] == "S001C002P003R001A013_rep1"
    assert names[("m", "front")] == "m_front" and len(set(names.values())) == len(names)
    assert sample_names(items[:2])[("k0", "c2")] == "S001C002P003R001A013"  # one clip per sample: the plain name
    assert ntu_name(src, "front") == "S001C002P003R001A013_front"  # another rig: the source's camera, view appended
    write_lists(tmp_path, [("S001C001P003R001A013", 12, "train"), ("S001C002P003R001A013", 12, "val")], ["a"] * 13)
    assert (tmp_path / "samples.txt").read_text() == "S001C001P003R001A013 12\nS001C002P003R001A013 12\n"
    assert (tmp_path / "splits" / "val.txt").read_text() == "S001C002P003R001A013\n"
    assert len((tmp_path / "classes.txt").read_text().splitlines()) == 13


def test_ntu_depth_lists_every_sample_with_its_label_and_split(tmp_path):
    from synthact.consume.exports import export_ntu_depth_run
    from tests.consume_inputs import ArrayRun

    run = ArrayRun(tmp_path / "run")
    export_ntu_depth_run(run, tmp_path / "dest", show_progress=False)
    lines = (tmp_path / "dest" / "samples.txt").read_text().splitlines()
    assert len(lines) == len(run.rows) * len(run.views)
    folders = {p.name for p in (tmp_path / "dest" / "nturgb+d_depth_masked").iterdir()}
    assert {line.split()[0] for line in lines} == folders
    labels = {f"{r['clip_id']}_{v}": str(r["label_index"]) for r in run.rows for v in run.views}
    assert all(labels[name] == label for name, label in (line.split() for line in lines))
    for split in {r["split"] for r in run.rows}:
        listed = (tmp_path / "dest" / "splits" / f"{split}.txt").read_text().split()
        assert len(listed) == sum(r["split"] == split for r in run.rows) * len(run.views)
