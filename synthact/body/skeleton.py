"""The SMPL-H skeleton: joint names, parents, body parts and the demo rest pose.

This module is the single source of truth for joint conventions shared by the
body model, the motion sources, the renderer and the shard writer.

Conventions (the same as SMPL-H and AMASS):
- Template (rest) space is Y-up, the body faces +Z, and its left side is +X.
- Units are metres.
- Joint order is SMPL-H's 52 joints; hand joints follow MANO's order
  (index, middle, pinky, ring, thumb), three joints per finger.
- smplx's forward() appends 21 landmark points taken from fixed vertex ids
  (``LANDMARK_NAMES``), giving 73 output joints.
"""

from __future__ import annotations

import numpy as np

FINGERS = ("index", "middle", "pinky", "ring", "thumb")

BODY_JOINT_NAMES = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee",
    "spine2", "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot",
    "neck", "left_collar", "right_collar", "head", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
)  # fmt: skip  # a table, in rows as its source has them

HAND_JOINT_NAMES = tuple(f"{side}_{finger}{k}" for side in ("left", "right") for finger in FINGERS for k in (1, 2, 3))

JOINT_NAMES = BODY_JOINT_NAMES + HAND_JOINT_NAMES
NUM_JOINTS = len(JOINT_NAMES)  # 52

PARENTS = np.array(
    [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19,
     20, 22, 23, 20, 25, 26, 20, 28, 29, 20, 31, 32, 20, 34, 35,
     21, 37, 38, 21, 40, 41, 21, 43, 44, 21, 46, 47, 21, 49, 50],
    dtype=np.int64,
)  # fmt: skip  # a table, in rows as its source has them

# The 21 extra points smplx's VertexJointSelector appends after the 52 joints,
# in its order: face, feet, then finger tips (left hand first).
LANDMARK_NAMES = (
    "nose", "reye", "leye", "rear", "lear",
    "LBigToe", "LSmallToe", "LHeel", "RBigToe", "RSmallToe", "RHeel",
    "lthumb", "lindex", "lmiddle", "lring", "lpinky",
    "rthumb", "rindex", "rmiddle", "rring", "rpinky",
)  # fmt: skip  # a table, in rows as its source has them

# Vertex ids smplx reads for those landmarks (smplx/vertex_ids.py, 'smplh').
LANDMARK_VERTEX_IDS = {
    "nose": 332, "reye": 6260, "leye": 2800, "rear": 4071, "lear": 583,
    "rthumb": 6191, "rindex": 5782, "rmiddle": 5905, "rring": 6016, "rpinky": 6133,
    "lthumb": 2746, "lindex": 2319, "lmiddle": 2445, "lring": 2556, "lpinky": 2673,
    "LBigToe": 3216, "LSmallToe": 3226, "LHeel": 3387,
    "RBigToe": 6617, "RSmallToe": 6624, "RHeel": 6787,
}  # fmt: skip  # a table, in rows as its source has them

OUTPUT_JOINT_NAMES = JOINT_NAMES + LANDMARK_NAMES  # 73, what smplx returns
NUM_OUTPUT_JOINTS = len(OUTPUT_JOINT_NAMES)

NUM_BETAS = 16
POSE_WIDTH = 3 * NUM_JOINTS  # 156: root 3, body 63, left hand 45, right hand 45

# Body-part segmentation: each joint belongs to one part. A vertex's part is the
# part of the joint with the largest skinning weight. Id 0 is background.
PART_NAMES = (
    "background", "head", "neck", "torso", "hips",
    "left_upper_arm", "right_upper_arm", "left_forearm", "right_forearm",
    "left_hand", "right_hand", "left_thigh", "right_thigh",
    "left_shin", "right_shin", "left_foot", "right_foot",
)  # fmt: skip  # a table, in rows as its source has them


def _part_of_joint(name: str) -> str:
    side = "left" if name.startswith("left") else "right"
    if name in ("pelvis", "left_hip", "right_hip"):
        return {"pelvis": "hips", "left_hip": "left_thigh", "right_hip": "right_thigh"}[name]
    if name.startswith(("spine", "left_collar", "right_collar")):
        return "torso"
    if name == "neck":
        return "neck"
    if name == "head":
        return "head"
    suffix_to_part = {
        "_knee": "shin", "_ankle": "foot", "_foot": "foot",
        "_shoulder": "upper_arm", "_elbow": "forearm", "_wrist": "hand",
    }  # fmt: skip  # a table, in rows as its source has them
    for suffix, part in suffix_to_part.items():
        if name.endswith(suffix):
            return f"{side}_{part}"
    return f"{side}_hand"  # finger joints


PART_OF_JOINT = np.array([PART_NAMES.index(_part_of_joint(n)) for n in JOINT_NAMES], dtype=np.uint8)


def vertex_parts(lbs_weights: np.ndarray) -> np.ndarray:
    """Part id (1..16) of each vertex: the part of its most influential joint."""
    return PART_OF_JOINT[np.argmax(lbs_weights, axis=1)]


def face_parts(faces: np.ndarray, vertex_part: np.ndarray) -> np.ndarray:
    """Part of each face: the majority part of its three vertices (ties: first vertex)."""
    a, b, c = (vertex_part[faces[:, k]] for k in range(3))
    return np.where((b == c) & (a != b), b, a)


def _demo_rest_joints() -> np.ndarray:
    """Rest joints of the neutral demo body (1.70 m), template space, floor at y=0."""
    body = {
        "pelvis": (0.0, 0.93, 0.0),
        "left_hip": (0.085, 0.85, -0.005),
        "spine1": (0.0, 1.04, -0.015),
        "left_knee": (0.095, 0.49, 0.005),
        "spine2": (0.0, 1.16, -0.01),
        "left_ankle": (0.10, 0.08, -0.035),
        "spine3": (0.0, 1.23, 0.0),
        "left_foot": (0.11, 0.02, 0.095),
        "neck": (0.0, 1.45, -0.015),
        "left_collar": (0.075, 1.37, -0.005),
        "head": (0.0, 1.53, 0.03),
        "left_shoulder": (0.185, 1.40, -0.015),
        "left_elbow": (0.445, 1.40, -0.025),
        "left_wrist": (0.69, 1.40, -0.015),
    }
    # Finger roots relative to the wrist, then bone lengths along +X (palm down).
    finger_root = {
        "index": (0.090, 0.0, 0.028),
        "middle": (0.095, 0.0, 0.006),
        "pinky": (0.078, -0.002, -0.040),
        "ring": (0.090, 0.0, -0.018),
        "thumb": (0.028, -0.012, 0.030),
    }
    finger_bones = {
        "index": ((0.036, 0, 0), (0.024, 0, 0)),
        "middle": ((0.040, 0, 0), (0.027, 0, 0)),
        "pinky": ((0.026, 0, 0), (0.019, 0, 0)),
        "ring": ((0.036, 0, 0), (0.025, 0, 0)),
        "thumb": ((0.030, 0, 0.022), (0.025, 0, 0.016)),
    }
    joints = np.zeros((NUM_JOINTS, 3))
    for name, pos in body.items():
        joints[JOINT_NAMES.index(name)] = pos
        if name.startswith("left_"):
            right = (-pos[0], pos[1], pos[2])
            joints[JOINT_NAMES.index("right_" + name[5:])] = right
    for side, sign in (("left", 1.0), ("right", -1.0)):
        wrist = joints[JOINT_NAMES.index(f"{side}_wrist")]
        for finger in FINGERS:
            pos = wrist + np.array(finger_root[finger]) * (sign, 1, 1)
            joints[JOINT_NAMES.index(f"{side}_{finger}1")] = pos
            for k, bone in enumerate(finger_bones[finger], start=2):
                pos = pos + np.array(bone) * (sign, 1, 1)
                joints[JOINT_NAMES.index(f"{side}_{finger}{k}")] = pos
    return joints


DEMO_REST_JOINTS = _demo_rest_joints()
