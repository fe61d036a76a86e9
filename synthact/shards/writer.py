"""Merge a shard's per-window, per-view render results into one HDF5 file.

Layout (docs/FORMAT.md is the reference): one group per take, one subgroup per
view, every per-frame array over the whole take (its windows concatenated).
- RGB: one video stream per take and view (H.264 by default; AV1 or JPEG),
  keyframes every K frames, with a packet index (``synthact.codecs.storage``).
- depth as uint16 codes (mm to 60 m, a log band beyond), normals as two
  octahedral components, mask and parts: one frame per chunk, shuffle +
  gzip (HDF5's built-in filter, so any HDF5 reader opens the file). The
  render cache already holds each frame's compressed chunk, so the merge
  copies chunks (``write_direct_chunk``) and never inflates a frame.
- keypoints, cameras: lossless, gzip with shuffle.
- Cameras per frame (K, R, t), since a camera that follows the actor moves.
- NTU RGB+D's 25-joint skeleton (``ntu25/``) is selected here from the 73
  rendered joints, so every preset carries it without a second render output.
- The take's source labels as given (``segments``), and every value the plan
  and the renderer drew (placement, setup, facing, appearance, body shape).
- Timestamps are off, so the same inputs give a byte-identical shard.
The file is written under a temporary name and renamed when complete.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from importlib import metadata
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from synthact import __version__, atomic
from synthact.body.skeleton import OUTPUT_JOINT_NAMES, PART_NAMES
from synthact.codecs import depth as depth_codec
from synthact.codecs import normals as normals_codec
from synthact.codecs.storage import image_options, write_video
from synthact.codecs.video import EncodedVideo, concat_videos
from synthact.errors import SynthActError
from synthact.render.cache import RenderCache
from synthact.render.encode import IMAGES
from synthact.sources.ntu import SMPLH_TO_NTU25
from synthact.takes.plan import ShardPlan, TakePlan

FORMAT_NAME = "synthact-shard"
FORMAT_VERSION = 2
SOFTWARE = ("synthact", "bpy", "smplx", "torch", "numpy", "h5py", "submitit", "snakemake")

PER_FRAME_ARRAYS = ("keypoints_2d", "keypoints_visible", "joints_cam", "bbox", "R", "t")
NTU25_PER_VIEW = ("keypoints_2d", "keypoints_visible", "joints_cam")  # selected from the 73 joints
VIEW_SCALARS = ("seed", "azimuth_deg", "height_m", "camera_motion")


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


def _load_window(path: Path) -> dict[str, np.ndarray]:
    if not path.exists():
        raise MergeError(f"{path}: render result missing; rerun the shard's render step")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except Exception as exc:
        raise MergeError(f"{path}: unreadable render result ({exc}); delete it and rerun the render step") from exc


def _storage(window: dict[str, np.ndarray], path: Path) -> dict[str, Any]:
    if "storage" not in window:
        raise MergeError(
            f"{path}: render result of an older format (no coded streams); delete it and rerun the render step"
        )
    return json.loads(str(window["storage"]))


def _video(window: dict[str, np.ndarray], storage: dict[str, Any]) -> EncodedVideo:
    attrs = storage["video"]
    return EncodedVideo(codec=attrs["codec"], width=int(attrs["width"]), height=int(attrs["height"]),
                        data=window["rgb_data"], offsets=window["rgb_offsets"], pts=window["rgb_pts"],
                        keyframe=window["rgb_keyframe"], settings=json.loads(attrs["settings"]))  # fmt: skip


def _ntu25(per_joint: np.ndarray) -> np.ndarray:
    """NTU RGB+D's 25 joints, in NTU order, from a (T, 73, ...) per-joint array."""
    return np.take(per_joint, SMPLH_TO_NTU25, axis=1)


class _Streams:
    """Datasets of a group filled window by window, so a take of any length merges
    with one window in memory. Each is created at the first window, over the whole take."""

    def __init__(self, group: h5py.Group, num_frames: int):
        self.group, self.num_frames = group, num_frames

    def write(self, name: str, data: np.ndarray, start: int, gzip: int | None = 4) -> None:
        if name not in self.group:
            options: dict[str, Any] = {"track_times": False}
            if gzip is not None:
                options.update(compression="gzip", compression_opts=gzip, shuffle=True, chunks=(1, *data.shape[1:]))
            self.group.create_dataset(name, shape=(self.num_frames, *data.shape[1:]), dtype=data.dtype, **options)
        self.group[name][start : start + len(data)] = data

    def write_chunks(self, name: str, window: dict[str, np.ndarray], image: dict[str, Any], compressor: str,
                     start: int) -> None:  # fmt: skip
        """Copy a window's compressed one-frame chunks into the take's image dataset."""
        shape, dtype = tuple(image["shape"]), np.dtype(image["dtype"])
        if name not in self.group:
            full = (self.num_frames, *shape)
            self.group.create_dataset(name, shape=full, dtype=dtype, **image_options(full, dtype, compressor))
        dset = self.group[name]
        data, offsets = window[f"{name}_chunks"], window[f"{name}_chunk_offsets"]
        zeros = (0,) * len(shape)
        for i in range(len(offsets) - 1):
            dset.id.write_direct_chunk((start + i, *zeros), data[offsets[i] : offsets[i + 1]].tobytes())


def _write_view_window(view: _Streams, window: dict[str, np.ndarray], storage: dict[str, Any], start: int) -> None:
    for name in IMAGES:
        view.write_chunks(name, window, storage["images"][name], storage["compressor"], start)
    for name in PER_FRAME_ARRAYS:
        view.write(name, window[name], start)
    for name in NTU25_PER_VIEW:
        view.write(f"ntu25/{name}", _ntu25(window[name]), start)
    view.write("K", np.repeat(np.asarray(window["K"], np.float64)[None], len(window["R"]), axis=0), start)


def _image_attrs(group: h5py.Group, storage: dict[str, Any]) -> None:
    """The decoding constants every image dataset carries (docs/FORMAT.md)."""
    group["depth"].attrs.update(depth_codec.depth_attrs())
    group["normals"].attrs.update(normals_codec.normals_attrs(int(storage["settings"]["normal_bits"])))
    for name in ("mask", "parts"):
        group[name].attrs["encoding"] = "uint8"


def _write_video(group: h5py.Group, parts: list[EncodedVideo], where: Path) -> None:
    """The take-view's RGB: its windows' streams joined (each starts on a keyframe)."""
    try:
        coded = concat_videos(parts)
    except ValueError as exc:
        raise MergeError(f"{where}: {exc}; delete that folder and rerun the render step") from exc
    write_video(group.create_group("rgb"), coded)


def _write_take_window(take: _Streams, window: dict[str, np.ndarray], start: int) -> None:
    take.write("source_frames", window["source_frames"], start, gzip=None)
    take.write("joints_world", window["joints_world"], start)
    take.write("ntu25/joints_world", _ntu25(window["joints_world"]), start)
    take.write("smplh/poses", window["poses"], start)
    take.write("smplh/trans", window["trans"], start)


def _view_attrs(group: h5py.Group, take: TakePlan, view: str, first: dict[str, np.ndarray],
                storage: dict[str, Any]) -> None:  # fmt: skip
    plan = take.view(view)
    group.attrs.update({k: getattr(plan, k) for k in VIEW_SCALARS})
    group.attrs["distance_m"] = float(first["distance_m"])
    group.attrs["placement"] = json.dumps(plan.placement, sort_keys=True)
    height, width = storage["images"]["depth"]["shape"]
    group.attrs["image_size"] = (width, height)


TAKE_SCALARS = ("sequence_key", "source", "sequence_id", "split", "repetition", "fps", "source_fps",
                "num_sequence_frames", "duration_s", "gender", "path_radius", "heading_deg")  # fmt: skip


def _take_attrs(group: h5py.Group, take: TakePlan, first: dict[str, np.ndarray]) -> None:
    record = take.take
    group.attrs.update({k: getattr(record, k) for k in TAKE_SCALARS})
    group.attrs["num_frames"] = record.num_frames
    group.attrs["spans"] = json.dumps([list(s) for s in record.spans])
    group.attrs["segments"] = json.dumps([asdict(label) for label in record.labels], sort_keys=True)
    group.attrs["appearance_seed"] = take.appearance_seed
    group.attrs["appearance"] = str(first["appearance"])
    group.attrs["path_center"] = np.asarray(record.path_center, dtype=np.float64)
    # Draws shared by every view of the take (NTU setup, facing, ...): each view's
    # placement repeats them; the first view's are stored here.
    group.attrs["rig"] = json.dumps(take.views[0].placement.get("take", {}), sort_keys=True)
    group.attrs["camera_motion"] = take.views[0].camera_motion
    group.create_dataset("frames", data=record.frames(), track_times=False)
    for key in ("betas", "betas_used", "shape_noise"):
        group.create_dataset(f"smplh/{key}", data=first[key], track_times=False)
    group["smplh"].attrs["ground_offset_m"] = float(first["ground_offset_m"])


def _write_take(takes_group: h5py.Group, take: TakePlan, views: list[str], cache: RenderCache, window: int) -> None:
    record = take.take
    group = takes_group.create_group(record.take_id)
    take_streams = _Streams(group, record.num_frames)
    for v, view in enumerate(views):
        view_group = group.create_group(f"views/{view}")
        view_streams = _Streams(view_group, record.num_frames)
        start, videos, storage = 0, [], {}
        for path in cache.take_windows(view, record.take_id, record.num_frames, window):
            arrays = _load_window(path)
            storage = _storage(arrays, path)
            if start == 0:
                _view_attrs(view_group, take, view, arrays, storage)
                if v == 0:
                    _take_attrs(group, take, arrays)
            if v == 0:
                _write_take_window(take_streams, arrays, start)
            elif not np.array_equal(group["joints_world"][start : start + len(arrays["joints_world"])],
                                    arrays["joints_world"]):  # fmt: skip
                raise MergeError(f"{path}: view {view!r} saw a different body than {views[0]!r}; rerun its render step")
            _write_view_window(view_streams, arrays, storage, start)
            if "rgb_data" in arrays:  # render.engine GEOMETRY draws no colour
                videos.append(_video(arrays, storage))
            start += len(arrays["source_frames"])
        if start != record.num_frames:
            raise MergeError(f"{cache.root / view / record.take_id}: {start} frames rendered, the take has "
                             f"{record.num_frames}; delete that folder and rerun the render step")  # fmt: skip
        if videos:
            _write_video(view_group, videos, cache.root / view / record.take_id)
        _image_attrs(view_group, storage)


def write_shard(plan: ShardPlan, cache: RenderCache, out_path: Path, extra_attrs: dict[str, Any]) -> tuple[int, int]:
    """Write the shard for ``plan``; returns (number of takes, bytes)."""
    take_ids = [t.take.take_id for t in plan.takes]
    with atomic.atomic_path(out_path) as tmp, h5py.File(tmp, "w", track_order=False) as f:
        f.attrs.update({
            "format": FORMAT_NAME, "format_version": FORMAT_VERSION, "generator_version": __version__,
            "shard": plan.name, "split": plan.split, "num_takes": len(take_ids), "num_frames": plan.num_frames,
            "views": json.dumps(list(plan.views)), "joint_names": json.dumps(OUTPUT_JOINT_NAMES),
            "part_names": json.dumps(PART_NAMES), "software": json.dumps(software_versions(), sort_keys=True),
            **extra_attrs,
        })  # fmt: skip
        f.create_dataset("index/take_ids", data=np.array(take_ids, dtype=h5py.string_dtype()), track_times=False)
        takes_group = f.create_group("takes")
        for take in plan.takes:
            _write_take(takes_group, take, list(plan.views), cache, plan.window_frames)
    return len(take_ids), out_path.stat().st_size
