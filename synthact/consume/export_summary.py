"""The one line ``synthact export`` prints when it is done.

Why: the exporters return what they did (files written and skipped, or the
pickles' paths); a person wants to know how much is there, where, and for a
pose pickle which split names a config must name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from synthact.safe_unpickle import load_pickle_file

UNITS = {"amarv": "videos", "video-list": "videos", "ntu-depth": "samples"}


def export_summary(fmt: str, result: Any, dest: Path) -> str:
    """``written``/``skipped`` counts or a list of pickles -> one human line."""
    if isinstance(result, Mapping):
        unit = UNITS.get(fmt, "files")
        written, skipped = int(result.get("written", 0)), int(result.get("skipped", 0))
        line = f"{written + skipped} {unit} in {dest} ({written} written now, {skipped} already complete)"
        extra = [f"{k} {v}" for k, v in result.items() if k not in ("written", "skipped")]
        return line + (f"; {', '.join(extra)}" if extra else "")
    return pose_summary([Path(p) for p in result], dest)


def pose_summary(pickles: Sequence[Path], dest: Path) -> str:
    """How many clip-views each pickle holds, and its split names with their sizes."""
    data = load_pickle_file(pickles[0], "pose pickle")
    splits = ", ".join(f"{name} ({len(ids)})" for name, ids in data["split"].items())
    names = ", ".join(p.name for p in pickles)
    return f"{len(data['annotations'])} clip-views in {names} under {dest}; splits: {splits}"
