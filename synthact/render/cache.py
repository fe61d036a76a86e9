"""The render cache: one file per (view, take, window), the unit of resume.

It sits between the render tasks, which write it, and merge and status, which
read it; none of them needs to know the others' code. The folder is keyed by
the render stage's key (``synthact.stages``), so results rendered under other
settings are never mistaken for finished, and by take rather than by shard, so
re-sharding a run (``plan.frames_per_shard``) re-renders nothing.

Layout: ``<work>/cache/<render key[:16]>/<view>/<take id>/w<window:05d>.npz``.

A window file is a ``WindowRecord`` (``render/window_record.py``): an
uncompressed npz of the final bytes, which the merge only copies.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


def windows(num_frames: int, window_frames: int) -> list[tuple[int, int]]:
    """``[start, stop)`` take-frame ranges of at most ``window_frames`` covering the take."""
    if window_frames < 1:
        raise ValueError(f"render.window_frames must be >= 1, got {window_frames}")
    return [(a, min(a + window_frames, num_frames)) for a in range(0, num_frames, window_frames)]


@dataclass(frozen=True)
class RenderCache:
    """Where the results of one render configuration live."""

    root: Path

    @classmethod
    def for_key(cls, work_dir: Path, render_key: str) -> RenderCache:
        return cls(Path(work_dir) / "cache" / render_key[:16])

    def window_path(self, view: str, take_id: str, window: int) -> Path:
        return self.root / view / take_id / f"w{window:05d}.npz"

    def take_windows(self, view: str, take_id: str, num_frames: int, window_frames: int) -> list[Path]:
        return [self.window_path(view, take_id, i) for i in range(len(windows(num_frames, window_frames)))]

    def missing(self, takes: list[tuple[str, int]], views: list[str], window_frames: int) -> list[Path]:
        """Every (view, take, window) result not in the cache yet; ``takes`` are (take id, frames)."""
        return [p for p in self._all(takes, views, window_frames) if not p.exists()]

    def count(self, takes: list[tuple[str, int]], views: list[str], window_frames: int) -> int:
        """How many (view, take, window) results the takes need in all."""
        return sum(1 for _ in self._all(takes, views, window_frames))

    def _all(self, takes: list[tuple[str, int]], views: list[str], window_frames: int) -> Iterator[Path]:
        for view in views:
            for take_id, num_frames in takes:
                yield from self.take_windows(view, take_id, num_frames, window_frames)
