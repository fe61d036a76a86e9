"""The AMARV export read back the way the authors' loader and converter read it."""

from __future__ import annotations

import csv
import glob
import os
import re

import numpy as np
import pytest

from synthact.consume import export_amarv as amarv
from synthact.consume.depth_video import read_depth_mp4
from synthact.consume.exportio import partial_path
from synthact.consume.video import probe_mp4, psnr, read_mp4
from synthact.safe_names import UnsafePathError
from tests.consume_inputs import take_arrays

CLASSES = ["walk", "stand", "kneel", "wave hand funny"]  # the last is not in BABEL-150
VIEWS = ("front", "left", "back", "right")


def _takes() -> dict[str, dict]:
    base = {"fps": 30.0, "first_frame": 0}
    return {
        "t1": {
            **base,
            "take_id": "t1",
            "source": "CMU/01/01_01_poses.npz",
            "sequence_id": "1234",
            "repetition": 0,
            "num_frames": 12,
            "duration_s": 0.4,
        },
        "t2": {
            **base,
            "take_id": "t2",
            "source": "CMU/01/01_01_poses.npz",
            "sequence_id": "1234",
            "repetition": 1,
            "num_frames": 12,
            "duration_s": 0.4,
        },
        "t3": {
            **base,
            "take_id": "t3",
            "source": "BMLmovi/Subject 11/F_v3d_Subject_11_poses.npz",
            "sequence_id": "77",
            "repetition": 0,
            "num_frames": 10,
            "duration_s": 10 / 30,
            "first_frame": 3,
        },
    }


def _rows() -> list[dict]:
    def row(cid, take, split, labels, proc, start, end):
        return {
            "clip_id": cid,
            "take_id": take,
            "split": split,
            "labels": labels,
            "label_indices": [CLASSES.index(x) for x in labels],
            "proc_label": proc,
            "start_t": start,
            "end_t": end,
        }

    return [
        row("c1", "t1", "train", ["walk", "kneel"], "walk, then kneel", 0.0, 0.25),
        row("c2", "t1", "train", ["stand"], "stand  still", 0.25, 0.4),
        row("c3", "t3", "val", ["wave hand funny"], None, 0.2, 0.3),
    ]


def test_label_csvs_follow_the_loader_contract(tmp_path) -> None:
    takes, rows = _takes(), _rows()
    amarv.write_labels(tmp_path, rows, takes, CLASSES)
    labels = tmp_path / "labels"
    assert sorted(os.listdir(labels)) == ["category_index.csv", "test.csv", "train.csv", "val.csv"]
    train = (labels / "train.csv").read_text().splitlines()
    assert [len(line.split(",")) for line in train] == [9, 9]  # what the loader's split(",") needs
    with open(labels / "category_index.csv") as f:
        index = list(csv.reader(f, delimiter="#"))
    assert index[0] == ["category", "raw_labels"] and [r[0] for r in index[1:]] == CLASSES
    raw = {r[0]: [x.strip() for x in r[1].split(",")] for r in index[1:]}
    assert (
        raw["walk"] == ["walk then kneel"]
        and raw["stand"] == ["stand still"]
        and raw["wave hand funny"] == ["wave hand funny"]
    )
    every = sorted({x for v in raw.values() for x in v})
    fields = train[0].split(",")
    assert fields == [
        "CMU/01/01_01",
        "0;2",
        "0;61",
        "walk;kneel",
        str(every.index("walk then kneel")),
        "walk then kneel",
        "0.0",
        "0.25",
        "0.4",
    ]
    # The loader zips the two id lists, and evaluation takes BABEL-150 ids < 60 / < 120.
    assert len(fields[1].split(";")) == len(fields[2].split(";"))
    val = (labels / "val.csv").read_text().splitlines()
    assert val == (labels / "test.csv").read_text().splitlines()  # val doubles as test
    v = val[0].split(",")
    assert v[0] == "BMLmovi/Subject 11/F_v3d_Subject_11" and v[1:6] == ["3", "-1", "wave hand funny", "-1", "None"]
    assert float(v[6]) == pytest.approx(0.2 - 3 / 30) and float(v[8]) == pytest.approx(10 / 30)  # take-relative times


def test_rows_equal_the_clip_table(tmp_path) -> None:
    takes, rows = _takes(), _rows()
    files = amarv.label_files(rows, takes, CLASSES)
    parsed = [line.split(",") for line in files["train.csv"].splitlines()]
    for fields, row in zip(parsed, [r for r in rows if r["split"] == "train"], strict=True):
        assert [int(i) for i in fields[1].split(";")] == row["label_indices"]
        assert fields[3].split(";") == row["labels"]
        assert (float(fields[6]), float(fields[7])) == (row["start_t"], row["end_t"])


def test_natural_order_of_raw_label_ids() -> None:
    ids = amarv.raw_label_ids({"a": ["step 10", "step 2"], "b": ["Step", "step 1"]})
    assert list(ids) == ["Step", "step 1", "step 2", "step 10"]


def test_folder_names_and_view_mapping() -> None:
    assert amarv.amarv_relative_path("CMU/01/01_01_poses.npz") == "CMU/01/01_01"
    assert str(amarv.sequence_folder("CMU/01/01_01_poses.npz", "12", "t", 2, 3)) == "CMU/01/01_01/sequence_12_run2"
    assert str(amarv.sequence_folder("CMU/01/01_01_poses.npz", None, "tabc", 0, 1)) == "CMU/01/01_01/sequence_tabc"
    assert amarv.amarv_view_names({"c1": 10, "c2": 100, "c3": 190}) == {"c1": "Front", "c2": "Left", "c3": "Back"}
    with pytest.raises(ValueError, match="share an AMARV name"):
        amarv.amarv_view_names({"c1": 0, "c2": 45, "c3": -45})  # the ntu preset needs an explicit mapping
    with pytest.raises(ValueError, match="comma"):
        amarv.amarv_relative_path("a,b/x_poses.npz")


def test_videos_decode_match_and_resume(tmp_path) -> None:
    takes = _takes()
    arrays = {tid: take_arrays(t["num_frames"], 120, 160, seed=i) for i, (tid, t) in enumerate(takes.items())}
    calls: list[tuple] = []

    def read_view(take_id, view, modalities):
        calls.append((take_id, view, modalities))
        return {m: arrays[take_id][m] for m in modalities}

    view_map = amarv.amarv_view_names({v: 90.0 * i for i, v in enumerate(VIEWS)})
    videos = amarv.plan_videos(list(takes.values()), view_map)
    assert len(videos) == 3 * 4 * 2
    assert amarv.export_videos(tmp_path, videos, takes, read_view, show_progress=False) == {"written": 24, "skipped": 0}
    prefix = str(tmp_path / "videos")
    found = sorted(glob.glob(os.path.join(prefix, "**/sequence_*"), recursive=True))  # the loader's glob
    assert [os.path.relpath(p, prefix) for p in found] == [
        "BMLmovi/Subject 11/F_v3d_Subject_11/sequence_77_run0",
        "CMU/01/01_01/sequence_1234_run0",
        "CMU/01/01_01/sequence_1234_run1",
    ]
    for video in videos:
        path = tmp_path / "videos" / video.relpath
        assert re.fullmatch(r"(RGB|Depth)_(Front|Left|Back|Right)_Camera_640\.mp4", path.name)
        info = probe_mp4(path)
        take = takes[video.take_id]
        assert info.frames == take["num_frames"] and info.duration_s == pytest.approx(take["num_frames"] / 30)
        a = arrays[video.take_id]
        if video.kind == "rgb":
            assert min(psnr(x, y) for x, y in zip(read_mp4(path), a["rgb"], strict=True)) > 30
        else:
            depth = read_depth_mp4(path)
            inner = (
                a["mask"].astype(bool) & np.roll(a["mask"], 2, 2).astype(bool) & np.roll(a["mask"], -2, 2).astype(bool)
            )
            assert np.median(np.abs(depth - a["depth"])[inner]) < 0.02
    # Resume: nothing to do; a deleted file and a stale partial are handled.
    calls.clear()
    assert amarv.export_videos(tmp_path, videos, takes, read_view, show_progress=False) == {"written": 0, "skipped": 24}
    assert calls == []
    gone = tmp_path / "videos" / videos[5].relpath
    gone.unlink()
    stale = partial_path(gone)
    stale.write_bytes(b"half a file")
    assert amarv.export_videos(tmp_path, videos, takes, read_view, show_progress=False) == {"written": 1, "skipped": 23}
    assert gone.exists() and not stale.exists()


@pytest.mark.parametrize(
    ("source", "sequence_id"),
    [("../../outside_poses.npz", "12"), ("/abs/x_poses.npz", "12"), ("CMU/01/01_01_poses.npz", "../../etc")],
)
def test_a_take_attribute_cannot_lead_the_export_out_of_dest(source, sequence_id):
    """A shard from elsewhere is not checked by our index: its names pass the input name rule here."""
    with pytest.raises(UnsafePathError):
        amarv.sequence_folder(source, sequence_id, "t0", 0, 1)
    assert str(amarv.sequence_folder("CMU/01/01_01_poses.npz", "12", "t0", 1, 2)) == "CMU/01/01_01/sequence_12_run1"
