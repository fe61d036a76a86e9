"""Label protocols: the take's source labels -> clips of one protocol.

- ``segments`` (the AMARV authors' protocol): one clip per labelled segment, over
  the whole segment, with every ``act_cat`` category. Its class table is built
  from the data, most frequent first, unless the source dataset has an official
  class order (NTU RGB+D, Toyota Smarthome), which is then kept.
- ``babel-chunks-N`` (BABEL's action-recognition protocol): every segment cut
  into chunks of at most ``labels.chunk_seconds``; the clip's label is the first
  of its segment's categories that lies in BABEL-N (N = 60, 120, 150, or ``all``).
  Classes are BABEL's, in BABEL's order.

Overlaps and timelines are measured within one annotation, as BABEL does.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from synthact.labels.cutting import ChunkLabels, cut_labels
from synthact.labels.tables import ClassTable, ClipRow, make_clip_id
from synthact.sources.babel_categories import category_subset
from synthact.takes.records import SourceLabel, Take
from synthact.takes.timeline import segment_frames

PROTOCOLS = ("segments", "babel-chunks-60", "babel-chunks-120", "babel-chunks-150", "babel-chunks-all")
BABEL150 = category_subset("babel150")


@dataclass
class ProtocolReport:
    """What one protocol made of the takes, and what it had to leave out."""

    protocol: str
    num_clips: int = 0
    dropped_outside_classes: dict[str, int] = field(default_factory=dict)  # category -> chunks
    dropped_empty: int = 0  # segments with no frame inside the motion

    def messages(self) -> list[str]:
        out = []
        if self.dropped_outside_classes:
            total = sum(self.dropped_outside_classes.values())
            top = ", ".join(f"{c!r} {n}" for c, n in Counter(self.dropped_outside_classes).most_common(5))
            out.append(f"{self.protocol}: {total} clips dropped: no category in the protocol's classes ({top})")
        if self.dropped_empty:
            out.append(f"{self.protocol}: {self.dropped_empty} segments dropped: no frame of them inside their motion")
        return out


def _allowed(protocol: str) -> frozenset[str] | None:
    subset = protocol.rsplit("-", 1)[1]
    return None if subset == "all" else frozenset(category_subset(f"babel{subset}"))


def _by_annotation(labels: Iterable[SourceLabel]) -> list[list[SourceLabel]]:
    groups: dict[tuple[str, str], list[SourceLabel]] = defaultdict(list)
    for label in labels:
        groups[(label.label_file, label.annotation_id)].append(label)
    return list(groups.values())


def take_chunks(take: Take, max_frames: int, min_frames: int) -> list[ChunkLabels]:
    """Every chunk of every label of the take, on the sequence timeline."""
    return [
        chunk
        for labels in _by_annotation(take.labels)
        for chunk in cut_labels(labels, take.fps, take.num_sequence_frames, max_frames, min_frames)
    ]


def _take_index(frames: np.ndarray, start: int, stop: int) -> int | None:
    """Index into the take's frames of the contiguous range [start, stop), or None if not rendered."""
    i = int(np.searchsorted(frames, start))
    if i + (stop - start) > len(frames) or frames[i] != start or frames[i + (stop - start) - 1] != stop - 1:
        return None
    return i


@dataclass(frozen=True)
class _Clip:
    """A chunk chosen by a protocol, before its class indices are known."""

    take: Take
    shard: str
    chunk: ChunkLabels
    label: str
    labels: tuple[str, ...]
    take_frame_start: int


def choose_clips(
    protocol: str, takes: list[tuple[Take, str]], settings: dict[str, Any], report: ProtocolReport
) -> list[_Clip]:
    """The protocol's clips of every (take, shard), in take order."""
    segments = protocol == "segments"
    allowed = None if segments else _allowed(protocol)
    max_frames = max(1, round(float(settings["chunk_seconds"]) * takes[0][0].fps)) if takes else 1
    clips = []
    for take, shard in takes:
        frames = take.frames()
        chunks = (
            take_chunks(take, take.num_sequence_frames or 1, 1)
            if segments
            else take_chunks(take, max_frames, int(settings["min_frames"]))
        )
        report.dropped_empty += _empty_segments(take)
        for chunk in chunks:
            start = _take_index(frames, chunk.frame_start, chunk.frame_stop)
            if start is None:
                continue  # not rendered (render.span: labelled cuts it out)
            kept = chunk.categories if allowed is None else tuple(c for c in chunk.categories if c in allowed)
            if not kept:
                report.dropped_outside_classes[chunk.categories[0]] = (
                    report.dropped_outside_classes.get(chunk.categories[0], 0) + 1
                )
                continue
            clips.append(_Clip(take, shard, chunk, kept[0], kept, start))
    return clips


def _empty_segments(take: Take) -> int:
    spans = (segment_frames(label, take.fps, take.num_sequence_frames) for label in take.labels)
    return sum(1 for start, stop in spans if start == stop)


def class_table(protocol: str, clips: list[_Clip], official: tuple[str, ...] | None) -> ClassTable:
    """The protocol's classes: BABEL's order, the dataset's official order, or by frequency."""
    seen = Counter(c for clip in clips for c in clip.labels)
    if protocol.startswith("babel-chunks"):
        allowed = _allowed(protocol)
        names = tuple(c for c in BABEL150 if allowed is None or c in allowed)
        names += tuple(sorted(c for c in seen if c not in names))
        order = "babel"
    elif official is not None and set(seen) <= set(official):
        names, order = official, "dataset"
    else:
        names, order = tuple(sorted(seen, key=lambda c: (-seen[c], c))), "frequency"
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    for clip in clips:
        counts[clip.take.split][clip.label] = counts[clip.take.split].get(clip.label, 0) + 1
    babel = {name: i for i, name in enumerate(BABEL150)}
    return ClassTable(
        protocol,
        names,
        order,
        tuple(babel.get(n, -1) for n in names),
        {s: dict(sorted(c.items())) for s, c in sorted(counts.items())},
    )


def clip_rows(protocol: str, clips: list[_Clip], classes: ClassTable) -> list[ClipRow]:
    index = {name: i for i, name in enumerate(classes.classes)}
    whole = protocol == "segments"
    rows = []
    for clip in clips:
        chunk, take = clip.chunk, clip.take
        label = chunk.label
        rows.append(
            ClipRow(
                clip_id=make_clip_id(take.take_id, protocol, label.seg_id, chunk.chunk),
                protocol=protocol,
                take_id=take.take_id,
                shard=clip.shard,
                split=take.split,
                repetition=take.repetition,
                sequence_id=take.sequence_id,
                source=take.source,
                segment_id=label.seg_id,
                chunk=chunk.chunk,
                frame_start=chunk.frame_start,
                frame_stop=chunk.frame_stop,
                take_frame_start=clip.take_frame_start,
                take_frame_stop=clip.take_frame_start + chunk.num_frames,
                # Whole segments keep the label's own times; chunks span their frames.
                start_t=label.start_t if whole else round(chunk.frame_start / take.fps, 6),
                end_t=label.end_t if whole else round(chunk.frame_stop / take.fps, 6),
                label=clip.label,
                label_index=index[clip.label],
                labels=clip.labels,
                label_indices=tuple(index[c] for c in clip.labels),
                raw_label=label.raw_label,
                proc_label=getattr(label, "proc_label", ""),
                annotator=getattr(label, "annotator", ""),
                category_overlap=chunk.category_overlap,
                timeline=tuple((s.category, s.start, s.stop) for s in chunk.timeline),
            )
        )
    return rows
