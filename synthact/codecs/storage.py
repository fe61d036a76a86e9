"""HDF5 dataset options for the per-frame lossless images (depth codes,
normal codes, mask, parts), and the keyword set for a stored bitstream.

Why these settings (measured by ``benchmarks/storage.py`` at 320x240; the
figures are in docs/FORMAT.md, Encodings):
- one frame per chunk: deflate's 32 KB window cannot reach the previous
  frame (a frame is 77-154 KB), so bigger chunks gain almost nothing in size
  but make a window read decompress frames it does not return;
- gzip level 4 by default (``render.compressor``): HDF5's built-in filter,
  so every HDF5 tool opens the shards; zstd level 9 is selectable: a 16-frame
  depth window inflates in about a third of gzip's time, and is smaller, but
  readers must load an HDF5 plugin;
- shuffle for multi-byte types (uint16 depth and normals): high and low
  bytes compress separately, about 2x better on depth; for uint8 it is a
  no-op and is left off.
- bitstreams are already compressed: contiguous, no filter, so a byte range
  reads with one seek.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # h5py loads its C library; the codecs are imported where no shard is open
    import h5py

    from synthact.codecs.video import EncodedVideo, WindowPackets

GZIP_LEVEL = 4
ZSTD_LEVEL = 9
COMPRESSORS = ("gzip", "zstd")


def image_options(
    shape: tuple[int, ...], dtype: np.dtype | type, compressor: str = "zstd", level: int | None = None
) -> dict:
    """``h5py.Group.create_dataset`` keywords for a (T, H, W, ...) per-frame image array.

    Args:
        compressor: ``zstd`` (default; HDF5 filter 32015 from the
            ``hdf5plugin`` package: inflates about twice as fast as gzip and is
            8 % smaller on depth; readers must ``import hdf5plugin`` first,
            ``h5dump`` needs ``HDF5_PLUGIN_PATH=$(python -c "import
            hdf5plugin; print(hdf5plugin.PLUGIN_PATH)")``) or ``gzip`` (built
            into every HDF5 library).
        level: Compression level; default 4 for gzip, 9 for zstd.
    """
    if compressor not in COMPRESSORS:
        raise ValueError(f"compressor {compressor!r}: expected one of {COMPRESSORS}")
    if len(shape) < 3 or shape[0] == 0:
        return {"track_times": False}  # nothing to chunk
    options: dict = {"chunks": (1, *shape[1:]), "shuffle": np.dtype(dtype).itemsize > 1, "track_times": False}
    if compressor == "gzip":
        options.update(compression="gzip", compression_opts=GZIP_LEVEL if level is None else level)
    else:
        import hdf5plugin

        options.update(hdf5plugin.Zstd(clevel=ZSTD_LEVEL if level is None else level))
    return options


def bitstream_options() -> dict:
    """``create_dataset`` keywords for a coded bitstream (uint8, already compressed)."""
    return {"track_times": False}


# --- a coded video as one HDF5 group -------------------------------------------------

VIDEO_INDEX = ("offsets", "pts", "keyframe")
VIDEO_CHECKSUM = "crc32"  # (P,) uint32, each packet's CRC-32 (format_version 3 on; absent before)


def write_video(group: h5py.Group, coded: EncodedVideo) -> None:
    """Store an ``EncodedVideo`` in ``group``: ``data`` (uint8 bitstream),
    ``offsets``, ``pts``, ``keyframe``, ``crc32`` datasets and the stream attributes.

    The checksums are computed here, from the bytes about to be stored, so
    they cover exactly what the shard holds.
    """
    from synthact.codecs.video import packet_crc32

    group.create_dataset("data", data=coded.data, **bitstream_options())
    for name in VIDEO_INDEX:
        group.create_dataset(name, data=getattr(coded, name), track_times=False)
    group.create_dataset(VIDEO_CHECKSUM, data=packet_crc32(coded.data, coded.offsets), track_times=False)
    group.attrs.update(coded.attrs())


def read_video_index(group: h5py.Group) -> dict[str, np.ndarray]:
    """The small index arrays of a stored video (and its checksums, where stored); cache them per take-view."""
    names = VIDEO_INDEX + ((VIDEO_CHECKSUM,) if VIDEO_CHECKSUM in group else ())
    return {name: group[name][()] for name in names}


def read_video_packets(
    group: h5py.Group,
    start: int,
    stop: int,
    index: dict[str, np.ndarray] | None = None,
    picks: np.ndarray | None = None,
) -> WindowPackets:
    """The packets of frames [start, stop) (``picks``: of those frames, relative to ``start``)
    of a video stored by ``write_video``, read and checked against their CRC-32, not decoded.

    Reads only the selection's byte range of ``data`` (plus the index unless given).
    """
    from synthact.codecs.video import window_packets

    index = read_video_index(group) if index is None else index
    codec = group.attrs["codec"]
    codec = codec.decode() if isinstance(codec, bytes) else str(codec)
    return window_packets(
        group["data"],
        index["offsets"],
        index["pts"],
        index["keyframe"],
        codec,
        start,
        stop,
        picks=picks,
        crc32=index.get(VIDEO_CHECKSUM),
    )


def read_video_window(
    group: h5py.Group, start: int, stop: int, index: dict[str, np.ndarray] | None = None
) -> np.ndarray:
    """Frames [start, stop) of a video stored by ``write_video``, as (n, H, W, 3) uint8."""
    return read_video_packets(group, start, stop, index).decode()
