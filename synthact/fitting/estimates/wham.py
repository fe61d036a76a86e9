"""WHAM (yohanshin/WHAM): ``<output_pth>/<video>/wham_output.pkl``, joblib, ``{subject_id: dict}``.

demo.py stores per subject ``pose_world`` (T, 72) and ``trans_world`` (T, 3) in a
gravity-aligned Y-up world (``return_y_up=True``), ``betas`` (T, 10), ``frame_ids``,
and camera-frame ``pose``/``trans``/``verts`` that we do not need. Its own viewer
poses SMPL with ``transl=trans_world``, so pelvis = J0(betas) + trans_world.
"""

from __future__ import annotations

from pathlib import Path

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

NAME = "wham"
FILE_NAME = "wham_output.pkl"


def video_name(path: Path) -> str:
    return path.parent.name


def read(path: Path) -> list[Track]:
    """Every subject of one WHAM output file."""
    data = load_joblib(path)
    if not isinstance(data, dict) or not data:
        raise EstimateError(f"{path}: expected a non-empty dict of subjects, got {type(data).__name__}")
    subjects = ((str(sid), value) for sid, value in data.items())
    return each_track(NAME, path, video_name(path), subjects, lambda sid, value: _subject(path, sid, value))


def _subject(path: Path, sid: str, value: dict) -> Track:
    where = f"subject {sid}"
    pose = as_array(need(value, "pose_world", path, where), path, f"{sid}/pose_world", (None, 72))
    trans = as_array(need(value, "trans_world", path, where), path, f"{sid}/trans_world", (None, 3))
    betas = mean_betas(need(value, "betas", path, where), path, f"{sid}/betas", 10)
    length = same_length(path, {f"{sid}/pose_world": pose, f"{sid}/trans_world": trans})
    frames = frame_index(need(value, "frame_ids", path, where), path, f"{sid}/frame_ids", length)
    root, body = from_pose72(pose)
    return Track(NAME, path, video_name(path), sid, frames, root, body, trans, betas, body="smpl", frame="y_up")
