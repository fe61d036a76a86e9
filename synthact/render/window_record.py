"""One rendered window as the render cache holds it: the contract between render and merge.

The render task builds a ``WindowRecord`` and ``write``s it; the merge
``read``s it back and copies its bytes into the shard. Neither spells a key
of the file: the npz keys are this module's field names.

The file is an uncompressed npz of the final bytes (``render/encode.py``):
- ``WindowScene``: what the window showed, known before it was drawn: joints
  (73 per frame and person), cameras, the motion's frames, each body's shape
  and which bodies are present in which frames;
- ``CodedWindow``: the window's video packets (``rgb_data``, ``rgb_offsets``,
  ``rgb_pts``, ``rgb_keyframe``; none from the geometry engine) and each image
  as one compressed HDF5 chunk per frame (``<name>_chunks``,
  ``<name>_chunk_offsets``), with a ``storage`` JSON (settings, video
  attributes, image dtypes and shapes);
- ``keypoints_visible`` and ``bbox``, read off the rendered frames.
Deflating it again would only cost time: the merge reads it once and copies
the chunks.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from synthact import atomic
from synthact.codecs.video import EncodedVideo
from synthact.errors import SynthActError
from synthact.shard_format import IMAGE_DATASETS

IMAGE_NAMES = tuple(spec.field for spec in IMAGE_DATASETS)
VIDEO_PREFIX = "rgb_"
VIDEO_ARRAYS = ("data", "offsets", "pts", "keyframe")  # EncodedVideo's arrays, stored as rgb_<name>
STORAGE = "storage"
LABEL_ARRAYS = ("keypoints_visible", "bbox")


class WindowRecordError(SynthActError, ValueError):
    """A render cache file is missing, unreadable or of another layout; the message names it."""


@dataclass(frozen=True)
class WindowScene:
    """What a window showed, known before it is drawn.

    Per-frame arrays are (T, ...); per-person ones carry the person axis P in
    body order (``shard_format.DatasetSpec.person_axis``), NaN where a body is absent.
    ``ground_offset_m``, ``gender`` and ``appearance`` describe person 0, ``persons`` every body.
    """

    keypoints_2d: np.ndarray  # (T, P, 73, 2) float32
    joints_cam: np.ndarray  # (T, P, 73, 3) float32
    joints_world: np.ndarray  # (T, P, 73, 3) float32
    K: np.ndarray  # (3, 3) float64, the window's intrinsics
    R: np.ndarray  # (T, 3, 3) float64
    t: np.ndarray  # (T, 3) float64
    distance_m: float
    source_frames: np.ndarray  # (T,) int64
    poses: np.ndarray  # (T, P, 156) float32
    trans: np.ndarray  # (T, P, 3) float32
    betas: np.ndarray  # (P, 16) float32
    betas_used: np.ndarray  # (P, 16) float32
    shape_noise: np.ndarray  # (P, 16) float32
    present: np.ndarray  # (T, P) bool
    ground_offset_m: float
    gender: str
    appearance: str  # JSON of the drawn appearance
    persons: str  # JSON list, one entry per body (``worker.person_records``)

    @property
    def num_persons(self) -> int:
        return int(self.present.shape[1])

    def arrays(self) -> dict[str, np.ndarray]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out.update(
            distance_m=np.float64(self.distance_m),
            ground_offset_m=np.float64(self.ground_offset_m),
            gender=np.array(self.gender),
            appearance=np.array(self.appearance),
            persons=np.array(self.persons),
        )
        return out

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> WindowScene:
        values: dict[str, Any] = {f.name: arrays[f.name] for f in fields(cls)}
        values.update(
            distance_m=float(arrays["distance_m"]),
            ground_offset_m=float(arrays["ground_offset_m"]),
            gender=str(arrays["gender"]),
            appearance=str(arrays["appearance"]),
            persons=str(arrays["persons"]),
        )
        return cls(**values)


@dataclass(frozen=True)
class CodedImage:
    """One image modality of a window: each frame's compressed HDF5 chunk, end to end."""

    dtype: str  # numpy dtype string of a frame's codes ("<u2")
    shape: tuple[int, ...]  # one frame's shape
    chunks: np.ndarray  # (bytes,) uint8
    offsets: np.ndarray  # (frames + 1,) int64: chunk i is chunks[offsets[i]:offsets[i + 1]]

    def chunk(self, i: int) -> bytes:
        return self.chunks[self.offsets[i] : self.offsets[i + 1]].tobytes()

    @property
    def num_frames(self) -> int:
        return len(self.offsets) - 1


@dataclass(frozen=True)
class CodedWindow:
    """What the encoder (``render/encode.WindowCoder``) made of a window's frames."""

    video: EncodedVideo | None  # None: the geometry engine draws no colour
    images: Mapping[str, CodedImage]  # by IMAGE_NAMES
    compressor: str  # render.compressor of the image chunks
    settings: Mapping[str, Any]  # the StorageSettings it coded with

    def arrays(self) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        if self.video is not None:
            out.update({VIDEO_PREFIX + name: getattr(self.video, name) for name in VIDEO_ARRAYS})
        for name, image in self.images.items():
            out[f"{name}_chunks"], out[f"{name}_chunk_offsets"] = image.chunks, image.offsets
        storage = {
            "settings": dict(self.settings),
            "video": self.video.attrs() if self.video is not None else {},
            "compressor": self.compressor,
            "images": {name: {"dtype": im.dtype, "shape": list(im.shape)} for name, im in self.images.items()},
        }
        out[STORAGE] = np.array(json.dumps(storage, sort_keys=True))
        return out

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> CodedWindow:
        storage = json.loads(str(arrays[STORAGE]))
        images = {
            name: CodedImage(
                dtype=storage["images"][name]["dtype"],
                shape=tuple(storage["images"][name]["shape"]),
                chunks=arrays[f"{name}_chunks"],
                offsets=arrays[f"{name}_chunk_offsets"],
            )
            for name in IMAGE_NAMES
        }
        video = None
        if VIDEO_PREFIX + VIDEO_ARRAYS[0] in arrays:
            attrs = storage["video"]
            packets = {name: arrays[VIDEO_PREFIX + name] for name in VIDEO_ARRAYS}
            video = EncodedVideo(
                codec=attrs["codec"],
                width=int(attrs["width"]),
                height=int(attrs["height"]),
                settings=json.loads(attrs["settings"]),
                **packets,
            )
        return cls(video=video, images=images, compressor=storage["compressor"], settings=storage["settings"])

    @property
    def normal_bits(self) -> int:
        return int(self.settings["normal_bits"])


@dataclass(frozen=True)
class WindowRecord:
    """One (view, take, window) of the render cache."""

    scene: WindowScene
    coded: CodedWindow
    keypoints_visible: np.ndarray  # (T, P, 73) bool
    bbox: np.ndarray  # (T, P, 4) float32, NaN where that person shows no pixel

    @property
    def num_frames(self) -> int:
        return len(self.scene.source_frames)

    def field(self, name: str) -> np.ndarray:
        """An array by its npz key (``shard_format.DatasetSpec.field``)."""
        if name in LABEL_ARRAYS:
            return np.asarray(getattr(self, name))
        return np.asarray(getattr(self.scene, name))

    def arrays(self) -> dict[str, np.ndarray]:
        """The npz content: scene, coded streams, then the labels read off the frames."""
        return {**self.scene.arrays(), **self.coded.arrays(), **{n: getattr(self, n) for n in LABEL_ARRAYS}}

    def write(self, path: Path) -> None:
        """Atomic and fsynced, so that a killed node can neither lose a finished window
        nor leave a partial one that looks finished."""
        with atomic.atomic_path(path, fsync=True) as tmp, open(tmp, "wb") as handle:
            np.savez(handle, **self.arrays())

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], path: Path | str = "<memory>") -> WindowRecord:
        """Check that every key is there (naming ``path`` if not), then build the record."""
        if STORAGE not in arrays:
            raise WindowRecordError(
                f"{path}: render result of an older format (no coded streams); delete it and rerun the render step"
            )
        if "present" not in arrays:
            raise WindowRecordError(
                f"{path}: render result of an older format (no person axis); delete it and rerun the render step"
            )
        missing = sorted(set(expected_keys(video=VIDEO_PREFIX + VIDEO_ARRAYS[0] in arrays)) - set(arrays))
        if missing:
            raise WindowRecordError(f"{path}: render result lacks {missing}; delete it and rerun the render step")
        try:
            coded = CodedWindow.from_arrays(arrays)
        except (KeyError, ValueError, TypeError) as exc:
            raise WindowRecordError(
                f"{path}: damaged storage record ({exc!r}); delete it and rerun the render step"
            ) from exc
        return cls(WindowScene.from_arrays(arrays), coded, arrays["keypoints_visible"], arrays["bbox"])

    @classmethod
    def read(cls, path: Path) -> WindowRecord:
        if not path.exists():
            raise WindowRecordError(f"{path}: render result missing; rerun the shard's render step")
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
        except Exception as exc:  # a truncated or overwritten file fails in zipfile, numpy or zlib
            raise WindowRecordError(
                f"{path}: unreadable render result ({exc}); delete it and rerun the render step"
            ) from exc
        return cls.from_arrays(arrays, path)


def expected_keys(video: bool) -> list[str]:
    """Every npz key of a window record, in the order ``write`` stores them (``video``: with RGB packets)."""
    keys = [f.name for f in fields(WindowScene)]
    keys += [VIDEO_PREFIX + name for name in VIDEO_ARRAYS] if video else []
    keys += [f"{name}_{part}" for name in IMAGE_NAMES for part in ("chunks", "chunk_offsets")]
    return [*keys, STORAGE, *LABEL_ARRAYS]
