"""One frame as one HDF5 chunk, coded and decoded outside HDF5's filter pipeline.

A chunk is what HDF5 itself writes for a one-frame chunk: the shuffle filter
(bytes regrouped by significance, for multi-byte types) then deflate
(``gzip``, filter 1) or zstd (filter 32015, the ``hdf5plugin`` one), so any
HDF5 reader decodes the shards with its own filters.

Why code chunks outside HDF5: the render task compresses each frame as it is
rendered, so the merge only copies bytes (``write_direct_chunk``) and no
window is ever decompressed and compressed again. It also lets the writer
pick zlib's run-length strategy (``runs``) where it wins, which HDF5's own
filter cannot ask for: the stream is plain deflate either way, so every
inflater reads it. On depth differences and masks it is smaller than the
default search (runs are all there is to find once rows are differenced)
and faster at any level; on part labels and raw codes it loses.
"""

from __future__ import annotations

import zlib

import numpy as np


def shuffle_bytes(frame: np.ndarray) -> bytes:
    """HDF5's shuffle filter on one chunk: byte 0 of every element, then byte 1, ..."""
    frame = np.ascontiguousarray(frame)
    size = frame.dtype.itemsize
    if size == 1:
        return frame.tobytes()
    return np.ascontiguousarray(frame.view(np.uint8).reshape(-1, size).T).tobytes()


def unshuffle_bytes(raw: bytes, dtype: np.dtype | type, shape: tuple[int, ...]) -> np.ndarray:
    """Inverse of ``shuffle_bytes``."""
    dtype = np.dtype(dtype)
    size = dtype.itemsize
    flat = np.frombuffer(raw, np.uint8)
    if size > 1:
        planes, flat = flat.reshape(size, -1), np.empty(len(flat), np.uint8)
        for byte in range(size):  # one long strided copy per byte plane; a (N, size) transpose copy is 10x slower
            flat[byte::size] = planes[byte]
    return flat.view(dtype).reshape(shape)


def compress_chunk(frame: np.ndarray, compressor: str, level: int, runs: bool = False) -> bytes:
    """One frame as the chunk HDF5 stores with ``storage.image_options(..., compressor)``.

    Args:
        runs: gzip only: deflate with zlib's run-length strategy (matches at
            distance 1 only) instead of the default search.
    """
    raw = shuffle_bytes(frame)
    if compressor == "gzip":
        if not runs:
            return zlib.compress(raw, level)
        deflate = zlib.compressobj(level, zlib.DEFLATED, zlib.MAX_WBITS, 9, zlib.Z_RLE)
        return deflate.compress(raw) + deflate.flush()
    try:
        import zstandard
    except ImportError as err:
        raise ImportError("render.compressor zstd needs the zstandard package: pip install zstandard") from err
    return zstandard.ZstdCompressor(level=level).compress(raw)


def _inflate(blob: bytes, compressor: str) -> bytes:
    if compressor == "gzip":
        return zlib.decompress(blob)
    import zstandard

    return zstandard.ZstdDecompressor().decompress(blob)


def decompress_chunk(blob: bytes, compressor: str, dtype: np.dtype | type, shape: tuple[int, ...]) -> np.ndarray:
    """Inverse of ``compress_chunk`` (tests and tools; readers use HDF5's own filters)."""
    return unshuffle_bytes(_inflate(blob, compressor), dtype, shape)
