"""NTU RGB+D masked depth: ``nturgb+d_depth_masked/<sample>/MDepth-%08d.png``.

NTU's masked depth maps are 16-bit single-channel PNGs in millimetres, 0 off
the body, numbered from 1. Depth models trained on NTU (and the AMARV authors'
NTU depth runs) read exactly that, so we write the shard's depth the same way:
``round(depth_m * 1000)`` on the person mask, 0 elsewhere and where no surface
was hit, clipped to 65535 mm. Our depth is z along the optical axis, as
Kinect's is.

Sample names: an NTU-named source keeps its name with the camera taken from
the view (c1 -> C001, ...), so loaders that parse ``C``/``P``/``A`` from the
name still work; when that would not be unique (several clips of one take,
other rigs, non-NTU sources), ``<clip_id>_<view>``, the pyskl ``frame_dir``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from synthact.consume.exportio import atomic_output, is_complete

ROOT = "nturgb+d_depth_masked"
_NTU_NAME = re.compile(r"S(\d{3})C(\d{3})P(\d{3})R(\d{3})A(\d{3})")
_NTU_VIEW = re.compile(r"c(\d)$")


def masked_depth_mm(depth_m: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(..., H, W) metres + mask -> uint16 millimetres, 0 off the body."""
    mm = np.rint(np.clip(np.asarray(depth_m, dtype=np.float64) * 1000.0, 0, 65535)).astype(np.uint16)
    return np.where(np.asarray(mask) > 0, mm, 0).astype(np.uint16)


def frame_filename(index: int) -> str:
    """NTU numbers frames from 1."""
    return f"MDepth-{index + 1:08d}.png"


def write_png16(path: Path, image_mm: np.ndarray) -> None:
    """One 16-bit greyscale PNG, atomically."""
    with atomic_output(path) as tmp:
        Image.fromarray(np.ascontiguousarray(image_mm, dtype=np.uint16)).save(tmp, format="PNG")


def write_sample(dest: str | Path, sample: str, depth_m: np.ndarray, mask: np.ndarray) -> int:
    """Write one sample's frames that are not yet there; returns how many were written."""
    folder = Path(dest) / ROOT / sample
    written = 0
    for index, (depth, m) in enumerate(zip(depth_m, mask, strict=True)):
        path = folder / frame_filename(index)
        if not is_complete(path):
            write_png16(path, masked_depth_mm(depth, m))
            written += 1
    return written


def read_png16(path: str | Path) -> np.ndarray:
    """Read back a written PNG as uint16 (a check for tests and users)."""
    with Image.open(path) as image:
        return np.asarray(image).astype(np.uint16)


def ntu_name(source: str, view: str) -> str | None:
    """``S001C002P003R001A013`` with the camera replaced by the view's number, or None."""
    found = _NTU_NAME.search(Path(source).name)
    cam = _NTU_VIEW.match(view)
    if not found or not cam:
        return None
    s, _, p, r, a = found.groups()
    return f"S{s}C{int(cam.group(1)):03d}P{p}R{r}A{a}"


def sample_names(items: Sequence[Mapping[str, str]]) -> dict[tuple[str, str], str]:
    """(clip_id, view) -> sample name; items carry clip_id, view and source."""
    ntu = {(i["clip_id"], i["view"]): ntu_name(i["source"], i["view"]) for i in items}
    counts = Counter(n for n in ntu.values() if n)
    return {key: (name if name and counts[name] == 1 else f"{key[0]}_{key[1]}") for key, name in ntu.items()}
