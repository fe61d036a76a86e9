"""A PyTorch dataset of clip windows over shards and a clip table.

Items are a dict: one tensor per asked modality, ``label`` (the protocol's
integer class index), and metadata (clip_id, take_id, view, frames). What it
reads is exactly the window's frames of the asked modalities of the chosen
view(s), through ``ShardReader.read(take_id, view, modalities=..., frames=...)``;
the clips come from ``ClipTable.load(output_dir, protocol)``.

Workers: HDF5 handles must not cross a fork, so readers are opened lazily, in
the process that uses them, and dropped when the dataset is pickled into a
worker; each DataLoader worker opens its own files.

Time: ``num_frames`` frames ``stride`` apart, counted in stored frames, or with
``fps`` in frames at that rate whatever the take's own (PySlowFast's
TARGET_FPS), so one setting means the same seconds on a 10 fps demo and a 30 fps
run. Windows that would show a stored frame twice (a clip shorter than the
window, or picks finer than the stored rate) are counted when the dataset is
built, and one warning says how many and what to change.

Reproducibility: an item's window and view depend only on (seed, epoch,
index) (``sampling.sample_rng``); call ``set_epoch`` at each epoch, as with
DistributedSampler.

Layouts: images come as (T, C, H, W) (``layout="TCHW"``, per-frame 2D models)
or (C, T, H, W) (``"CTHW"``, 3D CNNs / PySlowFast / MViT); RGB stays uint8 so
that the ``transform`` hook (applied last, to the whole item) chooses
normalisation. Single-channel maps (depth, mask, parts, instances) get C = 1.

Persons: keypoints keep the shard's person axis P (body order), after time:
``keypoints_2d`` (T, P, 73, 2) with ``keypoints_visible`` (T, P, 73),
``keypoints_3d`` gives ``joints_cam`` (T, P, 73, 3), ``ntu25`` gives
``ntu25_joints_cam`` (T, P, 25, 3), ``ntu25_keypoints_2d`` (T, P, 25, 2) and
``ntu25_keypoints_visible`` (T, P, 25); each of them comes with ``present``
(T, P) bool, False where a person is absent (its keypoints are NaN there). A
one-person take has P = 1. Takes with different P do not stack into a batch:
``num_persons=M`` gives every item M persons, the first M in body order, the
missing ones absent (NaN, not visible, not present), as pyskl's
``FormatGCNInput(num_person=2)`` pads with zeros. ``instances`` (C = 1) is 0
off every person and k + 1 on person k.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from synthact.consume.reader import ClipTable, ShardReader
from synthact.consume.sampling import (
    choose_views,
    repeats_frames,
    sample_rng,
    time_step,
    window_indices,
    window_span,
)
from synthact.labels.tables import ClipRow, rows_of_split
from synthact.shard_format import (
    JOINTS_CAM,
    KEYPOINTS_2D,
    KEYPOINTS_VISIBLE,
    NTU25_JOINTS_CAM,
    NTU25_KEYPOINTS_2D,
    NTU25_KEYPOINTS_VISIBLE,
    PRESENT,
    RGB,
    TAKE_DATASETS,
    VIEW_DATASETS,
    per_person_keys,
)

# Channels of every image the reader decodes (rgb, depth, mask, parts, normals), by its name.
_IMAGES = {spec.key: spec.channels for spec in VIEW_DATASETS if spec.channels}
# modality -> the reader's arrays that it reads (ShardReader.read's names): each image alone,
# and the joints grouped as models take them, with who is present in each frame.
MODALITIES: dict[str, tuple[str, ...]] = {
    **{name: (name,) for name in _IMAGES},
    KEYPOINTS_2D.key: (KEYPOINTS_2D.key, KEYPOINTS_VISIBLE.key, PRESENT.key),
    "keypoints_3d": (JOINTS_CAM.key, PRESENT.key),
    "ntu25": (NTU25_JOINTS_CAM.key, NTU25_KEYPOINTS_2D.key, NTU25_KEYPOINTS_VISIBLE.key, PRESENT.key),
}
# The arrays with a person axis after time (T, P, ...): what num_persons pads or cuts.
PER_PERSON = frozenset((*per_person_keys(VIEW_DATASETS + TAKE_DATASETS), PRESENT.key))


@dataclass(frozen=True)
class Item:
    row: int  # index into the clip table rows
    views: tuple[str, ...] | None  # None: drawn per epoch ("random")
    clip_index: int = 0  # which of num_clips windows ("uniform" offsets)


def shard_path(output_dir: Path, shard: str) -> Path:
    """A clip row's ``shard`` (its name, docs/FORMAT.md) -> the file."""
    return output_dir / "shards" / f"{shard}.h5"


def to_layout(name: str, array: np.ndarray, layout: str) -> np.ndarray:
    """(T, H, W[, C]) -> (T, C, H, W) or (C, T, H, W); other arrays unchanged."""
    if name not in _IMAGES:
        return array
    if array.ndim == 3:
        array = array[..., None]
    array = np.moveaxis(array, -1, 1)  # T, C, H, W
    # A strided view, not a copy: torch.from_numpy keeps the strides and the
    # batch's torch.stack makes the one contiguous copy.
    return array.swapaxes(0, 1) if layout == "CTHW" else array


class SynthActVideoDataset(Dataset):
    """Clip windows of one protocol and split; see the module docstring.

    ``protocol`` None: the run's first (``ClipTable.load``). ``table``: a
    ``ClipTable`` to use instead of loading one (e.g. rows filtered or widened).
    ``reader_factory``: what opens a shard, ``ShardReader`` by default (a
    subclass can add caching or logging). ``num_persons``: every item gets that
    many persons (None: each take's own; see the module docstring).
    """

    def __init__(
        self,
        output_dir: str | Path,
        protocol: str | None = None,
        split: str | None = "train",
        modalities: Sequence[str] = (RGB.key,),
        num_frames: int = 16,
        stride: int = 4,
        fps: float | None = None,
        offset: str = "random",
        short_policy: str = "clamp",
        views: str | Sequence[str] = "random",
        stack_views: bool = False,
        num_clips: int = 1,
        layout: str = "CTHW",
        seed: int = 0,
        transform: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        reader_factory: Callable[[Path], ShardReader] | None = None,
        table: ClipTable | None = None,
        num_persons: int | None = None,
    ):
        unknown = [m for m in modalities if m not in MODALITIES]
        if unknown or layout not in ("CTHW", "TCHW"):
            raise ValueError(
                f"modalities {unknown} unknown (known: {list(MODALITIES)}) or layout {layout!r} not CTHW/TCHW"
            )
        self.output_dir = Path(output_dir)
        self.table = table if table is not None else ClipTable.load(self.output_dir, protocol)
        where = f"{self.output_dir}, protocol {self.table.protocol!r}"
        self.rows: list[ClipRow] = (
            list(self.table.rows) if split is None else rows_of_split(self.table.rows, split, where)
        )
        self.modalities, self.layout, self.transform = tuple(modalities), layout, transform
        self.num_frames, self.stride, self.offset, self.short_policy = num_frames, stride, offset, short_policy
        self.fps = fps
        self.num_persons = num_persons
        self.views, self.stack_views, self.num_clips, self.seed = views, stack_views, num_clips, seed
        self.epoch = 0
        self._factory = reader_factory
        self._readers: dict[Path, ShardReader] = {}
        self._pid = os.getpid()
        self.take_fps = self._read_take_fps() if fps is not None else {}
        self.items = self._items()
        warn_if_frames_repeat(self.rows, self.take_fps, num_frames, stride, fps, short_policy)

    # -- items ------------------------------------------------------------------
    def _all_views(self) -> list[str]:
        # Opened and closed here, so that no handle is open when DataLoader forks.
        reader = (self._factory or ShardReader)(shard_path(self.output_dir, self.rows[0].shard))
        try:
            return list(reader.views)
        finally:
            reader.close()

    def _read_take_fps(self) -> dict[str, float]:
        """Each take's stored frame rate, which a window in time (``fps``) needs."""
        out: dict[str, float] = {}
        for shard in dict.fromkeys(r.shard for r in self.rows):
            reader = (self._factory or ShardReader)(shard_path(self.output_dir, shard))
            try:
                takes = {r.take_id for r in self.rows if r.shard == shard}
                out.update({t: float(reader.take_attrs(t)["fps"]) for t in takes})
            finally:
                reader.close()
        return out

    def _items(self) -> list[Item]:
        if isinstance(self.views, str) and self.views == "random":
            chosen = None
        else:
            chosen = tuple(choose_views(self._all_views(), self.views))
        out = []
        for i in range(len(self.rows)):
            for k in range(self.num_clips):
                if chosen is None or self.stack_views:
                    out.append(Item(i, chosen, k))
                else:
                    out.extend(Item(i, (v,), k) for v in chosen)
        return out

    def __len__(self) -> int:
        return len(self.items)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    @property
    def classes(self) -> list[str]:
        """Class names in index order (the protocol's ``classes.json``)."""
        return list(self.table.classes.classes)

    # -- readers ----------------------------------------------------------------
    def _reader(self, path: Path) -> ShardReader:
        if self._pid != os.getpid():  # forked after opening: never reuse the parent's handles
            self._readers, self._pid = {}, os.getpid()
        if path not in self._readers:
            self._readers[path] = (self._factory or ShardReader)(path)
        return self._readers[path]

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_readers": {}}

    # -- one item -----------------------------------------------------------------
    def __getitem__(self, index: int) -> dict[str, Any]:
        item = self.items[index]
        row = self.rows[item.row]
        rng = sample_rng(self.seed, self.epoch, index)
        reader = self._reader(shard_path(self.output_dir, row.shard))
        views = list(item.views) if item.views is not None else choose_views(reader.views, "random", rng)
        start, stop = row.take_frame_start, row.take_frame_stop
        offset = self.offset if self.offset != "uniform" or self.num_clips > 1 else "centre"
        step = time_step(self.stride, self.take_fps.get(row.take_id, 0.0), self.fps)
        local = window_indices(
            stop - start,
            self.num_frames,
            self.stride,
            offset,
            rng,
            item.clip_index,
            self.num_clips,
            self.short_policy,
            step,
        )
        frames = start + local
        names = tuple(dict.fromkeys(d for m in self.modalities for d in MODALITIES[m]))
        per_view = [self._read(reader, row.take_id, v, names, frames) for v in views]
        stacked = self.stack_views
        sample: dict[str, Any] = {
            k: torch.from_numpy(np.stack([p[k] for p in per_view]) if stacked else per_view[0][k]) for k in per_view[0]
        }
        sample.update(
            label=int(row.label_index),
            clip_id=row.clip_id,
            take_id=row.take_id,
            view=views if self.stack_views else views[0],
            frames=torch.from_numpy(local),
        )
        return self.transform(sample) if self.transform else sample

    def _read(
        self, reader: ShardReader, take_id: str, view: str, names: tuple[str, ...], frames: np.ndarray
    ) -> dict[str, np.ndarray]:
        # A window with evenly spaced, increasing frames reads as a slice (h5py's
        # fastest selection); a clamped or looped one (repeated frames) as an
        # index array, which the reader reads once per distinct frame.
        arrays = reader.read(take_id, view, modalities=names, frames=_as_slice(frames))
        if self.num_persons is not None:
            arrays = {n: with_persons(a, self.num_persons) if n in PER_PERSON else a for n, a in arrays.items()}
        return {name: to_layout(name, np.asarray(arrays[name]), self.layout) for name in names}


def warn_if_frames_repeat(
    rows: Sequence[ClipRow],
    take_fps: Mapping[str, float],
    num_frames: int,
    stride: int,
    fps: float | None,
    short_policy: str,
) -> None:
    """One warning when windows would show a stored frame twice: near-frozen clips teach a model little.

    ``take_fps``: each take's stored rate, needed when ``fps`` is set.
    """
    repeating = []
    for row in rows:
        step = time_step(stride, take_fps.get(row.take_id, 0.0), fps)
        picks = window_indices(row.num_frames, num_frames, stride, "centre", short_policy=short_policy, step=step)
        if repeats_frames(picks):
            repeating.append(row)
    if not repeating:
        return
    lengths = sorted({r.num_frames for r in repeating})
    sizes = f"{lengths[0]}" if len(lengths) == 1 else f"{lengths[0]}-{lengths[-1]}"
    if fps is None:
        window = f"{num_frames} frames {stride} apart ({window_span(num_frames, stride)} stored frames)"
        change = "fewer frames or a smaller stride, or fps= to choose the window in time"
    else:
        rates = ", ".join(sorted({f"{take_fps[r.take_id]:g}" for r in repeating}))
        window = f"{num_frames} frames {stride} apart at {fps:g} fps ({(num_frames - 1) * stride / fps:.1f} s)"
        change = f"fewer frames, a smaller stride, or fps at most the takes' rate ({rates} fps)"
    warnings.warn(
        f"{len(repeating)} of {len(rows)} clips would repeat frames: they hold {sizes} stored frames, too few for "
        f"distinct frames in a window of {window}; use {change}",
        UserWarning,
        stacklevel=3,
    )


def with_persons(per_person: np.ndarray, count: int) -> np.ndarray:
    """(T, P, ...) -> (T, count, ...): the first ``count`` persons, then absent ones (NaN, or False)."""
    have = per_person.shape[1]
    if have >= count:
        return per_person[:, :count]
    fill = False if per_person.dtype == np.bool_ else np.nan
    missing = np.full((per_person.shape[0], count - have, *per_person.shape[2:]), fill, dtype=per_person.dtype)
    return np.concatenate([per_person, missing], axis=1)


def _as_slice(frames: np.ndarray) -> slice | np.ndarray:
    steps = np.diff(frames)
    if len(frames) > 1 and steps[0] > 0 and (steps == steps[0]).all():
        return slice(int(frames[0]), int(frames[-1]) + 1, int(steps[0]))
    return frames


def collate(items: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Stack tensors; keep strings and lists as lists (clip ids, views)."""
    out: dict[str, Any] = {}
    for key in items[0]:
        values = [it[key] for it in items]
        if isinstance(values[0], torch.Tensor):
            _check_same_persons(key, values)
            out[key] = torch.stack(values)
        elif isinstance(values[0], int):
            out[key] = torch.tensor(values)
        else:
            out[key] = values
    return out


def _check_same_persons(key: str, values: Sequence[torch.Tensor]) -> None:
    """Refuse, in words, a batch of takes with different person counts (torch.stack's error names no cause)."""
    shapes = {tuple(v.shape) for v in values}
    if key not in PER_PERSON or len(shapes) == 1 or len({len(s) for s in shapes}) > 1:
        return
    axis = next(i for i in range(len(values[0].shape)) if len({s[i] for s in shapes}) > 1)  # windows share T
    counts = sorted({s[axis] for s in shapes})
    raise ValueError(
        f"{key}: the batch mixes takes of {' and '.join(map(str, counts))} persons; pass "
        f"num_persons={counts[-1]} to SynthActVideoDataset to give every item the same person count"
    )
