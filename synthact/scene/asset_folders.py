"""The user's asset folders (textures, HDRIs, background pictures): what a folder offers.

Names are sorted so that a take's draw depends on the folder's content alone, never on
the order the file system lists it in.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


def files_with_suffix(folder: Path, suffixes: Sequence[str]) -> list[str]:
    """Names of the files directly in ``folder`` whose suffix (any case) is one of ``suffixes``, sorted."""
    return sorted(p.name for p in folder.iterdir() if p.suffix.lower() in suffixes and p.is_file())


def list_asset_folder(folder: str | Path, key: str, suffixes: Sequence[str], what: str) -> list[str]:
    """``files_with_suffix`` of a folder the config names, refusing a missing or empty one.

    Raises:
        FileNotFoundError: Not a folder, or it holds no such file; the message names ``key``.
    """
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"{key}: {root} is not a folder")
    names = files_with_suffix(root, suffixes)
    if not names:
        raise FileNotFoundError(f"{key}: {root} holds no {'/'.join(suffixes)} {what}")
    return names
