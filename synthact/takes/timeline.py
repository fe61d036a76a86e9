"""Seconds to frames on the target-fps timeline, the way BABEL converts them.

* A segment spans frames ``[int(fps * start_t), int(fps * end_t))``, cut to the
  frames that exist (BABEL keeps an ``end_t`` past the sequence's duration).
* Frame ``n`` carries a label when ``start_t <= n / fps < end_t``; overlaps and
  per-frame timelines are measured with that.

The take index uses these to find the labelled spans to render; the labels stage
uses them to cut clips, so both agree frame for frame.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Protocol


class TimedLabel(Protocol):
    """What the conversion needs from a label (``SourceLabel`` and ``LabelSegment`` have it)."""

    # Read-only properties, so that frozen dataclasses (SourceLabel) match too.
    @property
    def seg_id(self) -> str: ...
    @property
    def start_t(self) -> float: ...
    @property
    def end_t(self) -> float: ...
    @property
    def act_cat(self) -> tuple[str, ...]: ...
    @property
    def raw_label(self) -> str: ...


def first_frame_at(t: float, fps: float) -> int:
    """Smallest frame ``n >= 0`` with ``n / fps >= t`` (exact in float arithmetic)."""
    n = max(math.ceil(t * fps), 0)
    # t * fps may round across an integer; settle on the exact comparison.
    while n > 0 and (n - 1) / fps >= t:
        n -= 1
    while n / fps < t:
        n += 1
    return n


def active_frames(label: TimedLabel, fps: float, num_frames: int) -> tuple[int, int]:
    """Frames ``[first, stop)`` where ``start_t <= n / fps < end_t``, within the sequence."""
    first = min(first_frame_at(label.start_t, fps), num_frames)
    stop = min(first_frame_at(label.end_t, fps), num_frames)
    return first, max(first, stop)


def segment_frames(label: TimedLabel, fps: float, num_frames: int) -> tuple[int, int]:
    """The segment's frames ``[int(fps * start_t), int(fps * end_t))``, within the sequence."""
    start = min(int(fps * label.start_t), num_frames)
    stop = min(int(fps * label.end_t), num_frames)
    return start, max(start, stop)


def merge_spans(spans: Iterable[tuple[int, int]], max_gap: int) -> list[tuple[int, int]]:
    """Union of ``[a, b)`` spans; spans separated by fewer than ``max_gap`` frames become one."""
    merged: list[tuple[int, int]] = []
    for start, stop in sorted(s for s in spans if s[1] > s[0]):
        if merged and start - merged[-1][1] < max_gap:
            merged[-1] = (merged[-1][0], max(merged[-1][1], stop))
        else:
            merged.append((start, stop))
    return merged


def take_spans(
    labels: Iterable[TimedLabel], fps: float, num_frames: int, span: str, merge_gap_frames: int
) -> list[tuple[int, int]]:
    """The frames a take renders: the whole sequence, or the union of its labelled segments.

    Args:
        labels: The sequence's labels.
        fps: Target frame rate.
        num_frames: Frames of the whole sequence at ``fps``.
        span: ``"whole"`` or ``"labelled"``.
        merge_gap_frames: With ``"labelled"``, gaps shorter than this are rendered too,
            so that two segments a few frames apart become one continuous video.
    """
    if span == "whole":
        return [(0, num_frames)] if num_frames > 0 else []
    if span != "labelled":
        raise ValueError(f"render.span: expected 'whole' or 'labelled', got {span!r}")
    # A 1-frame gap is no gap: even merge_gap_frames 0 joins touching spans.
    return merge_spans((segment_frames(label, fps, num_frames) for label in labels), max(merge_gap_frames, 1))
