"""Part-aware keypoint visibility: a joint is visible only where its pixel shows its own body part
or a neighbouring one.

The depth band alone (the surface at the joint's pixel at most 0.25 m in front
of the joint) cannot tell a joint's own limb from another limb crossing in
front of it: a right ankle behind the left shin passes it. The rendered part
ids can: the left shin is neither the right foot nor next to it.

Neighbours come from the kinematic tree (``synthact.body.skeleton.PARENTS``):
two parts touch where a joint of one has its parent in the other (knee in the
shin, hip in the thigh: shin and thigh touch). ``mesh_part_adjacency`` gives
the same relation from a mesh's faces, and a test checks that they agree on
the demo body. A joint at a junction (the knee) may be seen on either side.
"""

from __future__ import annotations

import numpy as np

from synthact.body.skeleton import (
    JOINT_NAMES,
    LANDMARK_NAMES,
    LANDMARK_VERTEX_IDS,
    PARENTS,
    PART_NAMES,
    PART_OF_JOINT,
    vertex_parts,
)

DEPTH_TOLERANCE_M = 0.25  # the existing band: joints sit inside limbs of radius < 0.15 m


def tree_part_adjacency() -> np.ndarray:
    """(P, P) bool, P = len(PART_NAMES): parts joined by a bone of the kinematic tree; diagonal True."""
    size = len(PART_NAMES)
    adjacent = np.eye(size, dtype=bool)
    for joint, parent in enumerate(PARENTS):
        if parent >= 0:
            a, b = PART_OF_JOINT[joint], PART_OF_JOINT[parent]
            adjacent[a, b] = adjacent[b, a] = True
    adjacent[0, :] = adjacent[:, 0] = False  # background neighbours nothing
    return adjacent


def mesh_part_adjacency(faces: np.ndarray, parts_of_vertices: np.ndarray) -> np.ndarray:
    """(P, P) bool: parts whose vertices share a face; diagonal True (background excluded)."""
    size = len(PART_NAMES)
    adjacent = np.eye(size, dtype=bool)
    face_parts = parts_of_vertices[np.asarray(faces)]
    for i in range(face_parts.shape[1]):
        for j in range(face_parts.shape[1]):
            adjacent[face_parts[:, i], face_parts[:, j]] = True
    adjacent[0, :] = adjacent[:, 0] = False
    return adjacent


def _landmark_part_by_name(name: str) -> str:
    """Part of a smplx landmark without a body model: face points, toes/heels, finger tips."""
    if name in ("nose", "reye", "leye", "rear", "lear"):
        return "head"
    side = "left" if name[0] in "lL" else "right"
    return f"{side}_foot" if name[1:].startswith(("BigToe", "SmallToe", "Heel")) else f"{side}_hand"


def output_joint_parts(lbs_weights: np.ndarray | None = None) -> np.ndarray:
    """(73,) part id of each output joint (52 joints, then the 21 landmarks).

    With the body model's skinning weights, a landmark takes the part of the
    vertex it is read from (exact); without, the part its name says.
    """
    if lbs_weights is not None:
        per_vertex = vertex_parts(np.asarray(lbs_weights))
        landmarks = [per_vertex[LANDMARK_VERTEX_IDS[n]] for n in LANDMARK_NAMES]
    else:
        landmarks = [PART_NAMES.index(_landmark_part_by_name(n)) for n in LANDMARK_NAMES]
    return np.concatenate([PART_OF_JOINT, np.asarray(landmarks, dtype=np.uint8)]).astype(np.uint8)


def keypoint_visibility(
    uv: np.ndarray,
    z: np.ndarray,
    depth: np.ndarray,
    mask: np.ndarray,
    parts: np.ndarray,
    joint_parts: np.ndarray | None = None,
    adjacency: np.ndarray | None = None,
    depth_tolerance_m: float = DEPTH_TOLERANCE_M,
) -> np.ndarray:
    """(T, J) bool: in the image, on the person, not hidden, and on the joint's own or a neighbouring part.

    Args:
        uv: (T, J, 2) pixel coordinates (x right, y down), NaN allowed.
        z: (T, J) camera-space depth of the joints, metres (> 0 in front).
        depth: (T, H, W) rendered depth, metres (0 = no hit).
        mask: (T, H, W) bool, the person's pixels.
        parts: (T, H, W) part id per pixel (``PART_NAMES``; 0 background).
        joint_parts: (J,) part id per joint; default ``output_joint_parts()``
            (73 joints) or the 52 joints' ``PART_OF_JOINT``.
        adjacency: (P, P) bool; default ``tree_part_adjacency()``.
        depth_tolerance_m: How far in front of the joint its pixel's surface may be.
    """
    T, H, W = mask.shape
    J = uv.shape[1]
    if joint_parts is None:
        joint_parts = output_joint_parts() if J == len(JOINT_NAMES) + len(LANDMARK_NAMES) else PART_OF_JOINT[:J]
    adjacency = tree_part_adjacency() if adjacency is None else adjacency
    u, v = uv[..., 0], uv[..., 1]
    inside = (z > 0) & (u >= 0) & (u < W) & (v >= 0) & (v < H)  # NaN compares False
    px = np.clip(np.floor(np.nan_to_num(u, nan=0.0)).astype(np.int64), 0, W - 1)
    py = np.clip(np.floor(np.nan_to_num(v, nan=0.0)).astype(np.int64), 0, H - 1)
    frames = np.arange(T)[:, None]
    on_person = mask[frames, py, px].astype(bool)
    not_hidden = (z - depth[frames, py, px]) < depth_tolerance_m
    seen_part = parts[frames, py, px].astype(np.int64)
    own_or_next = adjacency[np.asarray(joint_parts, dtype=np.int64)[None, :], seen_part]
    return inside & on_person & not_hidden & own_or_next
