"""Temporal windows and view choice for training: pure functions, reproducible.

Why pure: the same (seed, epoch, index) must give the same frames and view in
any DataLoader worker, on any machine, so that runs can be repeated and a bad
sample found again. Nothing here reads files.

Window: ``num_frames`` frames, ``stride`` apart, so it spans
``(num_frames - 1) * stride + 1`` frames of the clip. In time (``step``): the
picks are ``step`` stored frames apart, a fraction where a target frame rate
does not divide the take's (``time_step``: ``stride`` frames at ``fps`` are
``stride * take_fps / fps`` stored frames, PySlowFast's TARGET_FPS), each
rounded to the nearest stored frame. Offsets:

- ``random``: a start drawn uniformly from every start that fits (training);
- ``centre``: the middle window (validation);
- ``uniform``: the k-th of ``num_clips`` starts spread evenly from the first to
  the last that fits (multi-clip testing; k = ``clip_index``).

Clips shorter than the window (``short_policy``):

- ``clamp`` (default, PySlowFast's choice): indices past the end repeat the last
  frame, so the window starts at 0 and its motion keeps its speed;
- ``loop``: indices wrap around to the start (cyclic actions);
- ``stretch``: the stride shrinks to fit the clip, frames spread evenly over it
  (repeating some when the clip has fewer than ``num_frames``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

OFFSETS = ("random", "centre", "uniform")
SHORT_POLICIES = ("clamp", "loop", "stretch")


def sample_rng(seed: int, epoch: int, index: int) -> np.random.Generator:
    """The generator of one item in one epoch: independent of worker and order."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(epoch), int(index)]))


def window_span(num_frames: int, stride: int) -> int:
    return (num_frames - 1) * stride + 1


def time_step(stride: int, take_fps: float, fps: float | None) -> float:
    """Stored frames between two picks: ``stride`` itself, or ``stride`` frames at ``fps``."""
    if fps is None:
        return float(stride)
    if fps <= 0 or take_fps <= 0:
        raise ValueError(f"fps={fps}, take fps={take_fps}: both must be > 0")
    return stride * take_fps / fps


def repeats_frames(indices: np.ndarray) -> bool:
    """Whether a window shows some stored frame twice (a clip too short, or picks closer than a frame)."""
    return len(np.unique(indices)) < len(indices)


def window_indices(
    clip_frames: int,
    num_frames: int,
    stride: int = 1,
    offset: str = "random",
    rng: np.random.Generator | None = None,
    clip_index: int = 0,
    num_clips: int = 1,
    short_policy: str = "clamp",
    step: float | None = None,
) -> np.ndarray:
    """Indices (num_frames,) int64 into a clip of ``clip_frames`` frames;
    ``step``: stored frames between picks (default ``stride``; see ``time_step``)."""
    _check(clip_frames, num_frames, stride, offset, short_policy, rng, clip_index, num_clips)
    step = float(stride) if step is None else float(step)
    span = (num_frames - 1) * step  # from the first pick to the last
    if span > clip_frames - 1 + 1e-9:
        return _short(clip_frames, num_frames, step, short_policy)
    last = int(np.floor(clip_frames - 1 - span + 1e-9))
    if offset == "random":
        start = int(rng.integers(0, last + 1))  # type: ignore[union-attr]
    elif offset == "centre":
        start = last // 2
    else:
        start = last // 2 if num_clips == 1 else round(clip_index * last / (num_clips - 1))
    return np.minimum(start + _picks(num_frames, step), clip_frames - 1)


def _picks(num_frames: int, step: float) -> np.ndarray:
    return np.rint(step * np.arange(num_frames)).astype(np.int64)


def _short(clip_frames: int, num_frames: int, step: float, policy: str) -> np.ndarray:
    steps = _picks(num_frames, step)
    if policy == "clamp":
        return np.minimum(steps, clip_frames - 1)
    if policy == "loop":
        return steps % clip_frames
    return np.rint(np.linspace(0, clip_frames - 1, num_frames)).astype(np.int64)


def _check(
    clip_frames: int,
    num_frames: int,
    stride: int,
    offset: str,
    short_policy: str,
    rng: np.random.Generator | None,
    clip_index: int,
    num_clips: int,
) -> None:
    if clip_frames < 1 or num_frames < 1 or stride < 1:
        raise ValueError(f"clip_frames={clip_frames}, num_frames={num_frames}, stride={stride}: each must be >= 1")
    if offset not in OFFSETS:
        raise ValueError(f"offset {offset!r}: expected one of {OFFSETS}")
    if short_policy not in SHORT_POLICIES:
        raise ValueError(f"short_policy {short_policy!r}: expected one of {SHORT_POLICIES}")
    if offset == "random" and rng is None:
        raise ValueError("offset 'random' needs an rng (sample_rng(seed, epoch, index))")
    if not 0 <= clip_index < num_clips:
        raise ValueError(f"clip_index {clip_index} outside 0..{num_clips - 1}")


def choose_views(
    available: Sequence[str], views: str | Sequence[str], rng: np.random.Generator | None = None
) -> list[str]:
    """``"random"``: one view drawn with ``rng`` (the AMARV authors' choice);
    ``"all"``: every view in order; a list: those views, each checked."""
    available = list(available)
    if isinstance(views, str) and views == "random":
        if rng is None:
            raise ValueError("views='random' needs an rng")
        return [available[int(rng.integers(0, len(available)))]]
    if isinstance(views, str) and views == "all":
        return available
    if isinstance(views, str):
        raise ValueError(f"views {views!r}: expected 'random', 'all' or a list of view names")
    missing = [v for v in views if v not in available]
    if missing:
        raise ValueError(f"views {missing} are not in this dataset's views {available}")
    return list(views)
