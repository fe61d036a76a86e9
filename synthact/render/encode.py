"""Code one window of rendered frames into what the shard stores, frame by frame.

Why here, and not in the merge: the render cache then holds the final
streams (the window's H.264 packets, and each per-frame image as the exact
compressed HDF5 chunk the shard will hold), so the merge only copies bytes
(``h5py``'s ``write_direct_chunk``) and no window is ever decompressed,
re-encoded or held raw in memory. A ``WindowCoder`` keeps only compressed
bytes: a window of any length costs a few KB per frame.

Chunks are what HDF5's own filter pipeline writes for a one-frame chunk
(``synthact.codecs.chunks``), so any HDF5 reader decodes them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from synthact.codecs import depth as depth_codec
from synthact.codecs import normals as normals_codec
from synthact.codecs.chunks import compress_chunk
from synthact.codecs.storage import COMPRESSORS, GZIP_LEVEL, ZSTD_LEVEL
from synthact.codecs.video import VideoEncoder, VideoSettings
from synthact.render.window_record import IMAGE_NAMES, CodedImage, CodedWindow
from synthact.shard_format import DEPTH, INSTANCES, MASK, NORMALS, PARTS

# Smaller with zlib's run-length strategy (codecs/chunks.py); part labels are not. Instance
# ids are coded as the mask is: for one person they are the mask, byte for byte.
RUN_LENGTH_IMAGES = (DEPTH.field, NORMALS.field, MASK.field, INSTANCES.field)


@dataclass(frozen=True)
class StorageSettings:
    """How a take-view is stored (``render.rgb_*``, ``render.keyframe_interval``, ...).

    They live in ``render`` because the render cache holds the coded streams:
    changing one re-renders, as any ``render`` setting does.
    """

    rgb_codec: str = "h264"
    rgb_crf: int = 23
    keyframe_interval: int = 8
    jpeg_quality: int = 90
    normal_bits: int = 8
    compressor: str = "gzip"
    level: int | None = None
    fps: int = 30  # the take's rate (clips.fps), written into the RGB stream's timing
    # not config keys: they tell the merge how the cached chunks were coded
    depth_encoding: str = depth_codec.ENCODING
    normals_encoding: str = normals_codec.ENCODING

    def __post_init__(self) -> None:
        if self.compressor not in COMPRESSORS:
            raise ValueError(f"render.compressor {self.compressor!r}: expected one of {COMPRESSORS}")
        if self.normal_bits not in (8, 16):
            raise ValueError(f"render.normal_bits {self.normal_bits}: expected 8 or 16")

    @classmethod
    def from_config(cls, render: Mapping[str, Any]) -> StorageSettings:
        names = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in render.items() if k in names})

    def video(self) -> VideoSettings:
        return VideoSettings(
            codec=self.rgb_codec,
            crf=self.rgb_crf,
            keyframe_interval=self.keyframe_interval,
            jpeg_quality=self.jpeg_quality,
            fps=self.fps,
        )

    @property
    def compression_level(self) -> int:
        if self.level is not None:
            return self.level
        return GZIP_LEVEL if self.compressor == "gzip" else ZSTD_LEVEL


def image_codes(
    depth: np.ndarray, mask: np.ndarray, parts: np.ndarray, normals: np.ndarray, bits: int, instances: np.ndarray
) -> dict[str, np.ndarray]:
    """One frame's stored arrays: depth uint16 codes, octahedral normal codes, mask, parts, instance ids."""
    return {
        DEPTH.field: depth_codec.encode_stored(depth, mask),
        NORMALS.field: normals_codec.encode_stored(normals, bits),
        MASK.field: np.asarray(mask, np.uint8),
        PARTS.field: np.asarray(parts, np.uint8),
        INSTANCES.field: np.asarray(instances, np.uint8),
    }


class WindowCoder:
    """Frames in, coded window out; holds compressed bytes only."""

    def __init__(self, width: int, height: int, settings: StorageSettings):
        self.width, self.height, self.settings = width, height, settings
        self._video = VideoEncoder(width, height, settings.video())
        self._frames_with_rgb = 0
        self._chunks: dict[str, list[bytes]] = {name: [] for name in IMAGE_NAMES}
        self._meta: dict[str, tuple[str, tuple[int, ...]]] = {}

    def add(
        self,
        rgb: np.ndarray | None,
        depth: np.ndarray,
        mask: np.ndarray,
        parts: np.ndarray,
        normals: np.ndarray,
        instances: np.ndarray | None = None,
    ) -> None:
        """Code one frame (float depth in metres, unit normals in the camera frame; ``rgb`` None:
        the geometry engine, which draws no colour; ``instances`` None: one person, whose ids are the mask)."""
        if rgb is not None:
            self._video.add(rgb)
            self._frames_with_rgb += 1
        s = self.settings
        ids = mask if instances is None else instances
        for name, codes in image_codes(depth, mask, parts, normals, s.normal_bits, ids).items():
            self._meta[name] = (codes.dtype.str, codes.shape)
            runs = name in RUN_LENGTH_IMAGES
            self._chunks[name].append(compress_chunk(codes, s.compressor, s.compression_level, runs))

    def finish(self) -> CodedWindow:
        """The window's coded streams for the render cache (``render/window_record.py``)."""
        video = self._video.finish() if self._frames_with_rgb else None
        images = {}
        for name, chunks in self._chunks.items():
            dtype, shape = self._meta[name]
            data = np.frombuffer(b"".join(chunks), np.uint8).copy()
            offsets = np.cumsum([0] + [len(c) for c in chunks]).astype(np.int64)
            images[name] = CodedImage(dtype=dtype, shape=shape, chunks=data, offsets=offsets)
        return CodedWindow(
            video=video, images=images, compressor=self.settings.compressor, settings=asdict(self.settings)
        )
