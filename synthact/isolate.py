"""Run a writer in a child process, so that its crash leaves one line of ours and no partial file.

HDF5 does not fail cleanly on a full disk: h5py prints an "Exception ignored in
__dealloc__" traceback for every open object (about 1,200 lines for a shard)
and the process may then segfault before any ``finally`` removes the
temporary file. Run in a forked child with its stderr sent to a file, the
writer can die however it likes: the parent removes what the child left
under the output's temporary name and raises ``OutputError`` with the cause,
taken from the child's exception, or from the disk when the child left none.
"""

from __future__ import annotations

import errno
import multiprocessing
import os
import shutil
import signal
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from synthact.errors import OutputError, SynthActError, describe_os_error, space_errno

LOW_SPACE_BYTES = 1 << 20  # a child that died without a word, with less free than this: the disk was full


def _child(conn: Connection, stderr_path: str, func: Callable[..., Any], args: tuple) -> None:
    fd = os.open(stderr_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 2)  # HDF5's and h5py's noise goes here, not to the user
    try:
        conn.send(("ok", func(*args)))
    except BaseException as exc:  # noqa: BLE001 - everything goes back to the parent as data
        code = space_errno(exc)
        traceback.print_exc()
        conn.send(("error", type(exc).__name__, str(exc), code, isinstance(exc, OSError)))
    finally:
        conn.close()
        os._exit(0)  # skip h5py's teardown at exit: it may crash after a failed write


def _leftovers(target: Path, pid: int) -> list[Path]:
    """Files the child made under the target's temporary names (``.<name>.<pid>.tmp`` and kin)."""
    return [p for p in target.parent.glob(f".{target.name}*") if str(pid) in p.name]


def _tail(path: Path, size: int = 65536) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(max(0, f.seek(0, 2) - size))
            return f.read().decode(errors="replace")
    except OSError:
        return ""


def run_writer(func: Callable[..., Any], args: tuple, target: Path, stderr_path: Path) -> Any:
    """``func(*args)`` in a forked child; its result, or ``OutputError`` naming ``target`` and the cause.

    Errors that are not about writing (a bad render result, say) are raised
    again in the parent as ``RuntimeError`` carrying their own message.
    """
    stderr_path.parent.mkdir(parents=True, exist_ok=True)
    context = multiprocessing.get_context("fork")
    parent_conn, child_conn = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(child_conn, str(stderr_path), func, args))
    process.start()
    child_conn.close()
    try:
        message = parent_conn.recv() if parent_conn.poll(None) else None
    except EOFError:
        message = None
    process.join()
    pid, exitcode = process.pid, process.exitcode
    assert pid is not None and exitcode is not None  # both are set once start() and join() return
    if message is not None and message[0] == "ok":
        return message[1]
    for path in _leftovers(target, pid):
        path.unlink(missing_ok=True)
    if message is None:  # it crashed: its stderr (HDF5's "errno = 28") or the disk says why
        code = space_errno(OSError(_tail(stderr_path)))
        if code is None and shutil.disk_usage(target.parent).free < LOW_SPACE_BYTES:
            code = errno.ENOSPC
        if code is not None:
            raise OutputError(describe_os_error(OSError(code, os.strerror(code)), target))
        how = f"signal {signal.Signals(-exitcode).name}" if exitcode < 0 else f"exit {exitcode}"
        raise OutputError(f"{target}: the writer died ({how}) without a message; details in {stderr_path}")
    _, name, text, code, is_os_error = message
    if code is not None or is_os_error:
        raise OutputError(describe_os_error(OSError(code, text) if code else OSError(text), target))
    raise ChildError(name, text)


class ChildError(SynthActError, RuntimeError):
    """The child's own error (its class name kept), raised again in the parent."""

    def __init__(self, name: str, text: str):
        super().__init__(text)
        self.name = name
