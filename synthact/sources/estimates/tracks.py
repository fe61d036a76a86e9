"""Which tracks become motions, and how their gaps are filled: one place, with a report.

Estimators lose people for a few frames (occlusion, a missed detection) and
tracks then have holes in their ``frame_ids``. A hole up to ``max_gap_s`` is
filled by interpolation (rotations along the shortest arc, translation
linearly); a longer one splits the track and the longest piece is kept. Every
gap, filled or cut, is reported with its frames and length.

``tracks: longest`` keeps each video's longest track (most frames after the cuts);
``all`` keeps every track, each as its own actor (its own motion file).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from synthact.fitting.rotations import axis_angle_to_matrix_np, matrix_to_axis_angle_np, matrix_to_quaternion_np
from synthact.sources.estimates.conversion import continuous_quaternions, quaternion_to_matrix
from synthact.sources.estimates.records import Track

TRACK_MODES = ("longest", "all")


@dataclass(frozen=True)
class Gap:
    """Missing frames ``start``..``stop - 1`` of a track (video frame numbers)."""

    track: str
    start: int
    stop: int
    action: str  # "filled" or "cut"

    def report(self, fps: float) -> dict[str, Any]:
        return {"track": self.track, "first_missing": self.start, "last_missing": self.stop - 1,
                "frames": self.stop - self.start, "seconds": round((self.stop - self.start) / fps, 4),
                "action": self.action}  # fmt: skip


def find_gaps(frame_ids: np.ndarray) -> list[tuple[int, int]]:
    """(first missing, first present again) of every hole in increasing ``frame_ids``."""
    jumps = np.flatnonzero(np.diff(frame_ids) > 1)
    return [(int(frame_ids[i] + 1), int(frame_ids[i + 1])) for i in jumps]


def close_gaps(track: Track, max_gap_frames: int) -> tuple[Track, list[Gap]]:
    """Fill holes up to ``max_gap_frames``; at longer ones keep the longest piece."""
    holes = find_gaps(track.frame_ids)
    gaps = []
    cuts = [int(np.searchsorted(track.frame_ids, stop)) for start, stop in holes if stop - start > max_gap_frames]
    pieces = np.split(np.arange(len(track)), cuts)
    keep = max(pieces, key=len)
    lo, hi = int(track.frame_ids[keep[0]]), int(track.frame_ids[keep[-1]])
    for start, stop in holes:
        inside = lo < start and stop <= hi
        gaps.append(Gap(track.track_id, start, stop, "filled" if inside else "cut"))
    piece = _subset(track, keep)
    return (_interpolate(piece) if len(find_gaps(piece.frame_ids)) else piece), gaps


def _subset(track: Track, rows: np.ndarray) -> Track:
    pick = lambda a: None if a is None else a[rows]  # noqa: E731
    return replace(track, frame_ids=track.frame_ids[rows], root_rotmat=track.root_rotmat[rows],
                   body_pose=track.body_pose[rows], trans=track.trans[rows],
                   cam_to_world_R=pick(track.cam_to_world_R), cam_to_world_T=pick(track.cam_to_world_T))  # fmt: skip


def _interpolate(track: Track) -> Track:
    """Every frame from the first to the last, missing ones interpolated."""
    known = track.frame_ids
    full = np.arange(known[0], known[-1] + 1)
    body = matrix_to_axis_angle_np(_nlerp_rotations(full, known, axis_angle_to_matrix_np(track.body_pose)))
    cam_r = None if track.cam_to_world_R is None else _nlerp_rotations(full, known, track.cam_to_world_R)
    cam_t = None if track.cam_to_world_T is None else _lerp(full, known, track.cam_to_world_T)
    root = _nlerp_rotations(full, known, track.root_rotmat)
    trans = _lerp(full, known, track.trans)
    return replace(track, frame_ids=full, root_rotmat=root, body_pose=body, trans=trans,
                   cam_to_world_R=cam_r, cam_to_world_T=cam_t)  # fmt: skip


def _lerp(full: np.ndarray, known: np.ndarray, values: np.ndarray) -> np.ndarray:
    """(T_known, ...) values at ``known`` frames, linearly interpolated at ``full`` frames."""
    flat = values.reshape(len(values), -1)
    out = np.stack([np.interp(full, known, column) for column in flat.T], axis=1)
    return out.reshape((len(full),) + values.shape[1:])


def _nlerp_rotations(full: np.ndarray, known: np.ndarray, mats: np.ndarray) -> np.ndarray:
    """Rotations at ``full`` frames by normalised quaternion interpolation (shortest arc)."""
    q = _lerp(full, known, continuous_quaternions(matrix_to_quaternion_np(mats)))
    return quaternion_to_matrix(q / np.linalg.norm(q, axis=-1, keepdims=True))


def choose_tracks(tracks: list[Track], mode: str, max_gap_frames: int) -> tuple[list[Track], dict[str, Any]]:
    """The tracks of one video to convert, their gaps closed, and a report of the choice.

    Returns:
        The kept tracks (longest first) and ``{"mode", "kept", "dropped", "gaps"}``
        (gap entries still in frames; the stage adds seconds).
    """
    closed = [close_gaps(t, max_gap_frames) for t in tracks]
    order = sorted(range(len(closed)), key=lambda i: (-len(closed[i][0]), _id_key(closed[i][0].track_id)))
    kept = order if mode == "all" else order[:1]
    report = {
        "mode": mode,
        "kept": [closed[i][0].track_id for i in kept],
        "dropped": [{"track": closed[i][0].track_id, "frames": len(closed[i][0])} for i in order if i not in kept],
        "gaps": [g for i in kept for g in closed[i][1]],
    }
    return [closed[i][0] for i in kept], report


def _id_key(track_id: str) -> tuple[int, str]:
    return (int(track_id), "") if track_id.isdigit() else (1 << 62, track_id)
