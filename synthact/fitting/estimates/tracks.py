"""Which tracks become motions, and how their gaps are filled: one place, with a report.

Estimators lose people for a few frames (occlusion, a missed detection) and
tracks then have holes in their ``frame_ids``. A hole up to ``max_gap_s`` is
filled by interpolation (rotations along the shortest arc, translation
linearly); a longer one splits the track and the longest piece is kept. Every
gap, filled or cut, is reported with its frames and length.

``tracks: longest`` keeps each video's longest track (most frames after the cuts);
``all`` keeps every track, each as its own actor (its own motion file); ``stitch``
starts from the longest track and joins, before and after it, tracks that do not
overlap it in time, follow within ``max_gap_s`` and begin within ``STITCH_DISTANCE_M``
of where it ended (a tracker that gave one person a new id after an occlusion).
The joins are gaps like any other: reported and interpolated.

``together`` keeps every track as one body of a single take per video. The bodies
are ordered by their first frame, then by track id, and all span the video's whole
tracked range (the first frame of any track to the last of any). Nothing is cut: a
gap up to ``max_gap_s`` is filled as in the other modes, and the frames of a longer
gap, and those before a track starts or after it ends, are absent (``present``
False; the pose there is a placeholder, interpolated or held, never shown).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from synthact.fitting.estimates.conversion import continuous_quaternions, quaternion_to_matrix
from synthact.fitting.estimates.records import EstimateError, Track
from synthact.fitting.rotations import axis_angle_to_matrix_np, matrix_to_axis_angle_np, matrix_to_quaternion_np

TRACK_MODES = ("longest", "all", "stitch", "together")
STITCH_DISTANCE_M = 0.5  # how far a track may begin from where the previous one ended, to be joined


@dataclass(frozen=True)
class Gap:
    """Missing frames ``start``..``stop - 1`` of a track (video frame numbers)."""

    track: str
    start: int
    stop: int
    action: str  # "filled", "cut" or "absent" (kept as frames without the person: ``together``)

    def report(self, fps: float) -> dict[str, Any]:
        return {
            "track": self.track,
            "first_missing": self.start,
            "last_missing": self.stop - 1,
            "frames": self.stop - self.start,
            "seconds": round((self.stop - self.start) / fps, 4),
            "action": self.action,
        }


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
    def pick(a: np.ndarray | None) -> np.ndarray | None:
        return None if a is None else a[rows]

    return replace(
        track,
        frame_ids=track.frame_ids[rows],
        root_rotmat=track.root_rotmat[rows],
        body_pose=track.body_pose[rows],
        trans=track.trans[rows],
        cam_to_world_R=pick(track.cam_to_world_R),
        cam_to_world_T=pick(track.cam_to_world_T),
    )


def _interpolate(track: Track) -> Track:
    """Every frame from the first to the last, missing ones interpolated."""
    known = track.frame_ids
    full = np.arange(known[0], known[-1] + 1)
    body = matrix_to_axis_angle_np(_nlerp_rotations(full, known, axis_angle_to_matrix_np(track.body_pose)))
    cam_r = None if track.cam_to_world_R is None else _nlerp_rotations(full, known, track.cam_to_world_R)
    cam_t = None if track.cam_to_world_T is None else _lerp(full, known, track.cam_to_world_T)
    root = _nlerp_rotations(full, known, track.root_rotmat)
    trans = _lerp(full, known, track.trans)
    return replace(
        track, frame_ids=full, root_rotmat=root, body_pose=body, trans=trans, cam_to_world_R=cam_r, cam_to_world_T=cam_t
    )


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
        (gap entries still in frames; the stage adds seconds), plus ``"stitched"``
        (the ids joined, in time order) for ``stitch``.
    """
    if mode not in TRACK_MODES:
        raise ValueError(f"motion.estimates.tracks: unknown mode {mode!r}; choose one of {TRACK_MODES}")
    if mode == "together":
        return together(tracks, max_gap_frames)
    extra: dict[str, Any] = {}
    if mode == "stitch" and len(tracks) > 1:
        joined, ids = stitch(tracks, max_gap_frames)
        extra["stitched"] = ids
        tracks = [joined] + [t for t in tracks if t.track_id not in ids]
    closed = [close_gaps(t, max_gap_frames) for t in tracks]
    order = sorted(range(len(closed)), key=lambda i: (-len(closed[i][0]), _id_key(closed[i][0].track_id)))
    kept = order if mode == "all" else order[:1]
    report = {
        "mode": mode,
        "kept": [closed[i][0].track_id for i in kept],
        "dropped": [{"track": closed[i][0].track_id, "frames": len(closed[i][0])} for i in order if i not in kept],
        "gaps": [g for i in kept for g in closed[i][1]],
        **extra,
    }
    return [closed[i][0] for i in kept], report


def together(tracks: list[Track], max_gap_frames: int) -> tuple[list[Track], dict[str, Any]]:
    """Every track over the video's whole tracked range, in body order (first frame, then id).

    Returns:
        The tracks, each with ``present``, and ``{"mode", "kept", "dropped", "gaps",
        "frames"}`` where ``frames`` is the range's first and last video frame.
    """
    ordered = sorted(tracks, key=lambda t: (int(t.frame_ids[0]), _id_key(t.track_id)))
    first = min(int(t.frame_ids[0]) for t in ordered)
    last = max(int(t.frame_ids[-1]) for t in ordered)
    spread = [spread_over(t, first, last, max_gap_frames) for t in ordered]
    report = {
        "mode": "together",
        "kept": [t.track_id for t in ordered],
        "dropped": [],
        "gaps": [g for _, gaps in spread for g in gaps],
        "frames": [first, last],
    }
    return [t for t, _ in spread], report


def spread_over(track: Track, first: int, last: int, max_gap_frames: int) -> tuple[Track, list[Gap]]:
    """``track`` on every video frame ``first``..``last``: short gaps filled, the rest absent.

    Rows where the person is absent hold placeholders: interpolated across a long gap,
    the first or last pose held before and after the track.
    """
    holes = find_gaps(track.frame_ids)
    gaps = [Gap(track.track_id, a, b, "filled" if b - a <= max_gap_frames else "absent") for a, b in holes]
    full = _interpolate(track) if holes else track
    start, stop = int(full.frame_ids[0]), int(full.frame_ids[-1])
    present = np.zeros(last - first + 1, dtype=bool)
    present[start - first : stop - first + 1] = True
    for gap in gaps:
        if gap.action == "absent":
            present[gap.start - first : gap.stop - first] = False
    return replace(_hold_ends(full, start - first, last - stop), present=present), gaps


def _hold_ends(track: Track, before: int, after: int) -> Track:
    """``track`` with its first row repeated ``before`` times ahead and its last ``after`` times behind."""

    def hold(a: np.ndarray) -> np.ndarray:
        return np.concatenate([np.repeat(a[:1], before, axis=0), a, np.repeat(a[-1:], after, axis=0)])

    frame_ids = np.arange(int(track.frame_ids[0]) - before, int(track.frame_ids[-1]) + after + 1)
    return replace(
        track,
        frame_ids=frame_ids,
        root_rotmat=hold(track.root_rotmat),
        body_pose=hold(track.body_pose),
        trans=hold(track.trans),
        cam_to_world_R=None if track.cam_to_world_R is None else hold(track.cam_to_world_R),
        cam_to_world_T=None if track.cam_to_world_T is None else hold(track.cam_to_world_T),
    )


def stitch(tracks: list[Track], max_gap_frames: int) -> tuple[Track, list[str]]:
    """The longest track joined with the tracks that continue it before and after.

    Returns:
        One track (its id is the joined ids, ``+``-separated) and the joined ids in time order.
    """
    chain = [max(tracks, key=lambda t: (len(t), -_id_key(t.track_id)[0]))]
    rest = [t for t in tracks if t is not chain[0]]
    while True:
        after = [t for t in rest if _continues(chain[-1], t, max_gap_frames)]
        before = [t for t in rest if _continues(t, chain[0], max_gap_frames)]
        if after:
            chain.append(min(after, key=lambda t: t.frame_ids[0]))
        elif before:
            chain.insert(0, max(before, key=lambda t: t.frame_ids[-1]))
        else:
            break
        rest = [t for t in rest if all(t is not c for c in chain)]
    ids = [t.track_id for t in chain]
    return (_concatenate(chain, "+".join(ids)) if len(chain) > 1 else chain[0]), ids


def _position(track: Track, row: int) -> np.ndarray:
    """Where the body is at ``row``, in the track's world (after a camera-to-world motion)."""
    rotation, translation = track.cam_to_world_R, track.cam_to_world_T
    if rotation is None and translation is None:
        return track.trans[row]
    if rotation is None or translation is None:
        raise EstimateError(f"{track.file}: track {track.track_id} has only one of cam_to_world_R and cam_to_world_T")
    return rotation[row] @ track.trans[row] + translation[row]


def _continues(first: Track, second: Track, max_gap_frames: int) -> bool:
    """``second`` starts after ``first`` ends, soon enough and near enough to be the same person."""
    gap = int(second.frame_ids[0]) - int(first.frame_ids[-1]) - 1
    if gap < 0 or gap > max_gap_frames:
        return False
    return float(np.linalg.norm(_position(second, 0) - _position(first, -1))) <= STITCH_DISTANCE_M


def _concatenate(chain: list[Track], track_id: str) -> Track:
    def join(name: str) -> np.ndarray:
        return np.concatenate([getattr(t, name) for t in chain])

    def join_optional(name: str) -> np.ndarray | None:
        return None if getattr(chain[0], name) is None else join(name)

    frames = sum(len(t) for t in chain)
    betas = np.asarray(sum(len(t) * t.betas for t in chain) / frames)  # one person, one shape: frame-weighted mean
    return replace(
        chain[0],
        track_id=track_id,
        frame_ids=join("frame_ids"),
        root_rotmat=join("root_rotmat"),
        body_pose=join("body_pose"),
        trans=join("trans"),
        betas=betas,
        cam_to_world_R=join_optional("cam_to_world_R"),
        cam_to_world_T=join_optional("cam_to_world_T"),
    )


def _id_key(track_id: str) -> tuple[int, str]:
    return (int(track_id), "") if track_id.isdigit() else (1 << 62, track_id)
