"""Atomic file writes: a temporary name in the same folder, then a rename.

A reader (or a rerun after a kill) therefore sees either the old file or the
complete new one, never a partial file that looks finished. The temporary name
carries the process id, so two writers never share one, and it starts with a
dot, so globs such as ``*.h5`` never pick it up.
"""

from __future__ import annotations

import contextlib
import json
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from synthact.errors import space_error


def temporary_path(path: Path) -> Path:
    """The temporary sibling of ``path`` that this process writes first."""
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


@contextlib.contextmanager
def atomic_path(path: str | Path, fsync: bool = False) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path``.

    On any error the temporary file is removed and ``path`` is left as it was. A
    full disk is raised as an ``OSError`` that names ``path``, even where the writer
    failed again while closing and hid it (zipfile's ``seek of closed file``).
    ``fsync`` flushes the file to disk before the rename (for results that a
    killed node must not lose).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_path(path)
    try:
        yield tmp
        if fsync:
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except Exception as exc:
        full = space_error(exc)
        if full is None:
            raise
        raise OSError(full[1], os.strerror(full[1]), str(path)) from exc
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes(path: str | Path, data: bytes, fsync: bool = False) -> None:
    with atomic_path(path, fsync=fsync) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(path: str | Path, data: Any, indent: int | None = None) -> None:
    """JSON with sorted keys; compact without ``indent`` (json's fast encoder)."""
    separators = None if indent else (",", ":")
    write_text(path, json.dumps(data, indent=indent, sort_keys=True, separators=separators) + "\n")


def write_lines(path: str | Path, lines: Iterator[str] | list[str]) -> int:
    """Write text lines (each without its newline); returns how many."""
    count = 0
    with atomic_path(path) as tmp, open(tmp, "w") as f:
        for line in lines:
            f.write(line + "\n")
            count += 1
    return count


def save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Like ``np.savez`` but byte-reproducible (fixed zip timestamps), written atomically."""
    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as zf:
        for key, value in arrays.items():
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            with zf.open(info, "w", force_zip64=True) as f:
                np.lib.format.write_array(f, np.asanyarray(value), allow_pickle=False)  # type: ignore[no-untyped-call]
