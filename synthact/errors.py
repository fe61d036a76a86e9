"""The one base class of SynthAct's own errors.

Every error that SynthAct raises on purpose for bad input, a bad config or a
failed stage inherits :class:`SynthActError`, so the CLI can turn all of them
into one line for the user with a single ``except``, and nothing has to find
them by name. Each also keeps the built-in base it had before
(``ValueError``, ``RuntimeError``, ``FileNotFoundError``), so code that
catches those still works.

The helpers below turn operating-system failures into one line of ours. A
full disk surfaces differently by writer: ``OSError(ENOSPC)`` from Python,
``OSError`` whose text holds ``errno = 28`` from HDF5 (through h5py, often
with no errno attribute), ``EFBIG`` when a file-size limit strikes, ``EDQUOT``
on a quota. All of them mean the same to the user: free space, rerun.
"""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path

_SPACE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
_HDF5_ERRNO = re.compile(r"errno = (\d+)")


class SynthActError(Exception):
    """An error whose message is complete for the user: it names the file or key and the problem."""


class ConfigError(SynthActError, ValueError):
    """A configuration value is invalid; the message names the key."""


class OutputError(SynthActError, OSError):
    """A stage could not write its output; the message names the file and the cause."""


def space_errno(exc: BaseException | None) -> int | None:
    """The errno of a full-disk / quota / file-size failure anywhere in ``exc``'s chain, else None."""
    found = space_error(exc)
    return None if found is None else found[1]


def space_error(exc: BaseException | None) -> tuple[OSError, int] | None:
    """The full-disk ``OSError`` in ``exc``'s chain and its errno, also when a later error masks it.

    A writer that fails on a full disk often fails again while closing (zipfile's
    ``ValueError: seek of closed file``); the disk is the cause the user must see.
    """
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        code = exc.errno if isinstance(exc, OSError) and exc.errno in _SPACE_ERRNOS else _space_in_text(str(exc))
        if code is not None:
            return (exc if isinstance(exc, OSError) else OSError(code, os.strerror(code))), code
        exc = exc.__cause__ or exc.__context__
    return None


def _space_in_text(text: str) -> int | None:
    # HDF5 reports through h5py as OSError or RuntimeError ("unable to flush file", "errno = 28");
    # a task's log line carries the strerror text.
    for match in _HDF5_ERRNO.finditer(text):
        if int(match[1]) in _SPACE_ERRNOS:
            return int(match[1])
    lowered = text.lower()
    return next((code for code in sorted(_SPACE_ERRNOS) if os.strerror(code).lower() in lowered), None)


def describe_os_error(exc: OSError, target: Path | str | None = None) -> str:
    """One line: the file, then what happened, without HDF5's error stack."""
    code = space_errno(exc)
    where = target or exc.filename
    prefix = f"{where}: " if where else ""
    if code is not None:
        return (
            f"{prefix}{os.strerror(code).lower()} while writing; nothing half-written was kept "
            "(free space, then rerun: finished work is reused)"
        )
    if exc.strerror and where:
        return f"{prefix}{exc.strerror}"
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


def output_error(exc: OSError, target: Path | str) -> OutputError:
    return OutputError(describe_os_error(exc, target))
