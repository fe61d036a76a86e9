"""pyskl / mmaction2 ``PoseDataset`` pickles from clip-views.

The file is ``{"split": {name: [frame_dir, ...]}, "annotations": [ann, ...]}``
(mmaction2's ``PoseDataset`` reads ``split[<name>]``). One annotation per clip-view,
with every person of the take on pyskl's person axis M, in the source's body order
(NTU's: the order of the bodies in the ``.skeleton`` file), so a two-person NTU
sample has M = 2 as in NTU's own pickles:

- 3D: ``keypoint`` (M, T, 25, 3) float32, NTU-25 joints in camera coordinates,
  metres (the shard's ``ntu25/joints_cam``: OpenCV axes, x right, y down,
  z forward; NTU's Kinect has y up, and ``PreNormalize3D`` removes position
  and rotation anyway);
- 2D: ``keypoint`` (M, T, 17, 2) float32 COCO-17 pixels (``coco17``),
  ``keypoint_score`` (M, T, 17) float32 = 1.0 where the joint is visible
  (``keypoints_visible``) else 0.0, ``img_shape`` = ``original_shape`` = (H, W);
- a person absent in a frame (``present`` False: a gap in the source) has zeros
  there, keypoints and scores, as NTU's pickles have for a body the Kinect lost;
- ``frame_dir`` = the sample name (``sample_names.py``: NTU's own,
  ``S001C002P003R001A013``, for NTU runs, else ``<clip_id>_<view>``), ``label`` = the protocol's class
  index, ``total_frames`` = T.

Split names: the clip table's own (``train``, ``val``, and ``test`` where the
run has one), for every rig but NTU's; on NTU's three cameras (views c1, c2, c3,
the ntu preset) ``xsub_train``/``xsub_val`` (the clip's split: subjects never
cross it) and ``xview_train``/``xview_val`` (NTU's cross-view rule: cameras 2
and 3 train, camera 1 tests), the names NTU's own pickles use.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from synthact.consume.coco17 import to_coco17
from synthact.consume.exportio import write_pickle_atomic
from synthact.labels.tables import SPLIT_ORDER

NTU_XVIEW_TRAIN_VIEWS = ("c2", "c3")
NTU_XVIEW_VAL_VIEWS = ("c1",)


@dataclass(frozen=True)
class PoseItem:
    """One clip-view's place in the splits."""

    frame_dir: str
    split: str  # the clip's split: train / val / test
    view: str


def frame_dir(clip_id: str, view: str) -> str:
    return f"{clip_id}_{view}"


def _absent_as_zeros(per_person: np.ndarray, present: np.ndarray | None) -> np.ndarray:
    """(T, P, ...) -> (P, T, ...) float32, zeros where a person is absent or a value is not finite."""
    out = np.moveaxis(np.asarray(per_person, dtype=np.float32), 1, 0).copy()
    if present is not None:
        out[~np.asarray(present, dtype=bool).T] = 0.0
    out[~np.isfinite(out)] = 0.0
    return out


def annotation_3d(
    frame_dir: str, label: int, joints_cam25: np.ndarray, present: np.ndarray | None = None
) -> dict[str, Any]:
    """NTU-25 3D annotation from (T, P, 25, 3) camera-space joints in metres; ``present`` (T, P)."""
    joints = np.asarray(joints_cam25)
    if joints.ndim != 4 or joints.shape[2:] != (25, 3):
        raise ValueError(f"{frame_dir}: NTU-25 joints must be (T, P, 25, 3), got {joints.shape}")
    return {
        "frame_dir": frame_dir,
        "label": int(label),
        "total_frames": int(joints.shape[0]),
        "keypoint": _absent_as_zeros(joints, present),
    }


def annotation_2d(
    frame_dir: str,
    label: int,
    keypoints73: np.ndarray,
    visible73: np.ndarray,
    image_size_wh: Sequence[int],
    present: np.ndarray | None = None,
) -> dict[str, Any]:
    """COCO-17 2D annotation from (T, P, 73, 2) pixels, (T, P, 73) visibility and ``present`` (T, P)."""
    points = to_coco17(np.asarray(keypoints73, dtype=np.float32))
    score = to_coco17(np.asarray(visible73)).astype(np.float32)
    if points.ndim != 4 or points.shape[3] != 2 or score.shape != points.shape[:3]:
        raise ValueError(
            f"{frame_dir}: keypoints (T, P, 73, 2) and visibility (T, P, 73) expected,"
            f" got {np.shape(keypoints73)}, {np.shape(visible73)}"
        )
    width, height = (int(v) for v in image_size_wh)
    return {
        "frame_dir": frame_dir,
        "label": int(label),
        "total_frames": int(points.shape[0]),
        "keypoint": _absent_as_zeros(points, present),
        "keypoint_score": _absent_as_zeros(score, present),
        "img_shape": (height, width),
        "original_shape": (height, width),
    }


def split_table(items: Iterable[PoseItem], preset: str) -> dict[str, list[str]]:
    """The ``split`` dict for a preset (see the module docstring)."""
    items = list(items)
    if preset != "ntu":
        names = sorted({i.split for i in items}, key=lambda s: (SPLIT_ORDER.get(s, len(SPLIT_ORDER)), s))
        return {s: [i.frame_dir for i in items if i.split == s] for s in names}
    views = {i.view for i in items}
    unknown = views - set(NTU_XVIEW_TRAIN_VIEWS) - set(NTU_XVIEW_VAL_VIEWS)
    if unknown:
        raise ValueError(f"ntu preset: views {sorted(unknown)} are not NTU cameras c1/c2/c3; xview cannot be built")
    return {
        "xsub_train": [i.frame_dir for i in items if i.split == "train"],
        "xsub_val": [i.frame_dir for i in items if i.split == "val"],
        "xview_train": [i.frame_dir for i in items if i.view in NTU_XVIEW_TRAIN_VIEWS],
        "xview_val": [i.frame_dir for i in items if i.view in NTU_XVIEW_VAL_VIEWS],
    }


def write_pose_pickle(
    path: str | Path, annotations: Sequence[Mapping[str, Any]], split: Mapping[str, list[str]]
) -> Path:
    """Write the pickle atomically, after checking that every split id has an annotation."""
    names = {a["frame_dir"] for a in annotations}
    if len(names) != len(annotations):
        raise ValueError(f"{path}: duplicate frame_dir in annotations")
    for split_name, ids in split.items():
        missing = [i for i in ids if i not in names]
        if missing:
            raise ValueError(f"{path}: split {split_name} names {missing[0]} which has no annotation")
    write_pickle_atomic(path, {"split": {k: list(v) for k, v in split.items()}, "annotations": list(annotations)})
    return Path(path)
