"""HDF5 dataset options for the per-frame lossless images (depth codes,
normal codes, mask, parts), and the keyword set for a stored bitstream.

Why these settings (measured by ``benchmarks/storage.py`` at 320x240):
- one frame per chunk: deflate's 32 KB window cannot reach the previous
  frame (a frame is 77-154 KB), so bigger chunks gain almost nothing in size
  but make a window read decompress frames it does not return;
- gzip (deflate), HDF5's built-in filter, so every HDF5 reader opens the
  file without plugins; level 4, where higher levels cost write time for
  under 2 % in size;
- shuffle for multi-byte types (uint16 depth and normals): high and low
  bytes compress separately, about 2x better on depth; for uint8 it is a
  no-op and is left off.
- bitstreams are already compressed: contiguous, no filter, so a byte range
  reads with one seek.
"""

from __future__ import annotations

import numpy as np

GZIP_LEVEL = 4


def image_options(shape: tuple[int, ...], dtype: np.dtype | type, level: int = GZIP_LEVEL) -> dict:
    """``h5py.Group.create_dataset`` keywords for a (T, H, W, ...) per-frame image array."""
    if len(shape) < 3 or shape[0] == 0:
        return {"track_times": False}  # nothing to chunk
    itemsize = np.dtype(dtype).itemsize
    return {
        "chunks": (1, *shape[1:]),
        "compression": "gzip",
        "compression_opts": level,
        "shuffle": itemsize > 1,
        "track_times": False,
    }


def bitstream_options() -> dict:
    """``create_dataset`` keywords for a coded bitstream (uint8, already compressed)."""
    return {"track_times": False}
