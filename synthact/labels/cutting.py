"""Cut labelled segments into clips on the target-fps timeline (BABEL protocol).

BABEL's action-recognition builder cuts every labelled segment into contiguous
chunks of 150 frames (5 s at 30 fps) and pads the last chunk with zeros to 150.
SynthAct renders real frames only, so it does **not** pad: the last chunk of a
segment is simply shorter. Chunks shorter than ``min_frames`` are dropped.

Times become frames the way BABEL converts them:

* a segment spans frames ``[int(fps * start_t), int(fps * end_t))``, cut to the
  sequence's length;
* frame ``n`` carries a label when ``start_t <= n / fps < end_t``; that is what
  the per-category overlap and the timeline are measured with.

Overlap: for every category of any label overlapping a chunk, the fraction of
the chunk's frames in which some label with that category is active (rounded
to 3 decimals like BABEL's). BABEL counts a category twice in a frame where two
of its labels overlap, which can exceed 1; we count each frame once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from synthact.takes.timeline import TimedLabel, active_frames, segment_frames

DEFAULT_MIN_FRAMES = 1  # BABEL keeps any chunk in which its action shows for a frame


@dataclass(frozen=True)
class LabelSpan:
    """One label active over clip-local frames [start, stop)."""

    category: str
    start: int
    stop: int
    raw_label: str = ""


@dataclass(frozen=True)
class ChunkLabels:
    """One chunk of one labelled segment, with the labels around it.

    Attributes:
        label: The segment the chunk was cut from.
        chunk: Index of the chunk within its segment.
        frame_start: First frame, sequence timeline at the target fps.
        frame_stop: One past the last frame.
        categories: Every category of the segment, ``categories[0]`` primary.
        category_overlap: Fraction of the chunk covered by each category of any
            overlapping label.
        timeline: One span per (overlapping label, category), clip-local frames.
    """

    label: TimedLabel
    chunk: int
    frame_start: int
    frame_stop: int
    categories: tuple[str, ...]
    category_overlap: dict[str, float]
    timeline: tuple[LabelSpan, ...]

    @property
    def num_frames(self) -> int:
        return self.frame_stop - self.frame_start


def chunk_bounds(start: int, stop: int, max_frames: int) -> list[tuple[int, int]]:
    """Contiguous ``[a, b)`` chunks of at most ``max_frames`` covering ``[start, stop)``."""
    if max_frames < 1:
        raise ValueError(f"max_frames must be >= 1, got {max_frames}")
    return [(a, min(a + max_frames, stop)) for a in range(start, stop, max_frames)]


def _overlap(spans: list[tuple[str, int, int]], start: int, stop: int) -> dict[str, float]:
    """Per category, the fraction of frames in ``[start, stop)`` some span covers."""
    covered: dict[str, np.ndarray] = {}
    for category, first, last in spans:
        if first >= stop or last <= start:
            continue  # also keeps negative slice bounds out of the mask
        mask = covered.setdefault(category, np.zeros(stop - start, dtype=bool))
        mask[max(first, start) - start : min(last, stop) - start] = True
    total = stop - start
    return {c: round(float(m.sum()) / total, 3) for c, m in sorted(covered.items()) if m.any()}


def _timeline(
    labels: Sequence[TimedLabel], active: list[tuple[int, int]], start: int, stop: int
) -> tuple[LabelSpan, ...]:
    """Clip-local spans of every label active inside ``[start, stop)``."""
    spans = [
        LabelSpan(category=c, start=max(a, start) - start, stop=min(b, stop) - start, raw_label=label.raw_label)
        for label, (a, b) in zip(labels, active, strict=True)
        if a < stop and b > start
        for c in label.act_cat
    ]
    return tuple(sorted(spans, key=lambda s: (s.start, s.stop, s.category, s.raw_label)))


def cut_labels(
    labels: Sequence[TimedLabel],
    fps: float,
    num_frames: int,
    max_frames: int,
    min_frames: int = DEFAULT_MIN_FRAMES,
) -> list[ChunkLabels]:
    """Cut each label of one annotation into chunks, with overlaps and timelines.

    Args:
        labels: The labels of one annotation (one annotator's view of the
            sequence); overlaps are measured among them only.
        fps: Target frame rate.
        num_frames: Length of the resampled sequence.
        max_frames: Longest chunk (150 for BABEL's 5 s at 30 fps).
        min_frames: Shorter chunks are dropped.

    Returns:
        Chunks in label order, then chunk order. A chunk in which its segment's
        primary category is active on no frame (a sub-frame segment) is
        dropped, as BABEL does.
    """
    active = [active_frames(label, fps, num_frames) for label in labels]
    spans = [(c, a, b) for label, (a, b) in zip(labels, active, strict=True) for c in label.act_cat if b > a]
    chunks = []
    for label in labels:
        start, stop = segment_frames(label, fps, num_frames)
        for index, (a, b) in enumerate(chunk_bounds(start, stop, max_frames)):
            if b - a < min_frames:
                continue
            overlap = _overlap(spans, a, b)
            if label.act_cat[0] not in overlap:
                continue
            timeline = _timeline(labels, active, a, b)
            chunks.append(ChunkLabels(label, index, a, b, tuple(label.act_cat), overlap, timeline))
    return chunks
