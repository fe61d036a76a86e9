"""The one in-memory form every estimator adapter produces: a ``Track``.

Adapters only read and reshape; every convention change (axes, camera to world,
body model, shape, ground) happens once, in ``conversion``. A track therefore
says in which frame its numbers are (``frame``) and for which body (``body``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from synthact.errors import SynthActError

ESTIMATORS = ("wham", "gvhmr", "phalp", "vibe", "tram", "slahmr")
BODIES = ("smpl", "smplx", "smplh")  # the model whose betas and joint J0 the track's numbers refer to

# The frames a track can be in (world after ``up`` is brought to +Z):
#   y_up:   a gravity-aligned world with +Y up (WHAM, GVHMR)
#   opencv: a camera frame (x right, y down, z forward), taken as level (PHALP, VIBE, TRAM, SLAHMR w/o floor)
#   custom: ``up`` gives the up vector explicitly (SLAHMR with its optimised floor)
FRAMES = ("y_up", "opencv", "custom")


class EstimateError(SynthActError, ValueError):
    """An estimator file that cannot be used; the message names the file and the key."""


class EmptyTrackError(EstimateError):
    """A track with no frame at all: the stage reports it as empty, not as a damaged file."""


@dataclass(eq=False)
class Track:
    """One person's motion as an estimator gave it, before any conversion.

    Attributes:
        estimator: one of ``ESTIMATORS``.
        file: the file it was read from (provenance).
        video: the estimator's name for the video (the labels' key).
        track_id: the estimator's id for the person (subject, tid, track key, ...).
        frame_ids: (T,) int video frame of each row, strictly increasing; gaps are allowed.
        root_rotmat: (T, 3, 3) global orientation of the body in ``frame``.
        body_pose: (T, 21, 3) axis-angle of body joints 1..21 (SMPL = SMPL-H = SMPL-X there).
        trans: (T, 3) the body model's translation in ``frame`` (pelvis = J0(betas) + trans),
            zeros when ``has_translation`` is False.
        betas: (B,) shape of ``body`` (the per-frame estimates averaged).
        body: one of ``BODIES``.
        frame: one of ``FRAMES``.
        up: the up vector in ``frame`` when ``frame`` is ``custom``.
        fps: the file's frame rate, or None when the file does not say.
        has_translation: False when the format carries no usable root path.
        cam_to_world_R, cam_to_world_T: (T, 3, 3) and (T, 3) per-frame camera-to-world motion
            (x_world = R x_cam + T) when the numbers are in a moving camera's frame (TRAM);
            ``frame`` then describes the world's axes.
        notes: what the adapter assumed (goes into provenance).
        present: (T,) bool, False in the rows where the person is not in the video (a
            track spread over a video's whole range with ``tracks: together``: its long
            gaps and the frames before and after it); None: every row.
    """

    estimator: str
    file: Path
    video: str
    track_id: str
    frame_ids: np.ndarray
    root_rotmat: np.ndarray
    body_pose: np.ndarray
    trans: np.ndarray
    betas: np.ndarray
    body: str
    frame: str
    up: np.ndarray | None = None
    fps: float | None = None
    has_translation: bool = True
    cam_to_world_R: np.ndarray | None = None  # noqa: N815  R, T: rotation and translation, as in the papers
    cam_to_world_T: np.ndarray | None = None  # noqa: N815
    notes: list[str] = field(default_factory=list)
    present: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.frame_ids)

    def provenance(self) -> dict[str, Any]:
        """Estimator, file and track, as written next to the motion."""
        return {
            "estimator": self.estimator,
            "file": str(self.file),
            "video": self.video,
            "track": self.track_id,
            "body": self.body,
            "frame": self.frame,
            "first_frame": int(self.frame_ids[0]) if len(self) else None,
            "last_frame": int(self.frame_ids[-1]) if len(self) else None,
            "notes": list(self.notes),
        }


def empty_track(estimator: str, file: Path, video: str, track_id: str, reason: str) -> Track:
    """A placeholder for a track the file holds without a frame, so the stage can name it."""
    return Track(
        estimator,
        file,
        video,
        track_id,
        np.zeros(0, dtype=np.int64),
        np.zeros((0, 3, 3)),
        np.zeros((0, 21, 3)),
        np.zeros((0, 3)),
        np.zeros(0),
        body="smpl",
        frame="y_up",
        notes=[reason],
    )


def each_track(
    estimator: str, file: Path, video: str, items: Iterable[tuple[str, Any]], read_one: Callable[[str, Any], Track]
) -> list[Track]:
    """``read_one`` over a file's (track id, value) pairs; a track without frames becomes ``empty_track``."""
    tracks = []
    for track_id, value in items:
        try:
            tracks.append(read_one(track_id, value))
        except EmptyTrackError as exc:
            tracks.append(empty_track(estimator, file, video, track_id, str(exc)))
    return tracks


# --------------------------------------------------------------------------- checked access


def need(data: Any, key: str, file: Path, where: str = "") -> Any:
    """``data[key]``, or an EstimateError naming the file and the key."""
    if not isinstance(data, dict):
        raise EstimateError(f"{file}: {where or 'top level'}: expected a dict, got {type(data).__name__}")
    if key not in data:
        keys = ", ".join(sorted(map(str, data))[:12])
        raise EstimateError(f"{file}: {where + ': ' if where else ''}missing key {key!r} (has: {keys})")
    return data[key]


def numeric(value: Any, file: Path, key: str) -> np.ndarray:
    """``value`` as a finite float64 array, or an EstimateError naming the file and the key.

    Torch tensors are accepted (GVHMR saves them) without importing torch here.
    """
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise EstimateError(f"{file}: key {key!r}: not numeric ({exc})") from exc
    if not np.isfinite(array).all():
        bad = np.argwhere(~np.isfinite(array))[0]
        raise EstimateError(f"{file}: key {key!r} holds NaN or inf (first at index {tuple(int(i) for i in bad)})")
    return array


def as_array(value: Any, file: Path, key: str, shape: tuple[int | None, ...]) -> np.ndarray:
    """``value`` as a finite float64 array of ``shape`` (None: any size), or an EstimateError."""
    array = numeric(value, file, key)
    if shape and shape[0] is None and array.size == 0 and array.ndim != len(shape):
        # No frame at all: pickled as [] it has lost its other dimensions; ``same_length`` names it.
        array = array.reshape((0, *(d or 0 for d in shape[1:])))
    expected = "(" + ", ".join("T" if d is None else str(d) for d in shape) + ")"
    if array.ndim != len(shape) or any(d is not None and d != n for d, n in zip(shape, array.shape, strict=True)):
        raise EstimateError(f"{file}: key {key!r} has shape {array.shape}, expected {expected}")
    return array


def same_length(file: Path, arrays: dict[str, np.ndarray]) -> int:
    """The common first dimension of ``arrays``, or an EstimateError naming the odd key."""
    lengths = {key: len(a) for key, a in arrays.items()}
    first_key, length = next(iter(lengths.items()))
    for key, n in lengths.items():
        if n != length:
            raise EstimateError(f"{file}: key {key!r} has {n} frames, but {first_key!r} has {length}")
    if length == 0:
        raise EmptyTrackError(f"{file}: key {first_key!r} has no frames")
    return length


def frame_index(value: Any, file: Path, key: str, length: int) -> np.ndarray:
    """(T,) strictly increasing int frame ids of length ``length``."""
    ids = as_array(value, file, key, (None,))
    if len(ids) != length:
        raise EstimateError(f"{file}: key {key!r} has {len(ids)} entries, but the poses have {length} frames")
    if len(ids) and (np.any(ids != np.round(ids)) or np.any(np.diff(ids) <= 0)):
        raise EstimateError(f"{file}: key {key!r}: frame ids must be increasing integers")
    return ids.astype(np.int64)


def mean_betas(value: Any, file: Path, key: str, width: int) -> np.ndarray:
    """(width,) betas: the mean of per-frame (T, width) estimates, or a single (width,) vector.

    Estimators predict a shape per frame; one body has one shape, so the clip's
    mean is used (the spread is small for a tracked person).
    """
    betas = numeric(value, file, key)
    if betas.size == 0:
        raise EmptyTrackError(f"{file}: key {key!r} has no frames")
    if betas.ndim == 1 and betas.shape[0] == width:
        return betas
    if betas.ndim == 2 and betas.shape[1] == width and len(betas):
        return betas.mean(axis=0)
    raise EstimateError(f"{file}: key {key!r} has shape {betas.shape}, expected (T, {width}) or ({width},)")
