"""Toyota Smarthome: clip names, the released pose JSON, world placement, protocols."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from synthact.sources.protocols import (
    assign_splits,
    smarthome_cross_subject,
    smarthome_cross_view_1,
    smarthome_cross_view_2,
    write_split_files,
)
from synthact.sources.smarthome import (
    LCR_JOINT_NAMES,
    SMARTHOME_CLASSES,
    SMARTHOME_CV_CLASSES,
    EmptyPoseError,
    PoseFileError,
    SmarthomeNameError,
    SmarthomeSampleId,
    lcr_to_world,
    lcr_world_transform,
    parse_smarthome_name,
    read_pose_file,
)
from tests.fixtures.ntu_smarthome import detection, lcr_body, write_pose_file

CLIP = "Cook.Cleandishes_p02_r00_v02_c03"
L = {name: i for i, name in enumerate(LCR_JOINT_NAMES)}
FORMATS_CLASSES = (  # noqa: SIM905  FORMATS.md's text as listed there, to compare by eye
    "Cook.Cleandishes, Cook.Cleanup, Cook.Cut, Cook.Stir, Cook.Usestove, Cutbread, Drink.Frombottle, "
    "Drink.Fromcan, Drink.Fromcup, Drink.Fromglass, Eat.Attable, Eat.Snack, Enter, Getup, Laydown, Leave, "
    "Makecoffee.Pourgrains, Makecoffee.Pourwater, Maketea.Boilwater, Maketea.Insertteabag, Pour.Frombottle, "
    "Pour.Fromcan, Pour.Fromkettle, Readbook, Sitdown, Takepills, Uselaptop, Usetablet, Usetelephone, Walk, WatchTV"
).split(", ")

# ------------------------------------------------------------------ names and tables


@pytest.mark.parametrize(
    "name", [CLIP, CLIP + ".mp4", CLIP + "_pose3d.json", CLIP + ".json", f"/x/skeletonv12/{CLIP}_pose3d.json"]
)
def test_parse_smarthome_name(name: str) -> None:
    sample = parse_smarthome_name(name)
    assert sample == SmarthomeSampleId("Cook.Cleandishes", subject=2, repetition=0, video=2, camera=3)
    assert (sample.name, sample.label, sample.cross_view_label) == (CLIP, 0, None)
    walk = parse_smarthome_name("Walk_p03_r44_v04_c04.mp4")  # real names go past r09
    assert (walk.repetition, walk.label, walk.cross_view_label) == (44, 29, 18)


@pytest.mark.parametrize(
    "name, needle",
    [
        ("Cook.Cleandishes_p02_r00_c03", "Activity_pNN_rNN_vNN_cNN"),
        ("Cook.Cleandishes_p2_r00_v02_c03", "Activity_pNN_rNN_vNN_cNN"),
        ("P02T01C03", "Activity_pNN_rNN_vNN_cNN"),
        ("Cook.Washup_p02_r00_v02_c03", "unknown activity 'Cook.Washup'"),
        ("Walk_p02_r00_v02_c08", "camera 8"),
    ],
)
def test_bad_smarthome_names(name: str, needle: str) -> None:
    with pytest.raises(SmarthomeNameError, match=needle):
        parse_smarthome_name(name)


def test_class_tables() -> None:
    assert len(SMARTHOME_CLASSES) == 31 and sorted(SMARTHOME_CLASSES) == sorted(FORMATS_CLASSES)
    assert len(SMARTHOME_CV_CLASSES) == 19 and set(SMARTHOME_CV_CLASSES) < set(SMARTHOME_CLASSES)
    assert SMARTHOME_CLASSES.index("Usetelephone") == 27 and SMARTHOME_CLASSES.index("WatchTV") == 30
    assert len(LCR_JOINT_NAMES) == 13 and LCR_JOINT_NAMES[0] == "right_ankle" and LCR_JOINT_NAMES[12] == "head"


# ------------------------------------------------------------------ pose files


def _frames(count: int, empty: tuple[int, ...] = ()) -> tuple[list[list[dict]], np.ndarray]:
    poses = np.stack([lcr_body(phase=t / 3) for t in range(count)])
    return [[] if t in empty else [detection(poses[t])] for t in range(count)], poses


def test_read_v12_pose_file_unflattens_coordinate_major(tmp_path: Path) -> None:
    frames, poses = _frames(9, empty=(0, 4, 8))
    skeleton = read_pose_file(write_pose_file(tmp_path / f"{CLIP}_pose3d.json", frames))
    assert skeleton.joints.shape == (9, 13, 3) and skeleton.joints.dtype == np.float32
    assert skeleton.valid.tolist() == [t not in (0, 4, 8) for t in range(9)]
    assert skeleton.detections_per_frame.tolist() == [0, 1, 1, 1, 0, 1, 1, 1, 0]
    np.testing.assert_allclose(skeleton.joints[1], poses[1], atol=1e-6)  # x, y, z per joint, not scrambled
    np.testing.assert_allclose(skeleton.joints[4], (skeleton.joints[3] + skeleton.joints[5]) / 2, atol=1e-6)
    np.testing.assert_allclose(skeleton.joints[0], skeleton.joints[1])
    raw = json.loads((tmp_path / f"{CLIP}_pose3d.json").read_text())["frames"][1][0]["pose2d"]
    np.testing.assert_allclose(skeleton.joints_2d[1, L["left_hip"]], [raw[5], raw[5 + 13]], atol=1e-4)
    assert np.isnan(skeleton.joints_2d[0]).all()
    assert skeleton.sample == parse_smarthome_name(CLIP) and skeleton.fps == 20.0
    unfilled = read_pose_file(tmp_path / f"{CLIP}_pose3d.json", fill_missing=False)
    assert not unfilled.joints[[0, 4, 8]].any()


def test_v11_scores_pick_the_best_detection_else_the_first(tmp_path: Path) -> None:
    person, ghost = lcr_body(), lcr_body() + 5.0
    scored = [[detection(ghost, score=2.0), detection(person, score=9.5)]] * 3
    skeleton = read_pose_file(write_pose_file(tmp_path / f"{CLIP}.json", scored))
    np.testing.assert_allclose(skeleton.joints[0], person, atol=1e-6)
    assert skeleton.detections_per_frame.tolist() == [2, 2, 2]
    unscored = [[detection(person), detection(ghost)]] * 3
    first = read_pose_file(write_pose_file(tmp_path / "a.json", unscored))
    np.testing.assert_allclose(first.joints[2], person, atol=1e-6)
    assert first.sample is None  # not named like a clip: still readable


def test_damaged_pose_files(tmp_path: Path) -> None:
    path = write_pose_file(tmp_path / f"{CLIP}_pose3d.json", _frames(5)[0])
    text = path.read_text()
    path.write_text(text[: len(text) // 2])
    with pytest.raises(PoseFileError, match=rf"{CLIP}_pose3d.json:1:\d+: not valid JSON \(truncated\?\)"):
        read_pose_file(path)
    frames = _frames(4)[0]
    frames[2][0]["pose3d"] = frames[2][0]["pose3d"][:36]
    with pytest.raises(PoseFileError, match="frame 2: 'pose3d' must hold 39 numbers, got 36"):
        read_pose_file(write_pose_file(path, frames))
    frames[2] = {"pose3d": []}
    with pytest.raises(PoseFileError, match="frame 2: expected a list of detection objects"):
        read_pose_file(write_pose_file(path, frames))
    with pytest.raises(PoseFileError, match="'njts' is 17"):
        read_pose_file(write_pose_file(path, _frames(2)[0], extra={"njts": 17}))
    path.write_text(json.dumps([[]]))
    with pytest.raises(PoseFileError, match="'frames' list"):
        read_pose_file(path)
    with pytest.raises(EmptyPoseError, match="no person detected in any of its 3 frames"):
        read_pose_file(write_pose_file(path, [[], [], []]))
    with pytest.raises(PoseFileError, match="not found"):
        read_pose_file(tmp_path / "nope.json")


# ------------------------------------------------------------------ camera -> world


def test_lcr_to_world_upright_grounded_and_facing_the_camera() -> None:
    joints = np.stack([lcr_body(phase=t / 2) for t in range(10)])
    world = lcr_to_world(joints)
    assert world.dtype == np.float32
    ankles = world[:, [L["right_ankle"], L["left_ankle"]], 2]
    np.testing.assert_allclose(ankles, 0.0, atol=1e-5)  # pelvis-centred, so grounded per frame
    np.testing.assert_allclose(world[:, L["head"], 2], 1.65 - 0.09, atol=1e-5)
    left, right = world[0, L["left_shoulder"]], world[0, L["right_shoulder"]]
    assert np.cross(left - right, [0.0, 0.0, 1.0])[1] < -0.3  # faces the camera (world -Y)


def test_lcr_to_world_levels_tilt_and_fixes_an_upside_down_frame() -> None:
    level = np.stack([lcr_body(phase=t) for t in range(6)])
    tilted = np.stack([lcr_body(pitch_deg=30.0, phase=t) for t in range(6)])
    np.testing.assert_allclose(lcr_to_world(tilted), lcr_to_world(level), atol=1e-4)
    flipped = level * np.array([1.0, -1.0, -1.0])  # y up instead of down: still a proper rotation
    np.testing.assert_allclose(lcr_to_world(flipped), lcr_to_world(level), atol=1e-4)
    assert np.isclose(np.linalg.det(lcr_world_transform(tilted).rotation), 1.0)


def test_lcr_to_world_ground_modes() -> None:
    moving = np.stack([lcr_body(pelvis_centred=False) + [0.0, -0.1 * t, 0.0] for t in range(5)])  # rises 10 cm/frame
    sequence = lcr_to_world(moving)  # hips move: one offset for the clip, the rise is kept
    np.testing.assert_allclose(np.diff(sequence[:, L["head"], 2]), 0.1, atol=1e-5)
    assert sequence[:, L["left_ankle"], 2].min() == pytest.approx(0.0, abs=0.03)  # a low percentile, not the min
    grounded = lcr_to_world(moving, ground="per_frame")
    np.testing.assert_allclose(grounded[:, L["left_ankle"], 2], 0.0, atol=1e-5)
    with pytest.raises(ValueError, match="ground"):
        lcr_to_world(moving, ground="floor")


# ------------------------------------------------------------------ protocols


def test_smarthome_protocols() -> None:
    name = parse_smarthome_name
    assert smarthome_cross_subject(name("Walk_p03_r00_v07_c04")) == "train"
    assert smarthome_cross_subject(name("Walk_p19_r00_v07_c04")) == "val"
    assert smarthome_cross_subject(name("Walk_p19_r00_v07_c04"), val_subjects=()) == "train"
    assert smarthome_cross_subject(name("Walk_p02_r00_v07_c04")) == "test"
    assert smarthome_cross_subject(name("Cook.Cut_p10_r00_v07_c04")) == "test"
    cv1 = [smarthome_cross_view_1(name(f"Walk_p03_r00_v07_c0{c}")) for c in range(1, 8)]
    assert cv1 == ["train", "test", None, None, "val", None, None]
    cv2 = [smarthome_cross_view_2(name(f"Walk_p03_r00_v07_c0{c}")) for c in range(1, 8)]
    assert cv2 == ["train", "test", "train", "train", "val", "train", "train"]
    assert smarthome_cross_view_1(name("Cook.Cut_p03_r00_v07_c01")) is None  # not one of the 19 classes


def test_write_split_files_smarthome(tmp_path: Path) -> None:
    names = [
        f"{CLIP}.mp4",
        "Walk_p19_r01_v05_c05_pose3d.json",
        "Drink.Fromcup_p02_r00_v11_c02.mp4",
        "Readbook_p03_r00_v15_c01",
        "Readbook_p03_r00_v15_c01.mp4",
    ]
    written = write_split_files(names, tmp_path, "smarthome")
    assert sorted(written) == ["smarthome_cs", "smarthome_cv1", "smarthome_cv2"]
    cs = json.loads(written["smarthome_cs"].read_text())["smarthome_cs"]
    assert cs == {
        "train": ["Readbook_p03_r00_v15_c01"],
        "val": ["Walk_p19_r01_v05_c05"],
        "test": [CLIP, "Drink.Fromcup_p02_r00_v11_c02"],
    }
    cv1 = json.loads(written["smarthome_cv1"].read_text())["smarthome_cv1"]
    assert cv1 == {
        "train": ["Readbook_p03_r00_v15_c01"],
        "val": ["Walk_p19_r01_v05_c05"],
        "test": ["Drink.Fromcup_p02_r00_v11_c02"],
    }
    excluded = assign_splits(names, "smarthome", exclude=["Walk_p19_r01_v05_c05.mp4"])
    assert excluded["smarthome_cs"]["val"] == []
