"""NTU RGB+D masked depth: ``nturgb+d_depth_masked/<sample>/MDepth-%08d.png``.

NTU's masked depth maps are 16-bit single-channel PNGs in millimetres, 0 off
the body, numbered from 1. Depth models trained on NTU (and the AMARV authors'
NTU depth runs) read exactly that, so we write the shard's depth the same way:
``round(depth_m * 1000)`` on the person mask (every person of the take: the
shard's ``mask`` is their union), 0 elsewhere and where no surface was hit,
clipped to 65535 mm. Our depth is z along the optical axis, as Kinect's is.

Sample names: NTU's own for NTU runs (``sample_names.py``), else
``<clip_id>_<view>``, the pyskl ``frame_dir``. Next to the samples, for every
run: ``samples.txt`` (``<sample> <label index>`` per line), ``classes.txt``
(class names in index order) and ``splits/<split>.txt`` (sample names), since
only NTU-named samples carry their action in the name.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from synthact.consume.exportio import atomic_output, is_complete, write_text_atomic

ROOT = "nturgb+d_depth_masked"


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


def write_lists(dest: str | Path, samples: Sequence[tuple[str, int, str]], classes: Sequence[str]) -> list[Path]:
    """``samples.txt``, ``classes.txt`` and ``splits/<split>.txt`` from (sample, label index, split)."""
    dest = Path(dest)
    files = {dest / "samples.txt": "".join(f"{name} {label}\n" for name, label, _ in samples)}
    files[dest / "classes.txt"] = "".join(f"{c}\n" for c in classes)
    for split in dict.fromkeys(s for _, _, s in samples):
        files[dest / "splits" / f"{split}.txt"] = "".join(f"{n}\n" for n, _, s in samples if s == split)
    for path, text in files.items():
        write_text_atomic(path, text)
    return list(files)
