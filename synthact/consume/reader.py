"""Read SynthAct shards: one clip-view at a time, or as a PyTorch Dataset.

File handles open lazily, once per process, so a DataLoader's workers each
get their own handle after the fork (HDF5 handles must not cross a fork).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import h5py
import numpy as np
from torch.utils.data import Dataset


def decode_jpeg(blob: np.ndarray) -> np.ndarray:
    import simplejpeg

    return simplejpeg.decode_jpeg(blob.tobytes(), colorspace="RGB")


@dataclass(frozen=True)
class ClipView:
    shard: Path
    clip_id: str
    view: str


class ShardReader:
    """Lazy reader of one shard file."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._file: h5py.File | None = None

    @property
    def file(self) -> h5py.File:
        if self._file is None:
            self._file = h5py.File(self.path, "r")
        return self._file

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    @property
    def clip_ids(self) -> list[str]:
        return [c.decode() if isinstance(c, bytes) else str(c) for c in self.file["index/clip_ids"][()]]

    @property
    def views(self) -> list[str]:
        return json.loads(self.file.attrs["views"])

    def clip_attrs(self, clip_id: str) -> dict:
        """The clip's attributes, JSON ones decoded (``rig``: per-clip camera draws)."""
        attrs = dict(self.file[f"clips/{clip_id}"].attrs)
        for key in ("categories", "category_overlap", "appearance", "rig"):
            if key in attrs:  # "rig" is absent from shards older than the presets
                attrs[key] = json.loads(attrs[key])
        return attrs

    def view_attrs(self, clip_id: str, view: str) -> dict:
        """One view's attributes, ``placement`` (every drawn camera value) decoded."""
        attrs = dict(self.file[f"clips/{clip_id}/views/{view}"].attrs)
        if "placement" in attrs:
            attrs["placement"] = json.loads(attrs["placement"])
        return attrs

    def read(self, clip_id: str, view: str, rgb: bool = True) -> dict[str, np.ndarray]:
        """Every per-frame array of one clip-view, plus camera and clip-level arrays.

        Arrays of a subgroup are named with an underscore: ``ntu25/keypoints_2d``
        becomes ``ntu25_keypoints_2d``.
        """
        clip = self.file[f"clips/{clip_id}"]
        group = clip[f"views/{view}"]
        out = _datasets(group, skip=("rgb",))
        if rgb:
            out["rgb"] = np.stack([decode_jpeg(blob) for blob in group["rgb"][()]])
        out["joints_world"] = clip["joints_world"][()]
        if "ntu25" in clip:
            out["ntu25_joints_world"] = clip["ntu25/joints_world"][()]
        out["frame_categories"] = clip["labels/frame_categories"][()]
        out["category_names"] = json.loads(clip["labels/frame_categories"].attrs["categories"])
        return out


def _datasets(group: h5py.Group, skip: tuple[str, ...] = (), prefix: str = "") -> dict[str, np.ndarray]:
    """Every dataset below ``group``, subgroup names joined to dataset names by '_'."""
    out: dict[str, np.ndarray] = {}
    for name, item in group.items():
        if name in skip:
            continue
        if isinstance(item, h5py.Group):
            out.update(_datasets(item, prefix=f"{prefix}{name}_"))
        else:
            out[f"{prefix}{name}"] = item[()]
    return out


def iter_clip_views(shard_paths: list[Path]) -> Iterator[ClipView]:
    for path in shard_paths:
        reader = ShardReader(path)
        try:
            for clip_id in reader.clip_ids:
                for view in reader.views:
                    yield ClipView(Path(path), clip_id, view)
        finally:
            reader.close()


def shard_paths_from_manifest(output_dir: str | Path, split: str | None = None) -> list[Path]:
    output_dir = Path(output_dir)
    manifest = json.loads((output_dir / "manifest.json").read_text())
    return [output_dir / s["path"] for s in manifest["shards"] if split is None or s["split"] == split]


class SynthActDataset(Dataset):
    """A map-style PyTorch Dataset of clip-views.

    Items are dicts of numpy arrays plus ``primary_category``; wrap with a
    collate function of your choice since clips differ in length.
    """

    def __init__(self, output_dir: str | Path, split: str | None = None, rgb: bool = True):
        self.items = list(iter_clip_views(shard_paths_from_manifest(output_dir, split)))
        self.rgb = rgb
        self._readers: dict[Path, ShardReader] = {}

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict:
        item = self.items[index]
        reader = self._readers.setdefault(item.shard, ShardReader(item.shard))
        sample = reader.read(item.clip_id, item.view, rgb=self.rgb)
        sample["primary_category"] = reader.clip_attrs(item.clip_id)["primary_category"]
        sample["clip_id"], sample["view"] = item.clip_id, item.view
        return sample

    def __getstate__(self) -> dict:
        # Never carry open HDF5 handles into DataLoader workers.
        return {**self.__dict__, "_readers": {}}
