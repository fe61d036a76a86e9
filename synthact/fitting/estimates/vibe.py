"""VIBE (mkocabas/VIBE): ``<output_folder>/<video>/vibe_output.pkl``, joblib, ``{track_id: dict}``.

Per track: ``pose`` (T, 72) and ``betas`` (T, 10) of SMPL in the camera frame
(x right, y down), ``orig_cam`` (T, 4) = ``[sx, sy, tx, ty]``, a weak-perspective
camera on the original image normalised to [-1, 1] (x_n = sx (X + tx)), and
``frame_ids``. There is no translation. A perspective camera of horizontal field
of view ``hfov`` has f = W / (2 tan(hfov / 2)) and maps x_n = 2 f X / (W Z), so
matching the two gives the depth Z = 1 / (sx tan(hfov / 2)) and the offsets
(tx, ty): the translation is recovered up to that assumed field of view, and
its depth is as noisy as the predicted scale. (SURREACT keeps x, y and sets z = 0.)
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from synthact.fitting.estimates.loading import load_joblib
from synthact.fitting.estimates.records import (
    EstimateError,
    Track,
    as_array,
    each_track,
    frame_index,
    mean_betas,
    need,
    same_length,
)
from synthact.fitting.estimates.smpl_pose import from_pose72

NAME = "vibe"
FILE_NAME = "vibe_output.pkl"


def video_name(path: Path) -> str:
    return path.parent.name


def translation_from_orig_cam(orig_cam: np.ndarray, hfov_deg: float) -> np.ndarray:
    """(T, 3) camera-frame translation from VIBE's (T, 4) weak-perspective camera."""
    sx, tx, ty = orig_cam[:, 0], orig_cam[:, 2], orig_cam[:, 3]
    depth = 1.0 / (np.maximum(sx, 1e-6) * math.tan(math.radians(hfov_deg) / 2.0))
    return np.stack([tx, ty, depth], axis=1)


def read(path: Path, hfov_deg: float) -> list[Track]:
    data = load_joblib(path)
    if not isinstance(data, dict) or not data:
        raise EstimateError(f"{path}: expected a non-empty dict of tracks, got {type(data).__name__}")
    tracks = ((str(tid), value) for tid, value in data.items())
    return each_track(NAME, path, video_name(path), tracks, lambda tid, value: _track(path, tid, value, hfov_deg))


def _track(path: Path, tid: str, value: dict, hfov_deg: float) -> Track:
    where = f"track {tid}"
    pose = as_array(need(value, "pose", path, where), path, f"{tid}/pose", (None, 72))
    cam = as_array(need(value, "orig_cam", path, where), path, f"{tid}/orig_cam", (None, 4))
    betas = mean_betas(need(value, "betas", path, where), path, f"{tid}/betas", 10)
    length = same_length(path, {f"{tid}/pose": pose, f"{tid}/orig_cam": cam})
    if np.any(cam[:, 0] <= 0):
        raise EstimateError(f"{path}: key '{tid}/orig_cam': the scale sx must be positive")
    frames = frame_index(need(value, "frame_ids", path, where), path, f"{tid}/frame_ids", length)
    root, body = from_pose72(pose)
    note = f"translation from the weak-perspective orig_cam with an assumed {hfov_deg:g} degree horizontal FOV"
    return Track(
        NAME,
        path,
        video_name(path),
        tid,
        frames,
        root,
        body,
        translation_from_orig_cam(cam, hfov_deg),
        betas,
        body="smpl",
        frame="opencv",
        notes=[note, "camera taken as level"],
    )
