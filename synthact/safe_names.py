"""The one rule for names and paths that come from input: they never leave their folder.

An input file is data, not a trusted configuration. Whatever it names (BABEL
``feat_p``, a split or sample list entry, an estimator's video or track id, a
label CSV's value) may become part of a path the code opens or writes, so it is
checked here, once, for every stage:

- ``file_name``: a single name the code turns into a file or folder name
  (``<video>_track<id>``): no separators, no ``.``/``..``, no NUL or control
  characters, short enough for a file system.
- ``normalise_relative`` / ``contained_path``: a relative path inside a root.
  Backslashes become slashes *before* ``..`` and absolute paths are looked for
  (``..\\..\\etc\\passwd`` is ``../../etc/passwd``), and symlinks are resolved,
  so a link inside the root that points outside is refused too.
- ``walk_inputs``: the files under an input root, with the same symlink policy
  for every root (AMASS, skeleton folders, estimator outputs): a link that
  resolves outside the root is refused, and every folder or link not entered is
  returned with the reason, so nothing under a root is dropped without a word.

Messages name the input file and the offending string, never anything read
from a target.
"""

from __future__ import annotations

import os
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from synthact.errors import SynthActError

# Linux allows 255 bytes per name; the code appends suffixes such as ``_poses.npz``.
MAX_NAME_BYTES = 200


class UnsafePathError(SynthActError, ValueError):
    """A name or path read from an input file would leave the folder it must stay in."""


def file_name(value: object, what: str, source: str | Path) -> str:
    """``value`` if it is safe as one file or folder name, else ``UnsafePathError``.

    Args:
        value: The string read from the input (a track id, a video name, ...).
        what: What it is, for the message (``"track id"``).
        source: The file it was read from, for the message.
    """
    reason = _unsafe_name_reason(value)
    if reason is not None:
        raise UnsafePathError(
            f"{source}: {what} {value!r} {reason}; it becomes a file name, which must stay inside its folder: "
            "rename it in that file"
        )
    assert isinstance(value, str)
    return value


def _unsafe_name_reason(value: object) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return "is empty"
    if value in (".", ".."):
        return "is a reference to a folder"
    if "/" in value or "\\" in value:
        return "holds a path separator"
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        return "holds a control character"
    if len(value.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES:
        return f"is longer than {MAX_NAME_BYTES} bytes"
    return None


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
    candidate = Path(root) / relative
    if not resolves_inside(root, candidate):
        raise UnsafePathError(f"{what} {name!r}: resolves outside {root} (through a symlink); refused")
    return candidate


def resolves_inside(root: str | Path, path: str | Path) -> bool:
    """True when ``path``, every symlink resolved, is ``root`` or lies under it."""
    root_real = Path(os.path.realpath(root))
    real = Path(os.path.realpath(path))
    return real == root_real or root_real in real.parents


@dataclass
class InputWalk:
    """The files under an input root, and what was not entered or not taken, with the reason."""

    root: Path
    files: list[Path] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)  # {"path", "reason"}

    def skip(self, path: str | Path, reason: str) -> None:
        self.skipped.append({"path": str(path), "reason": reason})

    def summary(self, what: str) -> list[str]:
        """One line per path not taken, for the log."""
        return [f"{what}: skipped {entry['path']}: {entry['reason']}" for entry in self.skipped]


def walk_inputs(root: str | Path) -> InputWalk:
    """Every regular file under ``root``, sorted, under the one symlink policy of all input roots.

    A symlink (to a file or a folder) is taken when it resolves inside ``root``
    (a linked folder is not entered: what it holds is walked where it really
    is) and refused when it resolves outside, as ``contained_path`` refuses a
    named path. Folders that cannot be read are listed too.
    """
    walk = InputWalk(Path(root))
    for folder, dirs, names in os.walk(root, onerror=lambda exc: walk.skip(exc.filename, _unreadable(exc))):
        for name in sorted(dirs):
            path = Path(folder) / name
            if path.is_symlink():
                walk.skip(path, _link_reason(root, path, folder=True))
        for name in sorted(names):
            _take_file(walk, Path(folder) / name)
    walk.files.sort()
    walk.skipped.sort(key=lambda entry: entry["path"])
    return walk


def _take_file(walk: InputWalk, path: Path) -> None:
    if path.is_symlink() and not resolves_inside(walk.root, path):
        walk.skip(path, _link_reason(walk.root, path, folder=False))
    elif path.is_file():
        walk.files.append(path)
    elif path.is_symlink():
        walk.skip(path, "a broken symlink")


def _link_reason(root: str | Path, path: Path, folder: bool) -> str:
    if not resolves_inside(root, path):
        return f"a symlink that resolves outside {root}; refused (copy the data under the root instead)"
    if folder:
        return "a symlink to a folder inside the root; not entered (its files are read where they are)"
    return "a symlink"


def _unreadable(exc: OSError) -> str:
    return f"a folder that cannot be read ({exc.strerror or exc}); not entered"
