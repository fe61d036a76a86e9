"""The training dataset over real HDF5 files, with DataLoader workers.

The shard here follows CONTRACT.md's v2 layout (takes/{id}/views/{view}/...), written with
h5py, and is read by a minimal reader with the contract's ``read(take_id, view,
modalities=, frames=)`` signature; the lead's ShardReader replaces it after the merge.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from synthact.consume.dataset import SynthActVideoDataset, collate

VIEWS = ["front", "left", "back", "right"]


class H5Reader:
    """Opens its file on construction and logs the opening process's pid."""

    def __init__(self, path: Path):
        self.file = h5py.File(path, "r")
        (path.parent / f"opened-{os.getpid()}-{id(self)}").touch()

    @property
    def views(self) -> list[str]:
        return VIEWS

    def close(self) -> None:
        self.file.close()

    def read(self, take_id, view, modalities=None, frames=None):
        assert np.all(np.diff(frames) > 0)  # h5py needs increasing indices
        group = self.file[f"takes/{take_id}/views/{view}"]
        return {m: group[m][frames] for m in modalities}


@dataclass
class Table:
    rows: list[dict]
    classes: list[str]


def _shard(root: Path) -> Table:
    (root / "shards").mkdir(parents=True)
    rows = []
    with h5py.File(root / "shards" / "train-00000.h5", "w") as f:
        for k, length in enumerate((40, 9)):
            for v, view in enumerate(VIEWS):
                g = f.create_group(f"takes/t{k}/views/{view}")
                frame_ids = np.arange(length)
                g["rgb"] = (frame_ids[:, None, None, None] + 100 * v + np.zeros((1, 6, 8, 3))).astype(np.uint8)
                g["depth"] = (frame_ids[:, None, None] + np.zeros((1, 6, 8))).astype(np.float32)
                g["ntu25/joints_cam"] = (frame_ids[:, None, None] + np.zeros((1, 25, 3))).astype(np.float32)
                g["ntu25/keypoints_2d"] = np.zeros((length, 25, 2), np.float32)
                g["ntu25/keypoints_visible"] = np.ones((length, 25), bool)
            rows.append({"clip_id": f"c{k}", "take_id": f"t{k}", "shard": "train-00000", "split": "train",
                         "label_index": k, "take_frame_start": 2, "take_frame_stop": length})  # fmt: skip
    return Table(rows, ["walk", "sit"])


def test_items_have_layouts_labels_and_only_the_window(tmp_path) -> None:
    table = _shard(tmp_path)
    ds = SynthActVideoDataset(tmp_path, split="train", modalities=("rgb", "depth", "ntu25"), num_frames=4, stride=3,
                              seed=1, table=table, reader_factory=H5Reader)  # fmt: skip
    item = ds[0]
    assert item["rgb"].shape == (3, 4, 6, 8) and item["rgb"].dtype == torch.uint8  # C, T, H, W
    assert item["depth"].shape == (1, 4, 6, 8) and item["ntu25_joints_cam"].shape == (4, 25, 3)
    assert item["ntu25_keypoints_visible"].shape == (4, 25)
    frames = item["frames"].numpy()
    assert (np.diff(frames) == 3).all() and item["label"] == 0
    view_offset = 100 * VIEWS.index(item["view"])
    np.testing.assert_array_equal(item["rgb"][0, :, 0, 0].numpy(), frames + 2 + view_offset)  # take frame = start + window
    short = ds[1]  # 7 frames < span 10: clamp repeats the last frame
    np.testing.assert_array_equal(short["depth"][0, :, 0, 0].numpy(), [2, 5, 8, 8])
    tchw = SynthActVideoDataset(tmp_path, modalities=("rgb",), num_frames=4, layout="TCHW", table=table, reader_factory=H5Reader)
    assert tchw[0]["rgb"].shape == (4, 3, 6, 8)
    again = SynthActVideoDataset(tmp_path, modalities=("rgb",), num_frames=4, stride=3, seed=1, table=table, reader_factory=H5Reader)
    assert again[0]["view"] == item["view"] and torch.equal(again[0]["frames"], item["frames"])
    again.set_epoch(1)
    assert any(not torch.equal(again[i]["frames"], ds[i]["frames"]) or again[i]["view"] != ds[i]["view"] for i in range(2))


def test_views_all_and_stacked(tmp_path) -> None:
    table = _shard(tmp_path)
    per_view = SynthActVideoDataset(tmp_path, views="all", num_frames=2, table=table, reader_factory=H5Reader)
    assert len(per_view) == 8 and [per_view[i]["view"] for i in range(4)] == VIEWS
    stacked = SynthActVideoDataset(tmp_path, views=["back", "front"], stack_views=True, num_frames=2, table=table, reader_factory=H5Reader)
    item = stacked[0]
    assert len(stacked) == 2 and item["rgb"].shape == (2, 3, 2, 6, 8) and item["view"] == ["back", "front"]
    assert int(item["rgb"][0, 0, 0, 0, 0]) - int(item["rgb"][1, 0, 0, 0, 0]) == 200
    with pytest.raises(ValueError, match="modalities"):
        SynthActVideoDataset(tmp_path, modalities=("sound",), table=table, reader_factory=H5Reader)


def test_dataloader_workers_open_their_own_files(tmp_path) -> None:
    table = _shard(tmp_path)
    table.rows = table.rows * 8
    ds = SynthActVideoDataset(tmp_path, modalities=("rgb",), num_frames=4, table=table, reader_factory=H5Reader)
    loader = DataLoader(ds, batch_size=4, num_workers=2, collate_fn=collate, multiprocessing_context="fork")
    batches = list(loader)
    assert sum(len(b["label"]) for b in batches) == 16 and batches[0]["rgb"].shape == (4, 3, 4, 6, 8)
    opened = {p.name.split("-")[1] for p in (tmp_path / "shards").glob("opened-*")}
    assert len(opened) == 2 and str(os.getpid()) not in opened
    every = SynthActVideoDataset(tmp_path, views="all", modalities=("rgb",), num_frames=4, table=table, reader_factory=H5Reader)
    assert len(list(DataLoader(every, batch_size=8, num_workers=2, collate_fn=collate, multiprocessing_context="fork"))) == 8


def test_example_training_over_the_dataset_lowers_the_loss(tmp_path, capsys) -> None:
    import runpy

    table = _class_shard(tmp_path)
    ns = runpy.run_path(str(Path(__file__).resolve().parents[1] / "examples" / "train_dataset.py"))
    ds = SynthActVideoDataset(tmp_path, modalities=("rgb",), num_frames=8, stride=2, table=table, reader_factory=H5Reader,
                              transform=ns["to_float"])  # fmt: skip
    losses = ns["train"](ds, 2, steps=20, batch_size=4, num_workers=0, log_every=10)
    assert capsys.readouterr().out.count("loss") == 2
    print(f"dataset example: loss {np.mean(losses[:5]):.3f} -> {np.mean(losses[-5:]):.3f}")
    assert np.mean(losses[-5:]) < 0.5 * np.mean(losses[:5])


def _class_shard(root: Path) -> Table:
    """Two takes whose frames carry their class in colour: red (0) or green (1), plus noise."""
    (root / "shards").mkdir(parents=True)
    rng = np.random.default_rng(0)
    with h5py.File(root / "shards" / "s.h5", "w") as f:
        for k in range(2):
            for view in VIEWS:
                rgb = rng.integers(0, 120, size=(12, 6, 8, 3))
                rgb[..., k] += 120
                f[f"takes/t{k}/views/{view}/rgb"] = rgb.astype(np.uint8)
    rows = [{"clip_id": f"c{k}", "take_id": f"t{k}", "shard": "s", "split": "train", "label_index": k,
             "take_frame_start": 0, "take_frame_stop": 12} for k in range(2)]  # fmt: skip
    return Table(rows * 4, ["red", "green"])
