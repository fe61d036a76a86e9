"""SLAHMR (vye16/slahmr): ``<seq>_<iteration>_world_results.npz`` (``np.savez``).

``root_orient`` (B, T, 3), ``pose_body`` (B, T, 63), ``trans`` (B, T, 3) and ``betas``
(B, 16) of **SMPL-H** for B people in the SLAM world at 30 fps; optional
``floor_plane`` (B, 3), the floor's normal times its offset (SLAHMR's
``parse_floor_plane``), whose direction is up; optional ``track_mask`` (B, T).
Without a floor the world is the first camera's (y down), taken as level. Of
several iterations of one sequence the highest is read.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from synthact.fitting.estimates.loading import load_npz
from synthact.fitting.estimates.records import EstimateError, Track, as_array, empty_track, need
from synthact.fitting.rotations import axis_angle_to_matrix_np

NAME = "slahmr"
PATTERN = re.compile(r"^(?P<seq>.+)_(?P<iteration>\d+)_world_results\.npz$")
FPS = 30.0


def video_name(path: Path) -> str:
    match = PATTERN.match(path.name)
    return match.group("seq") if match else path.stem


def iteration(path: Path) -> int:
    match = PATTERN.match(path.name)
    return int(match.group("iteration")) if match else -1


def read(path: Path) -> list[Track]:
    data = load_npz(path)
    root = as_array(need(data, "root_orient", path), path, "root_orient", (None, None, 3))
    body = as_array(need(data, "pose_body", path), path, "pose_body", (root.shape[0], root.shape[1], 63))
    trans = as_array(need(data, "trans", path), path, "trans", root.shape)
    betas = as_array(need(data, "betas", path), path, "betas", (root.shape[0], None))
    floor = as_array(data["floor_plane"], path, "floor_plane", (root.shape[0], 3)) if "floor_plane" in data else None
    mask = _mask(data, path, root.shape[:2])
    tracks = []
    for b in range(root.shape[0]):
        frames = np.flatnonzero(mask[b])
        if not len(frames):
            tracks.append(
                empty_track(NAME, path, video_name(path), str(b), f"{path}: key 'track_mask': person {b} has no frame")
            )
            continue
        up = None if floor is None else floor[b] / max(np.linalg.norm(floor[b]), 1e-9)
        tracks.append(
            Track(
                NAME,
                path,
                video_name(path),
                str(b),
                frames,
                axis_angle_to_matrix_np(root[b, frames]),
                body[b, frames].reshape(-1, 21, 3),
                trans[b, frames],
                betas[b],
                body="smplh",
                frame="opencv" if up is None else "custom",
                up=up,
                fps=FPS,
            )
        )
    if not any(len(track) for track in tracks):
        raise EstimateError(f"{path}: key 'track_mask' marks no frame of any person")
    return tracks


def _mask(data: dict, path: Path, shape: tuple[int, ...]) -> np.ndarray:
    if "track_mask" not in data:
        return np.ones(shape, dtype=bool)
    mask = np.asarray(data["track_mask"])
    if mask.shape != shape:
        raise EstimateError(f"{path}: key 'track_mask' has shape {mask.shape}, expected {shape}")
    return mask.astype(bool)
