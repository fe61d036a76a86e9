"""Containment of paths that come from input files (BABEL ``feat_p``, split and sample lists).

An input file is data, not a trusted configuration: a path it names must stay
inside the folder it is relative to. The check runs once, here, on the
normalised path: backslashes become slashes *before* ``..`` and absolute paths
are looked for (``..\\..\\etc\\passwd`` is ``../../etc/passwd``), and symlinks
are resolved, so a link inside the root that points outside is refused too.
Messages name the offending string, never anything read from the target.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from synthact.errors import SynthActError


class UnsafePathError(SynthActError, ValueError):
    """A path named by an input file leaves the folder it must stay in."""


def normalise_relative(name: str, root_name: str = "its root folder") -> PurePosixPath:
    """``name`` as a relative POSIX path, or ``UnsafePathError`` if it could leave its root.

    Refused: empty names, NUL bytes, absolute paths (``/x``, ``\\x``, ``C:...``,
    ``~``), and any ``..`` component, after backslashes are read as slashes.
    """
    if not isinstance(name, str) or not name.strip():
        raise UnsafePathError(f"{name!r}: empty path")
    if "\x00" in name:
        raise UnsafePathError(f"{name!r}: path holds a NUL byte")
    text = name.replace("\\", "/")
    path = PurePosixPath(text)
    drive = len(text) >= 2 and text[1] == ":" and text[0].isalpha()
    if path.is_absolute() or drive or text.startswith("~"):
        raise UnsafePathError(f"{name!r}: must be a relative path inside {root_name}, not an absolute one")
    if ".." in path.parts:
        raise UnsafePathError(f"{name!r}: must be a path inside {root_name}, without '..'")
    return path


def contained_path(root: str | Path, name: str, what: str = "path", root_name: str = "its root folder") -> Path:
    """``root / name`` after checking that it stays inside ``root``, symlinks resolved.

    Args:
        root: The folder the name is relative to (e.g. ``motion.amass_root``).
        name: The string read from the input file.
        what: What the name is, for the message (``"feat_p"``).

    Raises:
        UnsafePathError: The name is absolute, has ``..``, or resolves (through a
            symlink) outside ``root``. The target is never opened.
    """
    try:
        relative = normalise_relative(name, root_name)
    except UnsafePathError as exc:
        raise UnsafePathError(f"{what} {exc}") from None
    root_real = Path(os.path.realpath(root))
    candidate = Path(root) / relative
    real = Path(os.path.realpath(candidate))
    if real != root_real and root_real not in real.parents:
        raise UnsafePathError(f"{what} {name!r}: resolves outside {root} (through a symlink); refused")
    return candidate
