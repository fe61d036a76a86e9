"""Pictures behind the person (``randomize.backgrounds_dir``), drawn per take and view, without Blender.

A background is a photograph of the target domain (an empty frame of the
dataset's own camera, say) that the camera sees behind the person, while the
HDRI still lights the person. It only makes sense to a camera that does not
move (``rig.camera_motion: static``, or ``auto`` in room mode): a picture
cannot follow a moving camera.

Each view draws its own: from the subfolder named like the view when there is
one (``backgrounds_dir/cam1/*.jpg``: that camera's own empty room), else from
the images directly in the folder. A take's appearance records every view's
draw, as a path relative to the folder.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from synthact.scene.asset_folders import files_with_suffix
from synthact.seeding import rng_for

BACKGROUND_SUFFIXES = (".jpg", ".jpeg", ".png")


def _images(folder: Path) -> list[str]:
    return files_with_suffix(folder, BACKGROUND_SUFFIXES)


def list_backgrounds(folder: str | Path, views: Sequence[str]) -> dict[str, list[str]]:
    """Each view's candidate pictures, as paths relative to ``folder``, sorted.

    Raises:
        FileNotFoundError: Not a folder, or a view finds no picture; the message names the key.
    """
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"randomize.backgrounds_dir: {root} is not a folder")
    shared = _images(root)
    out = {}
    for view in views:
        own = _images(root / view) if (root / view).is_dir() else []
        out[view] = [f"{view}/{name}" for name in own] if own else shared
        if not out[view]:
            raise FileNotFoundError(
                f"randomize.backgrounds_dir: {root} holds no {'/'.join(BACKGROUND_SUFFIXES)} pictures"
                f" for view {view!r} (put them in {root / view} or directly in {root})"
            )
    return out


def draw_backgrounds(seed: int, candidates: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """One picture per view, from (``seed``, view) alone: adding a view leaves the others' draws."""
    out = {}
    for view, names in sorted(candidates.items()):
        ordered = sorted(names)
        out[view] = ordered[int(rng_for(seed, "background", view).integers(len(ordered)))]
    return out


def backdrops(
    folder: str, rig: Mapping[str, Any], views: Sequence[str], scene: str = "outdoor"
) -> dict[str, list[str]]:
    """Each view's candidate pictures from ``randomize.backgrounds_dir`` (empty when unset).

    Raises:
        ValueError: The cameras move (a picture cannot follow them), or the room's
            walls would hide the picture; the message names the keys.
    """
    if not folder:
        return {}
    if scene == "room":
        raise ValueError(
            "randomize.backgrounds_dir: the room's walls would hide the pictures; set render.scene: outdoor"
            " (the picture is the room)"
        )
    if not static_cameras(rig):
        raise ValueError(
            "randomize.backgrounds_dir needs still cameras: set rig.camera_motion: static"
            " (a picture behind the person cannot move with a following camera)"
        )
    return list_backgrounds(folder, views)


def static_cameras(rig: Mapping[str, Any]) -> bool:
    """Whether the config's ``rig`` section keeps its cameras still for a take."""
    motion = rig.get("camera_motion", "auto")
    return bool(motion == "static" or (motion == "auto" and rig.get("mode", "actor") == "room"))
