"""The training dataset over HDF5 files in the shard layout, with DataLoader workers.

The files hold the parts of docs/FORMAT.md's layout that the dataset reads
(``views`` attribute, ``takes/{id}/views/{view}/`` with per-frame JPEG RGB),
with known values, and are read by the real ``ShardReader`` (a subclass that
logs which process opens a file). tests/test_consume_e2e.py does the same over
a real rendered run.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import h5py
import numpy as np
import pytest
import simplejpeg
import torch
from torch.utils.data import DataLoader

from synthact.consume.dataset import SynthActVideoDataset, collate
from synthact.consume.reader import ClipTable, ShardReader
from synthact.labels.tables import ClassTable, ClipRow
from synthact.shard_format import FORMAT_VERSION_ATTRIBUTE, VIEWS_ATTRIBUTE

VIEWS = ["front", "left", "back", "right"]
ONE_PERSON_VERSION = 3  # the files hold one body without a person axis (the reader adds P = 1)


class LoggingReader(ShardReader):
    """The real reader; logs the pid of each process that opens the file."""

    @property
    def file(self) -> h5py.File:
        if self._file is None:
            (self.path.parent / f"opened-{os.getpid()}-{id(self)}").touch()
        return super().file


def _row(k: int, shard: str, start: int, stop: int, label: int, name: str) -> ClipRow:
    return ClipRow(
        clip_id=f"c{k}",
        protocol="segments",
        take_id=f"t{k}",
        shard=shard,
        split="train",
        repetition=0,
        sequence_id=str(k),
        source=f"s{k}.npz",
        segment_id=f"g{k}",
        chunk=0,
        frame_start=start,
        frame_stop=stop,
        take_frame_start=start,
        take_frame_stop=stop,
        start_t=0.0,
        end_t=1.0,
        label=name,
        label_index=label,
        labels=(name,),
        label_indices=(label,),
        raw_label=name,
        proc_label=name,
        annotator="a",
    )


def _table(rows: list[ClipRow], classes: list[str]) -> ClipTable:
    return ClipTable("segments", tuple(rows), ClassTable("segments", tuple(classes), "frequency", (-1,) * len(classes)))


def _write_rgb(group: h5py.Group, frames: np.ndarray) -> None:
    ds = group.create_dataset("rgb", (len(frames),), dtype=h5py.vlen_dtype(np.uint8))
    for i, frame in enumerate(frames):
        ds[i] = np.frombuffer(simplejpeg.encode_jpeg(np.ascontiguousarray(frame), quality=95), np.uint8)
    ds.attrs["encoding"] = "jpeg"


def _shard(root: Path) -> ClipTable:
    (root / "shards").mkdir(parents=True)
    rows = []
    with h5py.File(root / "shards" / "train-00000.h5", "w") as f:
        f.attrs[VIEWS_ATTRIBUTE.name] = json.dumps(VIEWS)
        f.attrs[FORMAT_VERSION_ATTRIBUTE.name] = ONE_PERSON_VERSION
        for k, length in enumerate((40, 9)):
            f[f"takes/t{k}/frames"] = np.arange(length)
            for v, view in enumerate(VIEWS):
                g = f.create_group(f"takes/t{k}/views/{view}")
                frame_ids = np.arange(length)
                _write_rgb(g, (frame_ids[:, None, None, None] + 50 * v + np.zeros((1, 16, 16, 3))).astype(np.uint8))
                g["depth"] = (frame_ids[:, None, None] + np.zeros((1, 6, 8))).astype(np.float32)
                g["ntu25/joints_cam"] = (frame_ids[:, None, None] + np.zeros((1, 25, 3))).astype(np.float32)
                g["ntu25/keypoints_2d"] = np.zeros((length, 25, 2), np.float32)
                g["ntu25/keypoints_visible"] = np.ones((length, 25), bool)
            rows.append(_row(k, "train-00000", 2, length, k, ["walk", "sit"][k]))
    return _table(rows, ["walk", "sit"])


def test_items_have_layouts_labels_and_only_the_window(tmp_path) -> None:
    table = _shard(tmp_path)
    ds = SynthActVideoDataset(
        tmp_path, split="train", modalities=("rgb", "depth", "ntu25"), num_frames=4, stride=3, seed=1, table=table
    )
    item = ds[0]
    assert item["rgb"].shape == (3, 4, 16, 16) and item["rgb"].dtype == torch.uint8  # C, T, H, W
    assert item["depth"].shape == (1, 4, 6, 8) and item["ntu25_joints_cam"].shape == (4, 1, 25, 3)  # T, P, J, 3
    assert item["ntu25_keypoints_visible"].shape == (4, 1, 25)
    assert item["present"].shape == (4, 1) and bool(item["present"].all())
    frames = item["frames"].numpy()
    assert (np.diff(frames) == 3).all() and item["label"] == 0
    view_offset = 50 * VIEWS.index(item["view"])
    rgb = item["rgb"][0, :, 8, 8].numpy().astype(int)  # take frame = start + window; JPEG keeps a flat colour within 2
    assert np.abs(rgb - (frames + 2 + view_offset)).max() <= 2, (rgb, frames, view_offset)
    short = ds[1]  # 7 frames < span 10: clamp repeats the last frame
    np.testing.assert_array_equal(short["depth"][0, :, 0, 0].numpy(), [2, 5, 8, 8])
    tchw = SynthActVideoDataset(tmp_path, modalities=("rgb",), num_frames=4, layout="TCHW", table=table)
    assert tchw[0]["rgb"].shape == (4, 3, 16, 16)
    again = SynthActVideoDataset(tmp_path, modalities=("rgb",), num_frames=4, stride=3, seed=1, table=table)
    assert again[0]["view"] == item["view"] and torch.equal(again[0]["frames"], item["frames"])
    again.set_epoch(1)
    assert any(
        not torch.equal(again[i]["frames"], ds[i]["frames"]) or again[i]["view"] != ds[i]["view"] for i in range(2)
    )


def test_views_all_and_stacked(tmp_path) -> None:
    table = _shard(tmp_path)
    per_view = SynthActVideoDataset(tmp_path, views="all", num_frames=2, table=table)
    assert len(per_view) == 8 and [per_view[i]["view"] for i in range(4)] == VIEWS
    stacked = SynthActVideoDataset(tmp_path, views=["back", "front"], stack_views=True, num_frames=2, table=table)
    item = stacked[0]
    assert len(stacked) == 2 and item["rgb"].shape == (2, 3, 2, 16, 16) and item["view"] == ["back", "front"]
    assert abs(int(item["rgb"][0, 0, 0, 8, 8]) - int(item["rgb"][1, 0, 0, 8, 8]) - 100) <= 2
    with pytest.raises(ValueError, match="modalities"):
        SynthActVideoDataset(tmp_path, modalities=("sound",), table=table)


def test_dataloader_workers_open_their_own_files(tmp_path) -> None:
    base = _shard(tmp_path)
    table = _table(list(base.rows) * 8, list(base.classes.classes))
    ds = SynthActVideoDataset(tmp_path, modalities=("rgb",), num_frames=4, table=table, reader_factory=LoggingReader)
    loader = DataLoader(ds, batch_size=4, num_workers=2, collate_fn=collate, multiprocessing_context="fork")
    batches = list(loader)
    assert sum(len(b["label"]) for b in batches) == 16 and batches[0]["rgb"].shape == (4, 3, 4, 16, 16)
    opened = {p.name.split("-")[1] for p in (tmp_path / "shards").glob("opened-*")}
    assert len(opened) == 2 and str(os.getpid()) not in opened
    every = SynthActVideoDataset(
        tmp_path, views="all", modalities=("rgb",), num_frames=4, table=table, reader_factory=LoggingReader
    )
    assert (
        len(list(DataLoader(every, batch_size=8, num_workers=2, collate_fn=collate, multiprocessing_context="fork")))
        == 8
    )


@pytest.mark.slow  # trains a model for several seconds
def test_example_training_over_the_dataset_lowers_the_loss(tmp_path, capsys) -> None:
    """The video example's model and loop on frames whose colour is their class: it must learn it."""
    import runpy

    import torch

    table = _class_shard(tmp_path)
    ns = runpy.run_path(str(Path(__file__).resolve().parents[1] / "examples" / "train_dataset.py"))

    def as_video(sample: dict) -> dict:  # the example's 4 channels: RGB and an empty mask
        rgb = sample.pop("rgb").float() / 255.0
        sample["video"] = torch.cat([rgb, torch.zeros_like(rgb[:1])])
        return sample

    ds = SynthActVideoDataset(tmp_path, modalities=("rgb",), num_frames=8, stride=1, table=table, transform=as_video)
    result = ns["train"](ds, ds, epochs=20, workers=0, draws=1, log_every=10)
    assert capsys.readouterr().out.count("loss") == 2
    losses = result.epoch_losses
    print(f"dataset example: loss {losses[0]:.3f} -> {losses[-1]:.3f}, accuracy {result.accuracy:.2f}")
    assert losses[-1] < 0.5 * losses[0] and result.accuracy == 1.0


def _class_shard(root: Path) -> ClipTable:
    """Two takes whose frames carry their class in colour: red (0) or green (1), plus noise."""
    (root / "shards").mkdir(parents=True)
    rng = np.random.default_rng(0)
    with h5py.File(root / "shards" / "s.h5", "w") as f:
        f.attrs[VIEWS_ATTRIBUTE.name] = json.dumps(VIEWS)
        f.attrs[FORMAT_VERSION_ATTRIBUTE.name] = ONE_PERSON_VERSION
        for k in range(2):
            for view in VIEWS:
                rgb = rng.integers(0, 120, size=(12, 16, 16, 3))
                rgb[..., k] += 120
                _write_rgb(f.create_group(f"takes/t{k}/views/{view}"), rgb.astype(np.uint8))
    rows = [_row(k, "s", 0, 12, k, ["red", "green"][k]) for k in range(2)]
    return _table(rows * 4, ["red", "green"])
