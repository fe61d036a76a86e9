"""TRAM (yufu-wang/tram): ``results/<seq>/hps/hps_track_<k>.npy`` plus ``results/<seq>/camera.npy``.

Each track file is ``np.save`` of a dict: ``pred_rotmat`` (T, 24, 3, 3) SMPL
rotations, ``pred_shape`` (T, 10), ``pred_trans`` (T, 1, 3) in the camera frame and
``frame`` (T,) video frame indices. ``camera.npy`` holds the metric SLAM camera:
``pred_cam_R`` (N, 3, 3) and ``pred_cam_T`` (N, 3), camera to world
(x_world = R x_cam + T). TRAM's world is the first camera's frame (y down), not
gravity-aligned: we take that first camera as level.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from synthact.fitting.estimates.loading import load_npy_dict
from synthact.fitting.estimates.records import (
    EstimateError,
    Track,
    as_array,
    frame_index,
    mean_betas,
    need,
    same_length,
)
from synthact.fitting.estimates.smpl_pose import from_rotmats

NAME = "tram"
PATTERN = re.compile(r"hps_track_(\d+)\.npy$")
CAMERA_FILE = "camera.npy"


def video_name(path: Path) -> str:
    return path.parent.parent.name  # results/<seq>/hps/hps_track_k.npy


def read(path: Path) -> list[Track]:
    match = PATTERN.search(path.name)
    if path.parent.name != "hps" or not match:
        raise EstimateError(f"{path}: not a TRAM track file (expected hps/hps_track_<k>.npy)")
    data = load_npy_dict(path)
    rot = as_array(need(data, "pred_rotmat", path), path, "pred_rotmat", (None, 24, 3, 3))
    trans = as_array(need(data, "pred_trans", path), path, "pred_trans", (None, 1, 3))[:, 0]
    betas = mean_betas(need(data, "pred_shape", path), path, "pred_shape", 10)
    length = same_length(path, {"pred_rotmat": rot, "pred_trans": trans})
    frames = frame_index(need(data, "frame", path), path, "frame", length)
    cam_r, cam_t = _camera(path.parent.parent / CAMERA_FILE, frames)
    root, body = from_rotmats(rot[:, 0], rot[:, 1:], path, "pred_rotmat")
    notes = ["SLAM world's first camera taken as level"]
    return [
        Track(
            NAME,
            path,
            video_name(path),
            match.group(1),
            frames,
            root,
            body,
            trans,
            betas,
            body="smpl",
            frame="opencv",
            cam_to_world_R=cam_r,
            cam_to_world_T=cam_t,
            notes=notes,
        )
    ]


def _camera(path: Path, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The camera-to-world motion at the track's frames."""
    if not path.is_file():
        raise EstimateError(f"{path}: missing: TRAM's camera file is needed to place its tracks in the world")
    data = load_npy_dict(path)
    rot = as_array(need(data, "pred_cam_R", path), path, "pred_cam_R", (None, 3, 3))
    trans = as_array(need(data, "pred_cam_T", path), path, "pred_cam_T", (None, 3))
    same_length(path, {"pred_cam_R": rot, "pred_cam_T": trans})
    if frames.max() >= len(rot):
        raise EstimateError(f"{path}: key 'pred_cam_R' has {len(rot)} frames, but a track uses frame {frames.max()}")
    return rot[frames], trans[frames]
