"""A two-person shard in format 4, made with h5py from a one-person shard: format 3, or
format 4 with P = 1.

It mirrors docs/FORMAT.md's format 4 (person axis P after T in per-frame datasets,
first in per-take ones; ``instances``; ``present``; ``num_persons`` and ``persons``;
``format_version`` 4) until a rendered two-person run is part of the suite. Person 0
is the shard's own body; person 1 is a copy of it moved ``OFFSET_M`` along world +X,
its camera joints, 2D keypoints, NTU-25 joints and box computed from that move with
each frame's R and K, so every view sees one consistent second body. Person 1 is
absent in ``ABSENT_FRAMES``: NaN joints and keypoints, not visible, NaN box, no
pixel of ``instances``, ``present`` False. Its ``instances`` pixels are person 0's
mask moved by person 1's mean pixel shift, behind person 0 (person 0 is front-most),
and ``mask`` becomes the union. RGB, depth, normals and ``parts`` stay person 0's:
nothing is rendered here, so they show one body.
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np

from synthact.codecs import storage
from synthact.shard_format import ENCODING_ATTRIBUTE, ENCODINGS, TAKES_GROUP, Codec
from synthact.sources.ntu import SMPLH_TO_NTU25

OFFSET_M = np.array([0.8, 0.0, 0.0])  # person 1 = person 0 moved this far (world, metres)
ABSENT_FRAMES = (1, 2, 3)  # take frames where person 1 is absent
PERSON_FRAME_DATASETS = ("joints_world", "ntu25/joints_world", "smplh/poses", "smplh/trans")
PERSON_ONCE_DATASETS = ("smplh/betas", "smplh/betas_used", "smplh/shape_noise")


def to_two_persons(path: Path) -> list[str]:
    """Rewrite the shard at ``path`` in place as described above; returns its take ids."""
    with h5py.File(path, "r+") as f:
        version = int(f.attrs["format_version"])
        if version not in (3, 4):  # 4 adds to 3's layout (RGB checksums included)
            raise ValueError(f"{path}: format_version {version}, not 3 or 4")
        take_ids = list(f[TAKES_GROUP])
        for take_id in take_ids:
            take = f[f"{TAKES_GROUP}/{take_id}"]
            if int(take.attrs.get("num_persons", 1)) != 1:
                raise ValueError(f"{path}: take {take_id} holds {take.attrs['num_persons']} persons, not 1")
            _rewrite_take(take, stacked=version >= 4)
        f.attrs["format_version"] = 4
    return take_ids


def present_of(num_frames: int) -> np.ndarray:
    """(T, 2) bool: person 0 in every frame, person 1 absent in ``ABSENT_FRAMES``."""
    present = np.ones((num_frames, 2), dtype=bool)
    present[[f for f in ABSENT_FRAMES if f < num_frames], 1] = False
    return present


def _person0(dataset: h5py.Dataset, stacked: bool, per_frame: bool = True) -> np.ndarray:
    """The one body's array without a person axis (format 4 stores P = 1 after T, or first)."""
    data = dataset[()]
    if not stacked:
        return data
    return data[:, 0] if per_frame else data[0]


def _replace(group: h5py.Group, name: str, data: np.ndarray) -> None:
    if name in group:
        del group[name]
    chunks = (1, *data.shape[1:]) if data.ndim > 1 else None
    group.create_dataset(name, data=data, compression="gzip", chunks=chunks)


def _two(person0: np.ndarray, person1: np.ndarray, present: np.ndarray) -> np.ndarray:
    """(T, ...) and (T, ...) -> (T, 2, ...), person 1 blanked (NaN / False) where absent."""
    person1 = person1.copy()
    person1[~present[:, 1]] = False if person1.dtype == np.bool_ else np.nan
    return np.stack([person0, person1], axis=1)


def _rewrite_take(take: h5py.Group, stacked: bool) -> None:
    num_frames = len(take["frames"])
    present = present_of(num_frames)
    for name in PERSON_FRAME_DATASETS:
        person0 = _person0(take[name], stacked)
        moved = person0.copy()
        if name != "smplh/poses":  # positions move; the pose (joint rotations) does not
            moved = moved + OFFSET_M.astype(moved.dtype)
        _replace(take, name, _two(person0, moved, present))
    for name in PERSON_ONCE_DATASETS:
        _replace(take, name, np.stack([_person0(take[name], stacked, per_frame=False)] * 2))
    _replace(take, "present", present)
    source = str(take.attrs.get("source", ""))
    first = json.loads(take.attrs["persons"])[0] if "persons" in take.attrs else {}
    persons = [
        {"source": source, "gender": str(take.attrs.get("gender", "neutral")), **first},
        {"source": "partner/" + source, "gender": "female"},
    ]
    take.attrs.update(num_persons=2, persons=json.dumps(persons))
    for view in take["views"].values():
        _rewrite_view(view, present, stacked)


def _rewrite_view(view: h5py.Group, present: np.ndarray, stacked: bool) -> None:
    rotations, intrinsics = view["R"][()], view["K"][()]
    shift = np.einsum("tij,j->ti", rotations, OFFSET_M)[:, None, :]  # the world move in camera axes, per frame
    joints0 = _person0(view["joints_cam"], stacked)
    joints1 = joints0 + shift.astype(joints0.dtype)
    points0, points1 = _person0(view["keypoints_2d"], stacked), _project(joints1, intrinsics)
    visible0 = _person0(view["keypoints_visible"], stacked)
    for name, person0, person1 in (
        ("joints_cam", joints0, joints1),
        ("keypoints_2d", points0, points1),
        ("keypoints_visible", visible0, visible0),
        ("ntu25/joints_cam", _person0(view["ntu25/joints_cam"], stacked), joints1[:, SMPLH_TO_NTU25]),
        ("ntu25/keypoints_2d", _person0(view["ntu25/keypoints_2d"], stacked), points1[:, SMPLH_TO_NTU25]),
        ("ntu25/keypoints_visible", _person0(view["ntu25/keypoints_visible"], stacked), visible0[:, SMPLH_TO_NTU25]),
        ("bbox", _person0(view["bbox"], stacked), _box(points1)),
    ):
        _replace(view, name, _two(person0, person1, present))
    _write_instances(view, points1 - points0, present)


def _project(joints_cam: np.ndarray, intrinsics: np.ndarray) -> np.ndarray:
    pixels = np.einsum("tij,tkj->tki", intrinsics, joints_cam.astype(np.float64))
    return (pixels[..., :2] / pixels[..., 2:3]).astype(np.float32)


def _box(points: np.ndarray) -> np.ndarray:
    return np.concatenate([points.min(axis=1), points.max(axis=1)], axis=1).astype(np.float32)


def _shifted(image: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """``image`` moved by (dy, dx) pixels, zeros where it moved in from outside."""
    out = np.zeros_like(image)
    h, w = image.shape
    if abs(dy) < h and abs(dx) < w:
        out[max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = image[
            max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)
        ]
    return out


def _write_instances(view: h5py.Group, pixel_shift: np.ndarray, present: np.ndarray) -> None:
    """``instances`` 0 / 1 / 2 and the union ``mask``, stored as the merge stores label maps."""
    mask = view["mask"][()]
    instances = mask.astype(np.uint8)
    for t in np.flatnonzero(present[:, 1]):
        dx, dy = np.rint(np.nanmean(pixel_shift[t], axis=0)).astype(int)
        moved = _shifted(mask[t], int(dy), int(dx))
        instances[t][(moved > 0) & (instances[t] == 0)] = 2
    for name, data in (("instances", instances), ("mask", (instances > 0).astype(np.uint8))):
        if name in view:
            del view[name]
        view.create_dataset(name, data=data, **storage.image_options(data.shape, data.dtype, "gzip"))
        view[name].attrs[ENCODING_ATTRIBUTE] = ENCODINGS[Codec.LABELS]
