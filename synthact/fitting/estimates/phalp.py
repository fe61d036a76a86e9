"""4D-Humans / PHALP (shubham-goel/4D-Humans, brjathu/PHALP): ``<output_dir>/results/demo_<video>.pkl``.

A joblib dump **per frame**: ``{frame_name: {key: [one entry per detection]}}``,
frames in video order (their ``time`` entry, else their name). Per detection:
``tid`` (the track), ``smpl`` with ``global_orient`` (1, 3, 3), ``body_pose``
(23, 3, 3) rotation matrices and ``betas`` (10,), and ``camera``, the (3,)
translation of the SMPL body in the camera frame (x right, y down), obtained by
HMR 2.0 from its crop with a fixed focal length, not the video camera's: its depth
(and so the path) is off by the ratio of the two, an approximation. Detections
are regrouped by ``tid`` into one track per person; frames where a person is
not detected become gaps.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from synthact.fitting.estimates.loading import load_joblib
from synthact.fitting.estimates.records import EstimateError, Track, as_array, need
from synthact.fitting.estimates.smpl_pose import from_rotmats

NAME = "phalp"
FOLDER = "results"


DEFAULT_PREFIX = "demo_"  # PHALP writes results/<track_dataset>_<video>.pkl; track_dataset defaults to "demo"


def video_name(path: Path) -> str:
    """The video's name: the file stem without PHALP's default ``demo_`` prefix."""
    return path.stem.removeprefix(DEFAULT_PREFIX)


def read(path: Path) -> list[Track]:
    data = load_joblib(path)
    if not isinstance(data, dict) or not data:
        raise EstimateError(f"{path}: expected a non-empty dict of frames, got {type(data).__name__}")
    rows: dict[str, list[tuple[int, Any, Any, Any]]] = defaultdict(list)
    for index, name in enumerate(_frame_order(data)):
        frame = data[name]
        tids = need(frame, "tid", path, f"frame {name}")
        smpls = need(frame, "smpl", path, f"frame {name}")
        cams = need(frame, "camera", path, f"frame {name}")
        if not (len(tids) == len(smpls) == len(cams)):
            raise EstimateError(f"{path}: frame {name}: 'tid', 'smpl' and 'camera' have different lengths")
        for tid, smpl, cam in zip(tids, smpls, cams, strict=True):
            rows[str(tid)].append((index, name, smpl, cam))
    if not rows:
        raise EstimateError(f"{path}: no detection in any frame")
    return [_track(path, tid, entries) for tid, entries in rows.items()]


def _frame_order(data: dict) -> list:
    """Frame keys in video order: by their ``time`` entry when every frame has one."""
    names = list(data)
    times: list[Any] = [frame.get("time") if isinstance(frame, dict) else None for frame in data.values()]
    if all(isinstance(t, (int, float, np.integer, np.floating)) for t in times):
        return [name for _, name in sorted(zip(times, names, strict=True), key=lambda pair: pair[0])]
    return sorted(names, key=str)


def _track(path: Path, tid: str, entries: list) -> Track:
    roots, bodies, trans, betas, frames = [], [], [], [], []
    for index, name, smpl, cam in entries:
        where = f"frame {name}, tid {tid}, smpl"
        key = f"{name}/smpl"
        roots.append(as_array(need(smpl, "global_orient", path, where), path, f"{key}/global_orient", (1, 3, 3))[0])
        bodies.append(as_array(need(smpl, "body_pose", path, where), path, f"{key}/body_pose", (23, 3, 3)))
        betas.append(as_array(need(smpl, "betas", path, where), path, f"{key}/betas", (10,)))
        trans.append(as_array(cam, path, f"{name}/camera", (3,)))
        frames.append(index)
    root, body = from_rotmats(np.stack(roots), np.stack(bodies), path, f"tid {tid}/smpl")
    notes = ["camera taken as level", "depth from HMR 2.0's fixed-focal crop camera"]
    return Track(
        NAME,
        path,
        video_name(path),
        tid,
        np.asarray(frames),
        root,
        body,
        np.stack(trans),
        np.mean(betas, axis=0),
        body="smpl",
        frame="opencv",
        notes=notes,
    )
