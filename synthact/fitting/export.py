"""Write fitted motions as AMASS SMPL+H ``*_poses.npz`` files and their labels as BABEL JSON.

The fit stage's outputs are in the real formats on purpose: the standard index
then reads Synthetic NTU and Synthetic Smarthome exactly as it reads AMASS with
BABEL labels, so there is one code path from the index on.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from synthact.atomic import save_npz, write_bytes
from synthact.sources.babel import PARTNERS_KEY

if TYPE_CHECKING:  # torch and smplx load only where a motion is posed
    from synthact.body.smplh import BodyModel

LABEL_FILES = ("train.json", "val.json", "test.json")  # one per split; BABEL reads the split from the name
GROUND_PERCENTILE = 5.0  # of the per-frame lowest vertex, for one floor offset per clip
_POSE_CHUNK = 128  # frames posed at once when grounding (bounds the mesh memory)


def motion_arrays(
    poses: np.ndarray,
    trans: np.ndarray,
    betas: np.ndarray,
    gender: str,
    fps: float,
    present: np.ndarray | None = None,
) -> dict:
    """The AMASS SMPL+H G arrays of one motion (dmpls are zeros: a fit has no soft tissue).

    ``present`` (T,) bool is stored for the bodies of a several-person take (the
    optional array ``synthact.sources.amass.Motion.present`` reads); None stores none.
    """
    arrays = {
        "poses": np.asarray(poses, dtype=np.float64),
        "trans": np.asarray(trans, dtype=np.float64),
        "betas": np.asarray(betas, dtype=np.float64),
        "dmpls": np.zeros((len(poses), 8)),
        "gender": np.array(gender),
        "mocap_framerate": np.array(fps, dtype=np.float64),
    }
    return arrays if present is None else {**arrays, "present": np.asarray(present, dtype=bool)}


def write_motion(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write one ``*_poses.npz`` atomically and byte-reproducibly."""
    path.parent.mkdir(parents=True, exist_ok=True)
    save_npz(path, arrays)


def lowest_vertex_z(body: BodyModel, poses: np.ndarray, trans: np.ndarray, betas: np.ndarray) -> np.ndarray:
    """(T,) height of the body's lowest mesh vertex in each frame."""
    lows = []
    for start in range(0, len(poses), _POSE_CHUNK):
        stop = start + _POSE_CHUNK
        lows.append(body.pose(poses[start:stop], trans[start:stop], betas).vertices[..., 2].min(axis=1))
    return np.concatenate(lows).astype(np.float64)


def ground_translation(
    body: BodyModel, poses: np.ndarray, trans: np.ndarray, betas: np.ndarray, mode: str
) -> tuple[np.ndarray, float]:
    """Lift or lower the fitted body so that its soles, not its foot joints, meet the floor.

    The skeletons' floors are estimated from foot joints, which sit centimetres above
    the soles, so a fitted body stands in the floor by that much. ``sequence`` moves
    the clip by one offset (a low percentile, so a few noisy frames do not decide);
    ``per_frame`` puts every frame's lowest vertex on the floor (pelvis-centred files).

    Returns:
        The new (T, 3) translation and the mean vertical shift applied (metres).
    """
    lowest = lowest_vertex_z(body, poses, trans, betas)
    shift = lowest if mode == "per_frame" else np.full(len(lowest), np.percentile(lowest, GROUND_PERCENTILE))
    grounded = np.array(trans, dtype=np.float64)
    grounded[:, 2] -= shift
    return grounded, float(-shift.mean())


def ground_bodies(
    body: BodyModel, motions: list[tuple[np.ndarray, np.ndarray, np.ndarray]], present: list[np.ndarray], mode: str
) -> tuple[list[np.ndarray], float]:
    """``ground_translation`` for the bodies of one take: one floor under all of them.

    One body is grounded exactly as ``ground_translation`` does. Several bodies stand on
    the same floor, so they are moved by one offset: the low percentile of the lowest
    vertex over every body's present frames (placeholder poses do not count). Their
    heights relative to each other stay as the source had them.

    Args:
        motions: (poses, trans, betas) of each body.
        present: (T,) bool of each body.

    Returns:
        Each body's new (T, 3) translation, and the vertical shift applied (metres).
    """
    if len(motions) == 1:
        trans, shift = ground_translation(body, *motions[0], mode)
        return [trans], shift
    lowest = np.concatenate([lowest_vertex_z(body, *m)[p] for m, p in zip(motions, present, strict=True)])
    offset = float(np.percentile(lowest, GROUND_PERCENTILE))
    grounded = []
    for _, trans, _ in motions:
        moved = np.array(trans, dtype=np.float64)
        moved[:, 2] -= offset
        grounded.append(moved)
    return grounded, -offset


def babel_entry(
    sample: str, category: str, feat_p: str, num_frames: int, fps: float, partners: tuple[str, ...] = ()
) -> dict[str, Any]:
    """A BABEL dense entry with one sequence-level label: the sample's class over the whole clip.

    Ids are derived from the sample name, so a refit writes the same labels and the
    index gives its clips the same ids. ``partners`` are the motion files of the
    take's other bodies (``PARTNERS_KEY``); a one-person entry has no such key.
    """
    digest = hashlib.sha1(sample.encode()).hexdigest()
    label = {"act_cat": [category], "proc_label": category, "raw_label": category, "seg_id": f"{sample}-{digest[:8]}"}
    entry = {
        "babel_sid": sample,
        "dur": round(num_frames / fps, 6),
        "feat_p": feat_p,
        "url": "",
        "seq_ann": {"anntr_id": "synthact-fit", "babel_lid": f"{sample}-seq", "mul_act": False, "labels": [label]},
        "frame_ann": None,
    }
    return {**entry, PARTNERS_KEY: list(partners)} if partners else entry


def write_json(path: Path, data: Any) -> None:
    """JSON, written to a temporary name and renamed (a reader never sees half a file)."""
    write_bytes(path, (json.dumps(data, indent=1, sort_keys=True) + "\n").encode("utf-8"))


def write_label_files(
    labels_dir: Path, splits: Mapping[str, Iterable[str]], entries: dict[str, dict[str, Any]]
) -> list[Path]:
    """``train.json``, ``val.json``, ``test.json``: the entries of each split's samples.

    Every file is written, empty (``{}``) when its split has no sample (NTU has no
    validation split), so the index can always be pointed at all three.
    """
    written = []
    for name in LABEL_FILES:
        split = name.removesuffix(".json")
        path = labels_dir / name
        write_json(path, {sample: entries[sample] for sample in sorted(splits.get(split, ())) if sample in entries})
        written.append(path)
    return written


def file_digest(path: Path) -> str:
    """sha256 of a file (the body model): fits made with another model are not reused."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
