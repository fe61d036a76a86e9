"""COCO-17 keypoints selected from SynthAct's 73 output joints.

Why: 2D skeleton models (pyskl/mmaction2 ``PoseDataset`` with COCO layouts)
expect the 17 COCO keypoints in COCO's order. Our 73 joints are SMPL-H's 52
plus the 21 landmarks smplx reads from fixed vertices, which include the nose,
eyes and ears, so every COCO keypoint has a counterpart:

| COCO | ours (``OUTPUT_JOINT_NAMES``) | note |
|---|---|---|
| nose, left/right eye and ear | ``nose``, ``leye``/``reye``, ``lear``/``rear`` | surface landmarks, as in COCO |
| left/right shoulder, elbow, wrist | SMPL-H ``left_shoulder`` ... ``right_wrist`` | joint centres (inside the body) |
| left/right hip, knee, ankle | SMPL-H ``left_hip`` ... ``right_ankle`` | joint centres (inside the body) |

"Left" is the subject's left in both. The head points are on the surface,
the limb points are rotation centres: a model fitted to COCO annotations
sees slightly narrower hips and shoulders (SMPL's hips sit a few cm inside and
below COCO's annotated hips).
"""

from __future__ import annotations

import numpy as np

from synthact.body.skeleton import OUTPUT_JOINT_NAMES

COCO17_NAMES = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip  # a table, in rows as its source has them

_OURS = {"nose": "nose", "left_eye": "leye", "right_eye": "reye", "left_ear": "lear", "right_ear": "rear"}

COCO17_FROM_OUTPUT = np.array([OUTPUT_JOINT_NAMES.index(_OURS.get(n, n)) for n in COCO17_NAMES], dtype=np.int64)

# Limbs for drawing, as pairs of COCO-17 indices.
COCO17_EDGES = (
    (0, 1), (0, 2), (1, 3), (2, 4), (5, 6), (5, 7), (7, 9), (6, 8), (8, 10),
    (5, 11), (6, 12), (11, 12), (11, 13), (13, 15), (12, 14), (14, 16),
)  # fmt: skip  # a table, in rows as its source has them


def to_coco17(per_joint: np.ndarray) -> np.ndarray:
    """Select COCO-17 from an array whose joint axis holds the 73 output joints.

    The joint axis is the last one for per-joint scalars, (T, P, 73) -> (T, P, 17), and
    the second-to-last for vectors, (T, P, 73, C) -> (T, P, 17, C); any axes before it
    (time, persons) are kept.
    """
    per_joint = np.asarray(per_joint)
    axis = -1 if per_joint.shape[-1] == len(OUTPUT_JOINT_NAMES) else -2
    if per_joint.shape[axis] != len(OUTPUT_JOINT_NAMES):
        raise ValueError(f"expected {len(OUTPUT_JOINT_NAMES)} joints on axis {axis}, got shape {per_joint.shape}")
    return np.take(per_joint, COCO17_FROM_OUTPUT, axis=axis)
