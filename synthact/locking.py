"""One writer per output folder, across clones and working directories.

Snakemake's own lock lives in ``.snakemake/`` of the working directory, so two
clones with one absolute ``output_dir`` would both write into it. This lock is
a ``flock`` on ``OUTPUT_DIR/.synthact.lock`` (the folder resolved, so two
spellings of one folder share it), held by the Snakemake process for the whole
run. The kernel drops it when that process ends, SIGKILL included, so it never
goes stale. The file also says who holds it, for the message of the loser.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from pathlib import Path

from synthact.errors import SynthActError

LOCK_NAME = ".synthact.lock"
_held: dict[str, int] = {}  # resolved output folder -> open descriptor (kept for the process's life)


class OutputLocked(SynthActError, RuntimeError):
    """Another run holds the output folder."""


def lock_path(output_dir: str | Path) -> Path:
    return Path(os.path.realpath(output_dir)) / LOCK_NAME


def _holder(fd: int) -> str:
    try:
        info = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
    except (OSError, ValueError):
        return "another process"
    return (
        f"pid {info.get('pid')} on {info.get('host')}, working directory {info.get('workdir')},"
        f" since {info.get('since')}"
    )


def acquire_output_lock(output_dir: str | Path) -> Path:
    """Take the output folder's lock for this process, or raise ``OutputLocked`` naming the holder.

    Re-entrant within one process (the Snakefile may be parsed more than once).
    """
    path = lock_path(output_dir)
    if str(path) in _held:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)  # not inherited by jobs (O_CLOEXEC by default)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _holder(fd)
        os.close(fd)
        raise OutputLocked(
            f"{path.parent}: output folder is in use by another run ({holder}); "
            "wait for it to finish, or give this run another output_dir"
        ) from None
    info = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "workdir": os.getcwd(),
        "since": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(info).encode(), 0)
    _held[str(path)] = fd
    return path


def release_output_lock(output_dir: str | Path) -> None:
    fd = _held.pop(str(lock_path(output_dir)), None)
    if fd is not None:
        os.close(fd)
