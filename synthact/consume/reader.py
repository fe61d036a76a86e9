"""Read SynthAct shards (takes x views) and clip tables (one per label protocol).

File handles open lazily, once per process, so a DataLoader's workers each
get their own handle after the fork (HDF5 handles must not cross a fork).
Reads touch only the frames and modalities asked for: a 16-frame window of RGB
reads 16 JPEGs, not the take.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import h5py
import numpy as np

from synthact.labels.tables import ClassTable, ClipRow, read_class_table, read_clip_rows

# Per-view datasets; a subgroup's arrays are named with an underscore ("ntu25/joints_cam" -> "ntu25_joints_cam").
VIEW_MODALITIES = (
    "rgb", "depth", "mask", "parts", "normals", "keypoints_2d", "keypoints_visible", "joints_cam", "bbox",
    "K", "R", "t", "ntu25_keypoints_2d", "ntu25_keypoints_visible", "ntu25_joints_cam",
)  # fmt: skip
TAKE_MODALITIES = ("joints_world", "ntu25_joints_world", "frames", "source_frames")
JSON_TAKE_ATTRS = ("appearance", "rig", "segments", "spans")

Frames = slice | np.ndarray | list[int] | None


def decode_jpeg(blob: np.ndarray) -> np.ndarray:
    import simplejpeg

    return simplejpeg.decode_jpeg(np.asarray(blob).tobytes(), colorspace="RGB")


def _h5_name(modality: str) -> str:
    return modality.replace("ntu25_", "ntu25/", 1) if modality.startswith("ntu25_") else modality


def _select(dataset: h5py.Dataset, frames: Frames) -> np.ndarray:
    """Rows ``frames`` of a dataset, reading only those (h5py wants sorted, unique indices)."""
    if frames is None:
        return dataset[()]
    if isinstance(frames, slice):
        return dataset[frames]
    index = np.asarray(frames, dtype=np.int64)
    unique, inverse = np.unique(index, return_inverse=True)
    return dataset[unique][inverse]


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

    def __enter__(self) -> "ShardReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def take_ids(self) -> list[str]:
        return [c.decode() if isinstance(c, bytes) else str(c) for c in self.file["index/take_ids"][()]]

    @property
    def views(self) -> list[str]:
        return json.loads(self.file.attrs["views"])

    def take_attrs(self, take_id: str) -> dict[str, Any]:
        """The take's attributes, JSON ones decoded (``segments``: the source labels as given)."""
        attrs = dict(self.file[f"takes/{take_id}"].attrs)
        for key in JSON_TAKE_ATTRS:
            if key in attrs:
                attrs[key] = json.loads(attrs[key])
        return attrs

    def view_attrs(self, take_id: str, view: str) -> dict[str, Any]:
        """One view's attributes, ``placement`` (every drawn camera value) decoded."""
        attrs = dict(self.file[f"takes/{take_id}/views/{view}"].attrs)
        if "placement" in attrs:
            attrs["placement"] = json.loads(attrs["placement"])
        return attrs

    def num_frames(self, take_id: str) -> int:
        return int(self.file[f"takes/{take_id}"].attrs["num_frames"])

    def read(
        self, take_id: str, view: str, modalities: Iterable[str] | None = None, frames: Frames = None
    ) -> dict[str, np.ndarray]:
        """Arrays of one take-view: the modalities asked for (all when None), at ``frames``.

        ``frames`` is a slice or an index array into the take's frames (None: all).
        Per-view modalities are ``VIEW_MODALITIES``, per-take ones ``TAKE_MODALITIES``;
        ``rgb`` comes back decoded, (T, H, W, 3) uint8.
        """
        take = self.file[f"takes/{take_id}"]
        group = take[f"views/{view}"]
        if modalities is None:  # everything stored
            wanted = [m for m in VIEW_MODALITIES if _h5_name(m) in group] + list(TAKE_MODALITIES)
        else:
            wanted = list(modalities)
        out: dict[str, np.ndarray] = {}
        for modality in wanted:
            name = _h5_name(modality)
            if modality in VIEW_MODALITIES:
                if name not in group:
                    raise KeyError(f"{self.path}: take {take_id} view {view} has no {modality!r} "
                                   "(render.engine GEOMETRY renders no RGB)")  # fmt: skip
                data = _select(group[name], frames)
                out[modality] = np.stack([decode_jpeg(b) for b in data]) if modality == "rgb" else data
            elif modality in TAKE_MODALITIES:
                out[modality] = _select(take[name], frames)
            else:
                raise KeyError(f"{self.path}: unknown modality {modality!r}; known: {VIEW_MODALITIES + TAKE_MODALITIES}")
        return out


@dataclass(frozen=True)
class ClipTable:
    """One protocol's clips and classes, as the labels stage wrote them."""

    protocol: str
    rows: tuple[ClipRow, ...]
    classes: ClassTable

    @classmethod
    def load(cls, output_dir: str | Path, protocol: str | None = None) -> "ClipTable":
        """``protocol`` None: the run's default, the first of ``labels.protocols`` (the manifest says)."""
        output_dir = Path(output_dir)
        if protocol is None:
            protocol = default_protocol(output_dir)
        folder = output_dir / "labels" / protocol
        if not folder.is_dir():
            have = sorted(p.name for p in (output_dir / "labels").glob("*") if p.is_dir())
            raise FileNotFoundError(f"{folder}: no clip table for protocol {protocol!r}; this run has {have}")
        rows = tuple(read_clip_rows(folder / "clips.jsonl"))
        return cls(protocol=protocol, rows=rows, classes=read_class_table(folder / "classes.json"))

    def split(self, name: str) -> list[ClipRow]:
        return [r for r in self.rows if r.split == name]


def default_protocol(output_dir: Path) -> str:
    manifest = json.loads((Path(output_dir) / "manifest.json").read_text())
    return manifest["labels"][0]["protocol"]


def shard_paths_from_manifest(output_dir: str | Path, split: str | None = None) -> list[Path]:
    output_dir = Path(output_dir)
    manifest = json.loads((output_dir / "manifest.json").read_text())
    return [output_dir / s["path"] for s in manifest["shards"] if split is None or s["split"] == split]
