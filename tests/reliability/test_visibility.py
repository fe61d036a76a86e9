"""Part-aware keypoint visibility (synthact/render/visibility.py)."""

from __future__ import annotations

import numpy as np

from synthact.body.skeleton import (
    JOINT_NAMES,
    OUTPUT_JOINT_NAMES,
    PART_NAMES,
    vertex_parts,
)
from synthact.render.visibility import (
    keypoint_visibility,
    mesh_part_adjacency,
    output_joint_parts,
    tree_part_adjacency,
)

P = {name: i for i, name in enumerate(PART_NAMES)}
J = {name: i for i, name in enumerate(OUTPUT_JOINT_NAMES)}


def scene(part: str, surface_m: float, joint_z: float = 3.0):
    """One frame, 8x8, the person everywhere at ``surface_m``, showing ``part``; every joint at pixel (4, 4)."""
    depth = np.full((1, 8, 8), surface_m, np.float32)
    mask = np.ones((1, 8, 8), bool)
    parts = np.full((1, 8, 8), P[part], np.uint8)
    uv = np.full((1, len(OUTPUT_JOINT_NAMES), 2), 4.5)
    z = np.full((1, len(OUTPUT_JOINT_NAMES)), joint_z)
    return uv, z, depth, mask, parts


def test_ankle_behind_the_other_shin_is_hidden_though_within_the_depth_band():
    uv, z, depth, mask, parts = scene("left_shin", surface_m=2.9)  # 10 cm in front: the old band passes it
    visible = keypoint_visibility(uv, z, depth, mask, parts)[0]
    assert not visible[J["right_ankle"]]
    assert visible[J["left_ankle"]]  # left_foot next to left_shin
    assert visible[J["left_knee"]]  # its own part
    assert not visible[J["right_knee"]]


def test_the_depth_band_and_image_checks_still_hold():
    uv, z, depth, mask, parts = scene("right_foot", surface_m=2.5)  # 0.5 m in front: occluded
    assert not keypoint_visibility(uv, z, depth, mask, parts)[0, J["right_ankle"]]
    uv, z, depth, mask, parts = scene("right_foot", surface_m=3.0)
    uv[0, J["right_ankle"]] = [np.nan, np.nan]
    uv[0, J["right_foot"]] = [8.0, 1.0]  # x == W: outside
    mask[0, 4, 4] = False
    visible = keypoint_visibility(uv, z, depth, mask, parts)[0]
    assert not visible[J["right_ankle"]] and not visible[J["right_foot"]]
    mask[0, 4, 4] = True
    z[0, J["RHeel"]] = -1.0  # behind the camera
    visible = keypoint_visibility(uv, z, depth, mask, parts)[0]
    assert visible[J["RBigToe"]] and not visible[J["RHeel"]]


def test_tree_adjacency_is_the_anatomy():
    adjacent = tree_part_adjacency()
    pairs = {frozenset((PART_NAMES[a], PART_NAMES[b])) for a, b in zip(*np.nonzero(np.triu(adjacent, 1)), strict=True)}
    for a, b in [
        ("left_thigh", "left_shin"),
        ("hips", "left_thigh"),
        ("left_hand", "left_forearm"),
        ("head", "neck"),
        ("torso", "neck"),
        ("torso", "right_upper_arm"),
        ("right_shin", "right_foot"),
    ]:
        assert frozenset((a, b)) in pairs
    assert frozenset(("left_shin", "right_shin")) not in pairs and frozenset(("left_shin", "right_foot")) not in pairs
    assert len(pairs) == 15  # a tree over the 16 body parts
    assert not adjacent[0].any()


def test_tree_adjacency_agrees_with_the_demo_body_mesh(demo_neutral_arrays):
    model = demo_neutral_arrays
    from_mesh = mesh_part_adjacency(model["f"].astype(np.int64), vertex_parts(model["weights"]))
    tree = tree_part_adjacency()
    assert (tree & ~from_mesh).sum() == 0, "a bone joins parts whose surfaces do not touch"
    # The mesh may join a few more (e.g. upper arm and torso skin); none across the body's sides.
    extra = {(PART_NAMES[a], PART_NAMES[b]) for a, b in zip(*np.nonzero(np.triu(from_mesh & ~tree, 1)), strict=True)}
    assert not {p for p in extra if ("left" in p[0] and "right" in p[1]) or ("right" in p[0] and "left" in p[1])}


def test_landmark_parts_from_skinning_weights_match_their_names(demo_neutral_arrays):
    weights = demo_neutral_arrays["weights"]
    by_weights, by_name = output_joint_parts(weights), output_joint_parts()
    assert (by_weights[: len(JOINT_NAMES)] == by_name[: len(JOINT_NAMES)]).all()
    assert by_name[J["LHeel"]] == P["left_foot"] and by_name[J["rthumb"]] == P["right_hand"]
    assert (by_weights == by_name).mean() > 0.9
