"""Merge a shard's per-window, per-view render results into one HDF5 file.

Layout (declared in ``synthact/shard_format.py``, described in docs/FORMAT.md): one group per take, one subgroup per
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
  rendered joints of every person, so every preset carries it without a
  second render output.
- Every per-person dataset carries the person axis (format 4), a one-person
  take too (P = 1); ``present`` says which bodies each frame shows.
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
from synthact.render.window_record import CodedImage, CodedWindow, WindowRecord, WindowRecordError
from synthact.shard_format import (
    ENCODING_ATTRIBUTE,
    ENCODINGS,
    FORMAT_NAME,
    FORMAT_VERSION,
    GROUND_OFFSET,
    IMAGE_DATASETS,
    JOINTS_WORLD,
    RGB,
    SMPLH_GROUP,
    TAKE_DATASETS,
    TAKE_IDS,
    TAKE_RECORD_ATTRIBUTES,
    TAKES_GROUP,
    VIEW_DATASETS,
    VIEW_PLAN_ATTRIBUTES,
    VIEWS_GROUP,
    Codec,
    DatasetSpec,
    Derive,
)
from synthact.sources.ntu import SMPLH_TO_NTU25
from synthact.takes.plan import ShardPlan, TakePlan

SOFTWARE = ("synthact", "bpy", "smplx", "torch", "numpy", "h5py", "submitit", "snakemake")
GZIP_LEVEL = 4  # keypoints, cameras: small, so the level barely matters


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


def _load_window(path: Path) -> WindowRecord:
    try:
        return WindowRecord.read(path)
    except WindowRecordError as exc:
        raise MergeError(str(exc)) from exc


def ntu25_of_every_person(per_joint: np.ndarray) -> np.ndarray:
    """NTU RGB+D's 25 joints, in NTU order, of every person, from a (T, P, 73, ...) per-joint array."""
    return np.take(per_joint, SMPLH_TO_NTU25, axis=2)


def _per_frame(spec: DatasetSpec, window: WindowRecord) -> np.ndarray:
    """A per-frame dataset's rows for one window, from the record's field."""
    value = window.field(spec.field)
    if spec.derive is Derive.NTU25:
        return ntu25_of_every_person(value)
    if spec.derive is Derive.PER_FRAME:
        return np.repeat(np.asarray(value)[None], window.num_frames, axis=0)
    return value


class _Streams:
    """Datasets of a group filled window by window, so a take of any length merges
    with one window in memory. Each is created at the first window, over the whole take."""

    def __init__(self, group: h5py.Group, num_frames: int):
        self.group, self.num_frames = group, num_frames

    def write(self, spec: DatasetSpec, data: np.ndarray, start: int) -> None:
        name = spec.name
        if name not in self.group:
            options: dict[str, Any] = {"track_times": False}
            if spec.codec is Codec.GZIP:
                options.update(
                    compression="gzip", compression_opts=GZIP_LEVEL, shuffle=True, chunks=(1, *data.shape[1:])
                )
            self.group.create_dataset(name, shape=(self.num_frames, *data.shape[1:]), dtype=data.dtype, **options)
        self.group[name][start : start + len(data)] = data

    def write_chunks(self, name: str, image: CodedImage, compressor: str, start: int) -> None:
        """Copy a window's compressed one-frame chunks into the take's image dataset."""
        shape, dtype = image.shape, np.dtype(image.dtype)
        if name not in self.group:
            full = (self.num_frames, *shape)
            self.group.create_dataset(name, shape=full, dtype=dtype, **image_options(full, dtype, compressor))
        dset = self.group[name]
        zeros = (0,) * len(shape)
        for i in range(image.num_frames):
            dset.id.write_direct_chunk((start + i, *zeros), image.chunk(i))


def _write_view_window(view: _Streams, window: WindowRecord, start: int) -> None:
    """Every per-view dataset but RGB, whose windows are joined once they are all read."""
    coded = window.coded
    for spec in VIEW_DATASETS:
        if spec.chunked_image:
            view.write_chunks(spec.name, coded.images[spec.field], coded.compressor, start)
        elif spec.codec is not Codec.VIDEO:
            view.write(spec, _per_frame(spec, window), start)


def _decoding_attrs(codec: Codec, coded: CodedWindow) -> dict[str, object]:
    """The constants an image dataset carries so that any reader can decode it (docs/FORMAT.md)."""
    if codec is Codec.DEPTH:  # as the cached chunks were coded; windows cached before v2 recorded none
        return depth_codec.depth_attrs(coded.settings.get("depth_encoding", depth_codec.ENCODING_V1))
    if codec is Codec.NORMALS:
        encoding = coded.settings.get("normals_encoding", normals_codec.ENCODING_V1)
        return normals_codec.normals_attrs(coded.normal_bits, encoding=encoding)
    return {ENCODING_ATTRIBUTE: ENCODINGS[codec]}


def _image_attrs(group: h5py.Group, window: WindowRecord) -> None:
    for spec in IMAGE_DATASETS:
        group[spec.name].attrs.update(_decoding_attrs(spec.codec, window.coded))


def _write_video(group: h5py.Group, parts: list[EncodedVideo], where: Path) -> None:
    """The take-view's RGB: its windows' streams joined (each starts on a keyframe)."""
    try:
        coded = concat_videos(parts)
    except ValueError as exc:
        raise MergeError(f"{where}: {exc}; delete that folder and rerun the render step") from exc
    write_video(group.create_group(RGB.name), coded)


def _write_take_window(take: _Streams, window: WindowRecord, start: int) -> None:
    for spec in TAKE_DATASETS:
        if spec.per_frame and spec.derive is not Derive.PLAN:
            take.write(spec, _per_frame(spec, window), start)


def _view_attrs(group: h5py.Group, take: TakePlan, view: str, first: WindowRecord) -> None:
    plan = take.view(view)
    group.attrs.update({a.name: getattr(plan, a.name) for a in VIEW_PLAN_ATTRIBUTES})
    group.attrs["distance_m"] = first.scene.distance_m
    group.attrs["placement"] = json.dumps(plan.placement, sort_keys=True)
    height, width = first.coded.images[IMAGE_DATASETS[0].field].shape
    group.attrs["image_size"] = (width, height)


def _take_attrs(group: h5py.Group, take: TakePlan, first: WindowRecord) -> None:
    record = take.take
    group.attrs.update({a.name: getattr(record, a.name) for a in TAKE_RECORD_ATTRIBUTES})
    group.attrs["spans"] = json.dumps([list(s) for s in record.spans])
    group.attrs["segments"] = json.dumps([asdict(label) for label in record.labels], sort_keys=True)
    group.attrs["appearance_seed"] = take.appearance_seed
    group.attrs["appearance"] = first.scene.appearance
    group.attrs["path_center"] = np.asarray(record.path_center, dtype=np.float64)
    # Draws shared by every view of the take (NTU setup, facing, ...): each view's
    # placement repeats them; the first view's are stored here.
    group.attrs["rig"] = json.dumps(take.views[0].placement.get("take", {}), sort_keys=True)
    group.attrs["camera_motion"] = take.views[0].camera_motion
    group.attrs["num_persons"] = first.scene.num_persons
    group.attrs["persons"] = first.scene.persons
    for spec in TAKE_DATASETS:
        if spec.derive is Derive.PLAN:
            group.create_dataset(spec.name, data=record.frames(), track_times=False)
        elif spec.derive is Derive.ONCE:
            group.create_dataset(spec.name, data=first.field(spec.field), track_times=False)
    group[SMPLH_GROUP].attrs[GROUND_OFFSET.name] = first.scene.ground_offset_m


def _write_take(takes_group: h5py.Group, take: TakePlan, views: list[str], cache: RenderCache, window: int) -> None:
    record = take.take
    group = takes_group.create_group(record.take_id)
    take_streams = _Streams(group, record.num_frames)
    for v, view in enumerate(views):
        view_group = group.create_group(f"{VIEWS_GROUP}/{view}")
        view_streams = _Streams(view_group, record.num_frames)
        start, videos = 0, []
        last: WindowRecord | None = None
        for path in cache.take_windows(view, record.take_id, record.num_frames, window):
            last = _load_window(path)
            if start == 0:
                _view_attrs(view_group, take, view, last)
                if v == 0:
                    _take_attrs(group, take, last)
            if v == 0:
                _write_take_window(take_streams, last, start)
            elif not np.array_equal(
                group[JOINTS_WORLD.name][start : start + last.num_frames], last.scene.joints_world, equal_nan=True
            ):
                raise MergeError(f"{path}: view {view!r} saw a different body than {views[0]!r}; rerun its render step")
            _write_view_window(view_streams, last, start)
            if last.coded.video is not None:  # render.engine GEOMETRY draws no colour
                videos.append(last.coded.video)
            start += last.num_frames
        if start != record.num_frames or last is None:
            raise MergeError(
                f"{cache.root / view / record.take_id}: {start} frames rendered, the take has "
                f"{record.num_frames}; delete that folder and rerun the render step"
            )
        if videos:
            _write_video(view_group, videos, cache.root / view / record.take_id)
        _image_attrs(view_group, last)


def write_shard(plan: ShardPlan, cache: RenderCache, out_path: Path, extra_attrs: dict[str, Any]) -> tuple[int, int]:
    """Write the shard for ``plan``; returns (number of takes, bytes)."""
    take_ids = [t.take.take_id for t in plan.takes]
    with atomic.atomic_path(out_path) as tmp, h5py.File(tmp, "w", track_order=False) as f:
        f.attrs.update(
            {
                "format": FORMAT_NAME,
                "format_version": FORMAT_VERSION,
                "generator_version": __version__,
                "shard": plan.name,
                "split": plan.split,
                "num_takes": len(take_ids),
                "num_frames": plan.num_frames,
                "views": json.dumps(list(plan.views)),
                "joint_names": json.dumps(OUTPUT_JOINT_NAMES),
                "part_names": json.dumps(PART_NAMES),
                "software": json.dumps(software_versions(), sort_keys=True),
                **extra_attrs,
            }
        )
        f.create_dataset(TAKE_IDS, data=np.array(take_ids, dtype=h5py.string_dtype()), track_times=False)
        takes_group = f.create_group(TAKES_GROUP)
        for take in plan.takes:
            _write_take(takes_group, take, list(plan.views), cache, plan.window_frames)
    return len(take_ids), out_path.stat().st_size
