"""Merge a shard's per-clip, per-view render results into one HDF5 file.

Layout (docs/FORMAT.md is the reference):
- RGB: one JPEG per frame as variable-length bytes (25-36x smaller than raw,
  any frame readable alone, decodable by every image library).
- depth, mask, parts, keypoints: lossless, gzip (HDF5's built-in filter, so
  any HDF5 reader opens the file) with shuffle, one frame per chunk.
- NTU RGB+D's 25-joint skeleton (``ntu25/``) is selected here from the 73
  rendered joints, so every preset carries it without a second render output.
- Every value the plan and the renderer drew (camera placement, setup, facing,
  appearance, body-shape noise) is stored, as JSON attributes or datasets.
- Timestamps are off, so the same inputs give a byte-identical shard.
The file is written under a temporary name and renamed when complete.
"""

from __future__ import annotations

import json
import os
from importlib import metadata
from pathlib import Path

import h5py
import numpy as np

from synthact import __version__
from synthact.body.skeleton import OUTPUT_JOINT_NAMES, PART_NAMES
from synthact.errors import SynthActError
from synthact.render.worker import cache_path
from synthact.sources.ntu import SMPLH_TO_NTU25

FORMAT_NAME = "synthact-shard"
FORMAT_VERSION = 1
SOFTWARE = ("synthact", "bpy", "smplx", "torch", "numpy", "h5py", "submitit", "snakemake")

PER_FRAME_IMAGES = {  # name -> (dtype stored, gzip level)
    "depth": (np.float32, 4),
    "mask": (np.uint8, 4),
    "parts": (np.uint8, 4),
    "normals": (np.float16, 4),
}
PER_FRAME_ARRAYS = ("keypoints_2d", "keypoints_visible", "joints_cam", "bbox")
NTU25_PER_VIEW = ("keypoints_2d", "keypoints_visible", "joints_cam")  # selected from the 73 joints
# Values of a view's plan entry stored as view attributes; anything else the
# plan drew is in its "placement" dict (JSON attribute).
VIEW_SCALARS = ("seed", "azimuth_deg", "distance_m", "height_m")


class MergeError(SynthActError, RuntimeError):
    """A render result is missing or inconsistent; the message names the file."""


def software_versions() -> dict[str, str]:
    versions = {}
    for name in SOFTWARE:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = __version__ if name == "synthact" else "not installed"
    return versions


def _dataset(group: h5py.Group, name: str, data: np.ndarray, gzip: int | None = None, **attrs) -> h5py.Dataset:
    options: dict = {"track_times": False}
    if gzip is not None and data.ndim >= 1 and data.size:
        options.update(compression="gzip", compression_opts=gzip, shuffle=True, chunks=(1, *data.shape[1:]))
    dset = group.create_dataset(name, data=data, **options)
    for key, value in attrs.items():
        dset.attrs[key] = value
    return dset


def _write_rgb(group: h5py.Group, jpeg: np.ndarray, offsets: np.ndarray) -> None:
    dset = group.create_dataset("rgb", shape=(len(offsets) - 1,), dtype=h5py.vlen_dtype(np.uint8), track_times=False)
    for i in range(len(offsets) - 1):
        dset[i] = jpeg[offsets[i] : offsets[i + 1]]
    dset.attrs["encoding"] = "jpeg"


def _label_timeline(clip: dict, num_frames: int) -> tuple[list[str], np.ndarray]:
    names = sorted({span["category"] for span in clip["timeline"]} | set(clip["categories"]))
    table = np.zeros((num_frames, len(names)), dtype=np.uint8)
    for span in clip["timeline"]:
        table[max(span["start"], 0) : min(span["stop"], num_frames), names.index(span["category"])] = 1
    return names, table


def _load_view(path: Path) -> dict[str, np.ndarray]:
    if not path.exists():
        raise MergeError(f"{path}: render result missing; rerun the shard's render step")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except Exception as exc:
        raise MergeError(f"{path}: unreadable render result ({exc}); delete it and rerun the render step") from exc


def _ntu25(per_joint: np.ndarray) -> np.ndarray:
    """NTU RGB+D's 25 joints, in NTU order, from a (T, 73, ...) per-joint array."""
    return np.take(per_joint, SMPLH_TO_NTU25, axis=1)


def _write_view(group: h5py.Group, view: dict, arrays: dict[str, np.ndarray]) -> None:
    _write_rgb(group, arrays["rgb_jpeg"], arrays["rgb_offsets"])
    for name, (dtype, level) in PER_FRAME_IMAGES.items():
        _dataset(group, name, arrays[name].astype(dtype), gzip=level)
    for name in PER_FRAME_ARRAYS:
        _dataset(group, name, arrays[name], gzip=4)
    for name in NTU25_PER_VIEW:
        _dataset(group, f"ntu25/{name}", _ntu25(arrays[name]), gzip=4)
    camera = view["camera"]
    _dataset(group, "K", np.asarray(camera["K"], dtype=np.float64))
    _dataset(group, "R", np.asarray(camera["R"], dtype=np.float64))
    _dataset(group, "t", np.asarray(camera["t"], dtype=np.float64))
    group.attrs.update({k: view[k] for k in VIEW_SCALARS})
    group.attrs["placement"] = json.dumps(view.get("placement", {}), sort_keys=True)
    group.attrs["image_size"] = (camera["width"], camera["height"])


def _write_body(group: h5py.Group, arrays: dict[str, np.ndarray]) -> None:
    """The SMPL-H parameters: the motion's own, and the body shape actually rendered.

    Caches written before body-shape randomisation existed lack the ``*_used``
    entries; the rendered body was then the motion's own.
    """
    for key in ("poses", "trans", "betas"):
        _dataset(group, f"smplh/{key}", arrays[key])
    betas = arrays["betas"]
    _dataset(group, "smplh/betas_used", arrays.get("betas_used", betas))
    _dataset(group, "smplh/shape_noise", arrays.get("shape_noise", np.zeros_like(betas)))
    group["smplh"].attrs["ground_offset_m"] = float(arrays.get("ground_offset_m", 0.0))


def _write_clip(clips_group: h5py.Group, clip: dict, views: list[str], cache_dir: Path) -> None:
    per_view = {v: _load_view(cache_path(cache_dir, v, clip["clip_id"])) for v in views}
    first = per_view[views[0]]
    for view, arrays in per_view.items():
        if not np.array_equal(arrays["joints_world"], first["joints_world"]):
            raise MergeError(f"clip {clip['clip_id']}: view {view!r} saw a different body than {views[0]!r}")
    group = clips_group.create_group(clip["clip_id"])
    num_frames = len(first["source_frames"])
    scalar_keys = ("source", "sequence_id", "split", "segment_id", "chunk", "fps", "source_fps", "frame_start",
                   "frame_stop", "primary_category", "appearance_seed", "path_radius", "heading_deg")  # fmt: skip
    group.attrs.update({k: clip[k] for k in scalar_keys})
    group.attrs["categories"] = json.dumps(clip["categories"])
    group.attrs["category_overlap"] = json.dumps(clip["category_overlap"], sort_keys=True)
    group.attrs["gender"] = str(first["gender"])
    group.attrs["appearance"] = str(first["appearance"])
    group.attrs["num_frames"] = num_frames
    # Where the rig was aimed: room cameras stand at path_center + their room position.
    group.attrs["path_center"] = np.asarray(clip.get("path_center", (0.0, 0.0)), dtype=np.float64)
    names, table = _label_timeline(clip, num_frames)
    _dataset(group, "labels/frame_categories", table, gzip=4, categories=json.dumps(names))
    _dataset(group, "source_frames", first["source_frames"])
    _dataset(group, "joints_world", first["joints_world"], gzip=4)
    _dataset(group, "ntu25/joints_world", _ntu25(first["joints_world"]), gzip=4)
    _write_body(group, first)
    # Draws shared by every view of the clip (NTU setup, facing, ...): the
    # plan repeats them in each view's placement; the first view's are stored.
    group.attrs["rig"] = json.dumps(clip["views"][0].get("placement", {}).get("clip", {}), sort_keys=True)
    for view in clip["views"]:
        _write_view(group.create_group(f"views/{view['name']}"), view, per_view[view["name"]])


def write_shard(document: dict, cache_dir: Path, out_path: Path, extra_attrs: dict) -> tuple[int, int]:
    """Write the shard for ``document``; returns (number of clips, bytes)."""
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(f".{out_path.name}.{os.getpid()}.tmp")
    clip_ids = [c["clip_id"] for c in document["clips"]]
    try:
        with h5py.File(tmp, "w", track_order=False) as f:
            f.attrs.update({
                "format": FORMAT_NAME, "format_version": FORMAT_VERSION, "generator_version": __version__,
                "shard": document["shard"], "split": document["split"], "config_hash": document["config_hash"],
                "num_clips": len(clip_ids), "views": json.dumps(document["views"]),
                "joint_names": json.dumps(OUTPUT_JOINT_NAMES), "part_names": json.dumps(PART_NAMES),
                "software": json.dumps(software_versions(), sort_keys=True), **extra_attrs,
            })  # fmt: skip
            _dataset(f, "index/clip_ids", np.array(clip_ids, dtype=h5py.string_dtype()))
            clips_group = f.create_group("clips")
            for clip in document["clips"]:
                _write_clip(clips_group, clip, document["views"], cache_dir)
        os.replace(tmp, out_path)
    finally:
        tmp.unlink(missing_ok=True)
    return len(clip_ids), out_path.stat().st_size
