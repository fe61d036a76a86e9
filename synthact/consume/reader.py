"""Read SynthAct shards (takes x views) and clip tables (one per label protocol).

File handles open lazily, once per process, so a DataLoader's workers each
get their own handle after the fork (HDF5 handles must not cross a fork).
Reads touch only the frames and modalities asked for: a 16-frame window of RGB
reads the byte range from the keyframe before it to its last frame, depth and
normals only their frames' chunks. Stored encodings (docs/FORMAT.md) are
decoded here: RGB video to uint8 frames, depth codes to float32 metres,
octahedral normal codes to float32 unit vectors. The names come from
``synthact/shard_format.py``; a shard of a ``format_version`` this reader does
not know is refused when it is opened (``ShardVersionError``), never misread.

RGB with stride or index picks converts only the frames it returns, and
decodes no run of frames that no returned frame needs (a new run starts at
the keyframe before a pick when that is cheaper than decoding on). Every RGB
packet read is checked against its stored CRC-32 (format_version 3), so a
damaged bitstream is an error, never wrong pixels.

Errors name the file, the take and the view, and say what to do
(``ShardReadError`` and its subclasses): a missing or truncated file, an
unknown take or view, a damaged chunk or packet. They pickle with their
message, so a DataLoader worker's error reaches the training loop whole.

When RGB is read with other images, it decodes on a second thread while
HDF5 inflates the depth (or mask, parts, normals) chunks in the caller's:
PyAV releases the GIL, so a 16-frame RGB + depth window costs about the
longer of the two, not their sum (benchmarks/window_read.py).

Persons: every per-person array (``shard_format.per_person_keys``) comes back
with its person axis P, in the source's body order, whatever the shard's
``format_version``: (T, P, ...) per frame, (P, ...) once per take. A shard
older than ``PERSON_AXIS_VERSION`` holds one body, so its arrays get P = 1 at
``spec.person_axis``; ``instances`` is then its ``mask`` (0/1: person 0) and
``present`` is all True, so a consumer reads one layout from every shard.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from synthact.codecs import depth as depth_codec
from synthact.codecs import normals as normals_codec
from synthact.codecs import storage
from synthact.errors import SynthActError
from synthact.labels.tables import ClassTable, ClipRow, read_class_table, read_clip_rows, rows_of_split
from synthact.shard_format import (
    CHECKSUM_VERSION,
    ENCODING_ATTRIBUTE,
    FORMAT_VERSION,
    FORMAT_VERSION_ATTRIBUTE,
    FRAMES,
    INSTANCES,
    MASK,
    PERSON_AXIS_VERSION,
    PRESENT,
    READABLE_VERSIONS,
    RGB,
    TAKE_ATTRIBUTES,
    TAKE_DATASETS,
    TAKE_IDS,
    VIEW_ATTRIBUTES,
    VIEW_DATASETS,
    VIEWS_ATTRIBUTE,
    VIEWS_GROUP,
    Codec,
    DatasetSpec,
    json_attributes,
    take_path,
    view_path,
)

_TAKE_JSON = json_attributes(TAKE_ATTRIBUTES)

# The reader's names: a subgroup's arrays joined with an underscore ("ntu25/joints_cam" -> "ntu25_joints_cam").
VIEW_MODALITIES = tuple(spec.key for spec in VIEW_DATASETS)
TAKE_MODALITIES = tuple(spec.key for spec in TAKE_DATASETS if spec.per_frame)  # per take frame, like a view's
TAKE_ARRAYS = tuple(spec.key for spec in TAKE_DATASETS if not spec.per_frame)  # once per take: betas, ...
_SPECS: dict[str, DatasetSpec] = {spec.key: spec for spec in VIEW_DATASETS + TAKE_DATASETS}
IMAGE_MODALITIES = tuple(spec.key for spec in VIEW_DATASETS if spec.chunked_image)  # one chunk per frame
# Made from another dataset in a shard older than PERSON_AXIS_VERSION: modality -> the one it is made from.
SYNTHESISED_FROM = {INSTANCES.key: MASK.key, PRESENT.key: FRAMES.key}

Frames = slice | np.ndarray | list[int] | None


class ShardVersionError(SynthActError, ValueError):
    """A shard of a layout this reader does not know; the message names the file and the versions."""


class ShardReadError(SynthActError, ValueError):
    """A shard that cannot be read as asked; the message names the file, the take and the view, and the fix."""


class ShardMissingError(ShardReadError, FileNotFoundError):
    """The shard file does not exist."""


class ShardKeyError(ShardReadError, KeyError):
    """A take, view or modality the shard does not hold."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class FrameRangeError(ShardReadError, IndexError):
    """Frames outside the take."""


DAMAGED_FIX = "the shard is damaged: `synthact status --verify` names it and prints the rerun that rebuilds it"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def decode_jpeg(blob: np.ndarray) -> np.ndarray:
    import simplejpeg

    return simplejpeg.decode_jpeg(np.asarray(blob).tobytes(), colorspace="RGB")


def _frame_range(frames: Frames, total: int) -> tuple[int, int, np.ndarray | None]:
    """The contiguous [start, stop) holding ``frames``, and the picks inside it (None: all, in order)."""
    if frames is None:
        return 0, total, None
    if isinstance(frames, slice):
        start, stop, step = frames.indices(total)
        if step == 1:
            return start, max(start, stop), None
        index = np.arange(start, stop, step)
    else:
        index = np.asarray(frames, dtype=np.int64)
    index = np.where(index < 0, index + total, index)
    if index.size == 0:
        return 0, 0, index
    if index.min() < 0 or index.max() >= total:
        raise IndexError(f"frames {frames!r} out of range for a take of {total} frames")
    start = int(index.min())
    return start, int(index.max()) + 1, index - start


def _attr(node: h5py.HLObject, key: str) -> str:
    value = node.attrs.get(key, "")
    return value.decode() if isinstance(value, bytes) else str(value)


def check_format_version(path: Path, attrs: h5py.AttributeManager) -> None:
    """Refuse a shard whose layout this reader cannot decode, before any dataset is touched."""
    found = attrs.get(FORMAT_VERSION_ATTRIBUTE.name)
    if found is None or int(found) not in READABLE_VERSIONS:
        what = "no format_version (not a SynthAct shard?)" if found is None else f"format_version {found}"
        raise ShardVersionError(
            f"{path}: {what}; this SynthAct reads format_version {', '.join(map(str, READABLE_VERSIONS))}: read it "
            f"with the SynthAct that wrote it, or rerun the merge to rewrite it (format_version {FORMAT_VERSION})"
        )


def _select(dataset: h5py.Dataset, frames: Frames) -> np.ndarray:
    """Rows ``frames`` of a dataset, reading only those (h5py wants sorted, unique indices)."""
    if frames is None:
        return dataset[()]
    if isinstance(frames, slice) and (frames.step or 1) > 0:
        return dataset[frames]
    start, _, picks = _frame_range(frames, len(dataset))  # negative steps and indices, any order
    assert picks is not None  # None only for frames None or a step-1 slice, both read above
    unique, inverse = np.unique(picks + start, return_inverse=True)
    return dataset[unique][inverse]


class ShardReader:
    """Lazy reader of one shard file."""

    def __init__(self, path: str | Path, parallel_decode: bool = True):
        """``parallel_decode``: decode RGB on a second thread beside the other images (False: all in the caller's)."""
        self.path = Path(path)
        self.parallel_decode = parallel_decode
        self._file: h5py.File | None = None
        self._format_version = 0  # the open file's, read once when it opens
        self._video_index: dict[str, dict[str, np.ndarray]] = {}
        self._pool: ThreadPoolExecutor | None = None
        self._pool_pid = 0

    @property
    def pool(self) -> ThreadPoolExecutor | None:
        """The RGB decode thread of this process (a forked DataLoader worker starts its own)."""
        if not self.parallel_decode:
            return None
        if self._pool is None or self._pool_pid != os.getpid():
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="synthact-rgb")
            self._pool_pid = os.getpid()
        return self._pool

    @property
    def file(self) -> h5py.File:
        if self._file is None:
            # Registers the zstd filter of render.compressor: zstd shards; gzip needs nothing.
            with contextlib.suppress(ImportError):
                import hdf5plugin  # noqa: F401
            handle = self._open()
            try:
                check_format_version(self.path, handle.attrs)
            except ShardVersionError:
                handle.close()
                raise
            self._format_version = int(handle.attrs[FORMAT_VERSION_ATTRIBUTE.name])
            self._file = handle
        return self._file

    def _open(self) -> h5py.File:
        if not self.path.is_file():
            raise ShardMissingError(f"{self.path}: no such shard; is the run finished (`synthact status`)?")
        try:
            return h5py.File(self.path, "r")
        except OSError as exc:  # truncated, overwritten, not HDF5: h5py says which
            raise ShardReadError(f"{self.path}: not a readable HDF5 file ({_first_line(exc)}); {DAMAGED_FIX}") from exc

    def close(self) -> None:
        if self._pool is not None and self._pool_pid == os.getpid():
            self._pool.shutdown(wait=True)
        self._pool = None
        if self._file is not None:
            self._file.close()
            self._file = None
            self._video_index.clear()

    def __enter__(self) -> ShardReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def take_ids(self) -> list[str]:
        return [c.decode() if isinstance(c, bytes) else str(c) for c in self.file[TAKE_IDS][()]]

    @property
    def views(self) -> list[str]:
        return json.loads(self.file.attrs[VIEWS_ATTRIBUTE.name])

    @property
    def format_version(self) -> int:
        if self._file is None:
            _ = self.file  # opening reads the version
        return self._format_version

    @property
    def has_person_axis(self) -> bool:
        """Whether the file stores the person axis; older shards get it from the reader (P = 1)."""
        return self.format_version >= PERSON_AXIS_VERSION

    def take_attrs(self, take_id: str) -> dict[str, Any]:
        """The take's attributes, JSON ones decoded (``segments``: the source labels as given).

        ``num_persons`` is there for every shard: 1 for one written before the person axis.
        """
        take = self._take(take_id)
        attrs = dict(take.attrs)
        for key in _TAKE_JSON:
            if key in attrs:
                attrs[key] = json.loads(attrs[key])
        if "num_persons" not in attrs:
            attrs["num_persons"] = self._persons_present(take, take_id) if self.has_person_axis else 1
        attrs["num_persons"] = int(attrs["num_persons"])
        return attrs

    def _persons_present(self, take: h5py.Group, take_id: str) -> int:
        """P from the take's ``present`` dataset, for a take whose ``num_persons`` attribute is missing."""
        if PRESENT.name not in take:
            raise ShardReadError(
                f"{self.path}: take {take_id} has neither 'num_persons' nor '{PRESENT.name}', which format_version "
                f"{self.format_version} requires: the shard is damaged or was not written by SynthAct; rerun its merge"
            )
        return int(take[PRESENT.name].shape[1])

    def take_arrays(self, take_id: str, keys: Iterable[str] | None = None) -> dict[str, np.ndarray]:
        """The take's once-per-take arrays (``TAKE_ARRAYS``: all when None), each (P, ...): ``betas_used`` (P, 16)."""
        take = self._take(take_id)
        wanted = list(TAKE_ARRAYS if keys is None else keys)
        unknown = [k for k in wanted if k not in TAKE_ARRAYS]
        if unknown:
            raise ShardKeyError(f"{self.path}: take {take_id}: unknown take arrays {unknown}; known: {TAKE_ARRAYS}")
        where = f"{self.path}: take {take_id}"
        return {k: self._guarded(where, k, partial(self._read_take, take, _SPECS[k], None)) for k in wanted}

    def view_attrs(self, take_id: str, view: str) -> dict[str, Any]:
        """One view's attributes, ``placement`` (every drawn camera value) decoded."""
        attrs = dict(self.file[view_path(take_id, view)].attrs)
        for key in json_attributes(VIEW_ATTRIBUTES):
            if key in attrs:
                attrs[key] = json.loads(attrs[key])
        return attrs

    def num_frames(self, take_id: str) -> int:
        return len(self.file[take_path(take_id)][FRAMES.name])

    def read(
        self, take_id: str, view: str, modalities: Iterable[str] | None = None, frames: Frames = None
    ) -> dict[str, np.ndarray]:
        """Arrays of one take-view: the modalities asked for (all when None), at ``frames``.

        ``frames`` is a slice or an index array into the take's frames (None: all).
        Per-view modalities are ``VIEW_MODALITIES``, per-take ones ``TAKE_MODALITIES``;
        Stored encodings come back decoded: ``rgb`` (T, H, W, 3) uint8, ``depth``
        (T, H, W) float32 metres (0: no surface), ``normals`` (T, H, W, 3) float32
        unit vectors (0: no surface). Per-person arrays carry the person axis:
        ``keypoints_2d`` (T, P, 73, 2), ``bbox`` (T, P, 4), ``joints_world``
        (T, P, 73, 3), ``present`` (T, P) bool; ``instances`` (T, H, W) uint8 is
        0 off every person and k + 1 on person k. Errors are ``ShardReadError``s
        naming the file, the take and the view.
        """
        take, group = self._take_view(take_id, view)
        where = f"{self.path}: take {take_id} view {view}"
        if modalities is None:  # everything stored (a GEOMETRY take has no rgb)
            wanted = [m for m in VIEW_MODALITIES if self._holds(group, m)] + list(TAKE_MODALITIES)
        else:
            wanted = list(modalities)
        for modality in wanted:
            if modality not in VIEW_MODALITIES + TAKE_MODALITIES:
                raise ShardKeyError(
                    f"{where}: unknown modality {modality!r}; known: {', '.join(VIEW_MODALITIES + TAKE_MODALITIES)}"
                )
            if modality in VIEW_MODALITIES and not self._holds(group, modality):
                raise ShardKeyError(
                    f"{where}: has no {modality!r} (render.engine GEOMETRY renders no RGB); read another modality"
                )
        try:
            return self._read(take, group, wanted, frames, where)
        except IndexError as exc:
            raise FrameRangeError(f"{where}: {exc}") from exc

    def _holds(self, group: h5py.Group, modality: str) -> bool:
        """Whether the view can give ``modality``: stored, or made from what an older shard stores."""
        if _SPECS[modality].name in group:
            return True
        return not self.has_person_axis and SYNTHESISED_FROM.get(modality, "") in group

    def _take(self, take_id: str) -> h5py.Group:
        """The take's group, or an error that says what the shard holds."""
        path = take_path(take_id)
        if path not in self.file:
            ids = self.take_ids
            shown = ", ".join(ids[:3]) + (", ..." if len(ids) > 3 else "")
            raise ShardKeyError(
                f"{self.path}: no take {take_id} (this shard holds {len(ids)}: {shown}); the clip table "
                "belongs to another run or shard layout: load the clip table of the run these shards are from"
            )
        return self.file[path]

    def _take_view(self, take_id: str, view: str) -> tuple[h5py.Group, h5py.Group]:
        """The take's and the view's groups, or an error that says what the shard holds."""
        take = self._take(take_id)
        if view not in take[VIEWS_GROUP]:
            raise ShardKeyError(
                f"{self.path}: take {take_id} has no view {view!r}; its views: {', '.join(take[VIEWS_GROUP])}"
            )
        return take, take[VIEWS_GROUP][view]

    def _read(
        self, take: h5py.Group, group: h5py.Group, wanted: list[str], frames: Frames, where: str
    ) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        rgb = self._guarded(where, RGB.key, lambda: self._rgb_ahead(group, wanted, frames))
        for modality in wanted:
            spec = _SPECS[modality]
            if modality in TAKE_MODALITIES:
                out[modality] = self._guarded(where, modality, partial(self._read_take, take, spec, frames))
            elif rgb is None or spec.codec is not Codec.VIDEO:
                out[modality] = self._guarded(where, modality, partial(self._read_view, group, spec, frames))
        if rgb is not None:  # collected last, so the other images were read while it decoded
            out[RGB.key] = self._guarded(where, RGB.key, rgb.result)
        return {modality: out[modality] for modality in wanted}

    @staticmethod
    def _guarded(where: str, modality: str, read: Callable[[], Any]) -> Any:
        """``read()``, with a damaged chunk, packet or index reported as one line naming ``where``."""
        try:
            return read()
        except (ShardReadError, IndexError):
            raise
        except (OSError, KeyError, ValueError, RuntimeError) as exc:  # h5py's filter, PyAV's or our stream checks
            raise ShardReadError(f"{where}: {modality} unreadable ({_first_line(exc)}); {DAMAGED_FIX}") from exc

    def _rgb_ahead(self, group: h5py.Group, wanted: list[str], frames: Frames) -> Future[np.ndarray] | None:
        """The RGB window's bytes, read here, decoding on the decode thread while other images are read.

        The bytes are read in the caller's thread, before the other images:
        h5py holds the GIL while it reads, so a decode thread that had to read
        its own bytes would wait for the depth read to end.
        """
        if RGB.key not in wanted or RGB.name not in group or not set(wanted) & set(IMAGE_MODALITIES):
            return None
        pool = self.pool
        return None if pool is None else pool.submit(self._rgb_decoder(group[RGB.name], frames))

    def _with_person_axis(self, spec: DatasetSpec, data: np.ndarray) -> np.ndarray:
        """``data`` with its person axis: as stored, or P = 1 inserted for a shard of one body."""
        if spec.per_person and not self.has_person_axis:
            return np.expand_dims(data, spec.person_axis)
        return data

    def _read_take(self, take: h5py.Group, spec: DatasetSpec, frames: Frames) -> np.ndarray:
        if spec.key == PRESENT.key and not self.has_person_axis:  # one body, there in every frame
            return np.ones((len(_select(take[FRAMES.name], frames)), 1), dtype=bool)
        return self._with_person_axis(spec, _select(take[spec.name], frames))

    def _read_view(self, group: h5py.Group, spec: DatasetSpec, frames: Frames) -> np.ndarray:
        if spec.key == INSTANCES.key and not self.has_person_axis:  # one body: person 0 is the mask
            return np.asarray(self._read_view(group, MASK, frames), dtype=np.uint8)
        node = group[spec.name]
        if spec.codec is Codec.VIDEO:
            return self._rgb_decoder(node, frames)()
        data = _select(node, frames)
        # By the dataset's own encoding attribute, not its spec: files that tools wrote in
        # this layout may hold plain arrays (float metres, unit vectors) where we store codes.
        encoding = _attr(node, ENCODING_ATTRIBUTE)
        if encoding in depth_codec.ENCODINGS:  # the codes themselves (v1) or their row differences (v2)
            return depth_codec.decode_stored(data, encoding)
        if encoding in normals_codec.ENCODINGS:
            return normals_codec.decode_stored(data, encoding)
        return self._with_person_axis(spec, data)

    def _rgb_decoder(self, node: h5py.HLObject, frames: Frames) -> Callable[[], np.ndarray]:
        """Read the RGB frames' bytes now; the returned call decodes them, touching no file."""
        if isinstance(node, h5py.Dataset):
            data = _select(node, frames)
            if h5py.check_vlen_dtype(node.dtype) is None:  # raw (T, H, W, 3) uint8, as tools may write
                return lambda: data
            return lambda: np.stack([decode_jpeg(b) for b in data])  # one JPEG per frame
        index = self._video_index.get(node.name)
        if index is None:
            index = storage.read_video_index(node)
            if self._checksummed and storage.VIDEO_CHECKSUM not in index:
                raise ValueError(f"no {storage.VIDEO_CHECKSUM} beside the RGB stream of a format_version 3 shard")
            self._video_index[node.name] = index
        start, stop, picks = _frame_range(frames, len(index["pts"]))
        if stop <= start:
            empty = np.zeros((0, int(node.attrs["height"]), int(node.attrs["width"]), 3), np.uint8)
            return lambda: empty
        return storage.read_video_packets(node, start, stop, index, picks).decode

    @property
    def _checksummed(self) -> bool:
        """Whether this shard's RGB streams carry packet checksums (docs/FORMAT.md, Versions)."""
        return self.format_version >= CHECKSUM_VERSION


@dataclass(frozen=True)
class ClipTable:
    """One protocol's clips and classes, as the labels stage wrote them."""

    protocol: str
    rows: tuple[ClipRow, ...]
    classes: ClassTable

    @classmethod
    def load(cls, output_dir: str | Path, protocol: str | None = None) -> ClipTable:
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
        """The clips of split ``name``; a name no clip has is refused, listing the splits there are."""
        return rows_of_split(self.rows, name, f"protocol {self.protocol!r}")


def default_protocol(output_dir: Path) -> str:
    manifest = json.loads((Path(output_dir) / "manifest.json").read_text())
    return manifest["labels"][0]["protocol"]


def shard_paths_from_manifest(output_dir: str | Path, split: str | None = None) -> list[Path]:
    output_dir = Path(output_dir)
    manifest = json.loads((output_dir / "manifest.json").read_text())
    return [output_dir / s["path"] for s in manifest["shards"] if split is None or s["split"] == split]
