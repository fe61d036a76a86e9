"""Atomic files, resumable exports and the progress bar every export shares.

Why: an export of a large run takes hours and gets interrupted. Each output
file is written under a temporary name in its final folder and renamed into
place only when complete, so a file that exists under its final name is
complete, and a rerun skips it. Consumers (the AMARV loader, mmaction2)
silently skip or replace broken samples, so a half-written file must never
carry a final name.
"""

from __future__ import annotations

import contextlib
import os
import pickle
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

T = TypeVar("T")
PARTIAL_MARK = ".partial-"


def partial_path(dest: Path) -> Path:
    """The temporary name ``dest`` is written under; it keeps the suffix so that
    writers that pick a format from the name (PyAV, Pillow) still do."""
    return dest.with_name(f"{dest.stem}{PARTIAL_MARK}{os.getpid()}{dest.suffix}")


@contextlib.contextmanager
def atomic_output(dest: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``dest``; rename it to ``dest`` on success.

    On an exception the temporary file is removed and ``dest`` is untouched.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = partial_path(dest)
    try:
        yield tmp
        if not tmp.exists():
            raise RuntimeError(f"{dest}: the writer produced no file")
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes_atomic(dest: str | Path, data: bytes) -> None:
    with atomic_output(dest) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(dest: str | Path, text: str) -> None:
    """Write text with Unix newlines (CSV readers here split on ``\\n``)."""
    write_bytes_atomic(dest, text.encode("utf-8"))


def write_pickle_atomic(dest: str | Path, obj: Any) -> None:
    """Pickle protocol 4: readable by every Python >= 3.4 that pyskl/mmaction2 run on."""
    write_bytes_atomic(dest, pickle.dumps(obj, protocol=4))


def remove_partials(root: str | Path) -> int:
    """Delete temporary files that an interrupted export left under ``root``."""
    count = 0
    for path in Path(root).rglob(f"*{PARTIAL_MARK}*"):
        if path.is_file():
            path.unlink()
            count += 1
    return count


def is_complete(dest: str | Path) -> bool:
    """A final name exists only once its file was completely written."""
    return Path(dest).is_file()


def progress(items: Iterable[T], description: str, total: int | None = None, enabled: bool = True) -> Iterator[T]:
    """Iterate with a rich progress bar (on stderr; silent when ``enabled`` is False)."""
    if not enabled:
        yield from items
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=False) as bar:
        task = bar.add_task(description, total=total if total is not None else _len(items))
        for item in items:
            yield item
            bar.advance(task)


def _len(items: Iterable[Any]) -> int | None:
    try:
        return len(items)  # type: ignore[arg-type]
    except TypeError:
        return None
