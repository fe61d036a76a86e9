"""NTU RGB+D: sample names, the .skeleton reader, body selection, world placement, protocols."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from synthact.sources.ntu import (
    NTU_CLASSES,
    NTU_JOINT_NAMES,
    SMPLH_TO_NTU25,
    MissingSkeletonError,
    NtuNameError,
    NtuSampleId,
    SkeletonError,
    kinect_to_world,
    kinect_world_transform,
    parse_ntu_name,
    read_skeleton_file,
    to_ntu25,
    two_person_actions,
)
from synthact.sources.protocols import (
    assign_splits,
    ntu60_cross_subject,
    ntu60_cross_view,
    ntu120_cross_setup,
    ntu120_cross_subject,
    read_sample_list,
    write_split_files,
)
from synthact.sources.skeleton_math import interpolate_missing
from tests.fixtures.ntu_smarthome import (
    FOOT_HEIGHT,
    Sighting,
    kinect_body,
    single_body_frames,
    skeleton_text,
    truncate_after_line,
    write_skeleton,
)

SINGLE = "S001C001P001R001A001.skeleton"
PAIR = "S001C002P003R002A050.skeleton"
J = {name: i for i, name in enumerate(NTU_JOINT_NAMES)}

# ------------------------------------------------------------------ names and tables


@pytest.mark.parametrize("name", ["S001C002P003R002A013", "S001C002P003R002A013.skeleton", "/d/S001C002P003R002A013"])
def test_parse_ntu_name(name: str) -> None:
    sample = parse_ntu_name(name)
    assert sample == NtuSampleId(setup=1, camera=2, performer=3, replication=2, action=13)
    assert (sample.name, sample.label, sample.class_name, sample.two_person) == (
        "S001C002P003R002A013",
        12,
        "tear up paper",
        False,
    )
    assert parse_ntu_name(Path("x") / "S017C003P020R001A060.skeleton").two_person


@pytest.mark.parametrize(
    "name, needle",
    [
        ("S001C002P003R002A13", "SsssCcccPpppRrrrAaaa"),
        ("s001c002p003r002a013", "SsssCcccPpppRrrrAaaa"),
        ("S001C002P003R002A013.txt", "SsssCcccPpppRrrrAaaa"),
        ("S001C004P003R002A013", "camera 4"),
        ("S001C002P003R003A013", "replication 3"),
        ("S001C002P003R002A121", "action 121"),
        ("S000C002P003R002A013", "setup 0"),
    ],
)
def test_bad_ntu_names_are_rejected_clearly(name: str, needle: str) -> None:
    with pytest.raises(NtuNameError, match=needle) as info:
        parse_ntu_name(name)
    assert name in str(info.value)


def test_class_tables() -> None:
    assert len(NTU_CLASSES) == 120 and len(set(NTU_CLASSES)) == 120
    assert NTU_CLASSES[0] == "drink water" and NTU_CLASSES[59] == "walking apart from each other"
    assert NTU_CLASSES[60] == "put on headphone" and NTU_CLASSES[119].startswith("finger-guessing game")
    assert not any(name.endswith(".") or name != name.strip() for name in NTU_CLASSES)
    assert two_person_actions(60) == tuple(range(50, 61))
    assert two_person_actions() == tuple(range(50, 61)) + tuple(range(106, 121))


def test_joint_layout_and_smplh_mapping() -> None:
    assert len(NTU_JOINT_NAMES) == 25 and NTU_JOINT_NAMES[0] == "spine_base" and NTU_JOINT_NAMES[20] == "spine_shoulder"
    joints73 = np.arange(2 * 4 * 73 * 3, dtype=np.float32).reshape(2, 4, 73, 3)
    ntu = to_ntu25(joints73)
    assert ntu.shape == (2, 4, 25, 3)
    np.testing.assert_array_equal(ntu[1, 2, :, 0], joints73[1, 2, list(SMPLH_TO_NTU25), 0])
    assert SMPLH_TO_NTU25[J["spine_base"]] == 0 and SMPLH_TO_NTU25[J["spine_shoulder"]] == 9
    torch = pytest.importorskip("torch")
    assert tuple(to_ntu25(torch.zeros(5, 73, 3)).shape) == (5, 25, 3)
    with pytest.raises(ValueError, match="73"):
        to_ntu25(np.zeros((5, 52, 3)))


# ------------------------------------------------------------------ reading good files


@pytest.mark.parametrize("newline", ["\r\n", "\n"])
def test_single_body_round_trip(tmp_path: Path, newline: str) -> None:
    frames = single_body_frames(12)
    frames[3][0].tracking = np.where(np.arange(25) == 7, 1, 2)  # left hand inferred
    skeleton = read_skeleton_file(write_skeleton(tmp_path / SINGLE, frames, newline=newline))
    assert skeleton.joints.shape == (12, 1, 25, 3) and skeleton.joints.dtype == np.float32
    expected = np.stack([f[0].joints for f in frames])
    np.testing.assert_allclose(skeleton.joints[:, 0], expected, rtol=1e-6, atol=1e-6)
    assert skeleton.tracking_state[3, 0, 7] == 1 and skeleton.tracking_state[0, 0, 7] == 2
    assert skeleton.valid.all() and skeleton.body_ids == (72057594037931101,)
    assert skeleton.sample == parse_ntu_name(SINGLE) and skeleton.fps == 30.0
    assert skeleton.num_frames == 12 and skeleton.num_bodies == 1
    assert skeleton.bodies_per_frame.tolist() == [1] * 12


def test_two_person_action_keeps_both_bodies_main_actor_first(tmp_path: Path) -> None:
    calm, lively = 111, 222
    frames = [
        [
            Sighting(calm, kinect_body(lateral=-0.5)),  # stands still
            Sighting(lively, kinect_body(lateral=0.5, phase=t)),  # waves
        ]
        for t in range(20)
    ]
    skeleton = read_skeleton_file(write_skeleton(tmp_path / PAIR, frames))
    assert skeleton.body_ids == (lively, calm)
    assert skeleton.joints.shape == (20, 2, 25, 3)
    np.testing.assert_allclose(skeleton.joints[5, 1], kinect_body(lateral=-0.5), atol=1e-6)
    one = read_skeleton_file(tmp_path / PAIR, max_bodies=1)
    assert one.body_ids == (lively,)


def test_single_person_action_drops_noise_bodies(tmp_path: Path) -> None:
    person, chair, flicker = 1, 2, 3
    chair_joints = np.array([0.6, -0.6, 2.5]) + 0.02 * np.random.default_rng(0).normal(size=(25, 3))
    frames = []
    for t in range(30):
        sightings = [Sighting(person, kinect_body(phase=t / 4)), Sighting(chair, chair_joints)]
        if t in (10, 11):  # a short-lived false body with wild joints
            sightings.append(Sighting(flicker, np.random.default_rng(t).uniform(-2, 2, (25, 3)) + [0, 0, 4]))
        frames.append(sightings)
    skeleton = read_skeleton_file(write_skeleton(tmp_path / SINGLE, frames))
    assert skeleton.body_ids == (person,)
    assert skeleton.bodies_per_frame[10] == 3 and skeleton.bodies_per_frame[0] == 2


def test_missing_frames_are_marked_and_interpolated(tmp_path: Path) -> None:
    frames = single_body_frames(10)
    for t in (0, 4, 5, 9):
        frames[t] = []
    path = write_skeleton(tmp_path / SINGLE, frames)
    skeleton = read_skeleton_file(path)
    assert skeleton.valid[:, 0].tolist() == [t not in (0, 4, 5, 9) for t in range(10)]
    assert skeleton.bodies_per_frame.tolist() == [0, 1, 1, 1, 0, 0, 1, 1, 1, 0]
    joints = skeleton.joints[:, 0]
    np.testing.assert_allclose(joints[4], joints[3] + (joints[6] - joints[3]) / 3, atol=1e-5)
    np.testing.assert_allclose(joints[0], joints[1])  # held at the ends
    np.testing.assert_allclose(joints[9], joints[8])
    raw = read_skeleton_file(path, fill_missing=False)
    assert not raw.joints[[0, 4, 5, 9]].any() and not raw.tracking_state[[0, 4, 5, 9]].any()


def test_partner_entering_late_is_valid_only_once_seen(tmp_path: Path) -> None:
    frames = [
        [Sighting(1, kinect_body(phase=t))] + ([Sighting(2, kinect_body(lateral=1.0))] if t >= 6 else [])
        for t in range(10)
    ]
    skeleton = read_skeleton_file(write_skeleton(tmp_path / PAIR, frames))
    assert skeleton.valid[:, 0].all() and skeleton.valid[:, 1].tolist() == [t >= 6 for t in range(10)]
    np.testing.assert_allclose(skeleton.joints[0, 1], skeleton.joints[6, 1])


def test_non_finite_sighting_is_dropped_not_fatal(tmp_path: Path) -> None:
    frames = single_body_frames(5)
    frames[2][0].joints = frames[2][0].joints.copy()
    frames[2][0].joints[3] = np.nan
    skeleton = read_skeleton_file(write_skeleton(tmp_path / SINGLE, frames))
    assert skeleton.valid[:, 0].tolist() == [True, True, False, True, True]
    assert np.isfinite(skeleton.joints).all()


# ------------------------------------------------------------------ damaged files


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


@pytest.mark.parametrize("keep", [0, 1, 2, 3, 4, 17, 29, 30])
def test_truncated_file_names_file_and_line(tmp_path: Path, keep: int) -> None:
    # Layout: line 1 frame count, 2 body count, 3 body info, 4 joint count, 5-29 joints, 30 next body count.
    path = truncate_after_line(write_skeleton(tmp_path / SINGLE, single_body_frames(3)), keep)
    with pytest.raises(SkeletonError, match=rf"{SINGLE}:{keep + 1}: file ends early \(truncated\?\)"):
        read_skeleton_file(path)


@pytest.mark.parametrize(
    "line_no, replacement, needle",
    [
        (1, "three", "frame count"),
        (2, "-1", "at least 0"),
        (3, "72057594037931101 0 1 1 1 1 0 0.1 2", r"body info line .*10 values"),
        (3, "72057594037931101 0 1 1 1 1 0 zero 0.1 2", "malformed body info"),
        (4, "20", "has 20 joints"),
        (9, "0.1 0.2 3.0 1 2 3 4 0 0 0 1", r"joint 5 of body .*\(12 values\), got 11"),
        (9, "0.1 0.2 3.0 1 2 3 4 0 0 0 1 x", r"joint 5 .*not all values are numbers"),
    ],
)
def test_malformed_lines_are_named(tmp_path: Path, line_no: int, replacement: str, needle: str) -> None:
    path = write_skeleton(tmp_path / SINGLE, single_body_frames(2))
    lines = _lines(path)
    lines[line_no - 1] = replacement
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(SkeletonError, match=rf"{SINGLE}:{line_no}: .*{needle}"):
        read_skeleton_file(path)


def test_trailing_data_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / SINGLE
    path.write_text(skeleton_text(single_body_frames(2)) + "\n1\n")
    with pytest.raises(SkeletonError, match=rf"{SINGLE}:59: unexpected data"):  # 1 + 2 x 28 lines, a blank, then '1'
        read_skeleton_file(path)


def test_missing_skeletons_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(MissingSkeletonError, match="no body in any of its 4 frames"):
        read_skeleton_file(write_skeleton(tmp_path / SINGLE, [[], [], [], []]))
    with pytest.raises(MissingSkeletonError):
        read_skeleton_file(write_skeleton(tmp_path / "S001C001P001R001A002.skeleton", []))
    with pytest.raises(SkeletonError, match="not found"):
        read_skeleton_file(tmp_path / "S009C001P001R001A001.skeleton")
    binary = tmp_path / "S001C001P001R001A003.skeleton"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(SkeletonError, match="not a readable"):
        read_skeleton_file(binary)


# ------------------------------------------------------------------ camera -> world


def test_kinect_to_world_axes_floor_and_handedness() -> None:
    joints = np.stack([kinect_body(depth=3.0, camera_height=1.2, phase=t / 3) for t in range(15)])
    transform = kinect_world_transform(joints)
    world = kinect_to_world(joints)
    assert world.shape == joints.shape and world.dtype == np.float32
    assert np.isclose(np.linalg.det(transform.rotation), 1.0)
    np.testing.assert_allclose(world[..., J["left_foot"], 2], 0.0, atol=1e-5)
    np.testing.assert_allclose(world[:, J["head"], 2], 1.65 - FOOT_HEIGHT, atol=1e-5)
    np.testing.assert_allclose(transform.translation, [0, 0, 1.2 - FOOT_HEIGHT], atol=1e-5)  # the sensor height
    np.testing.assert_allclose(world[:, J["spine_base"], 1], 3.0, atol=1e-5)  # 3 m in front of the sensor
    # The person faces the sensor (world -Y): forward = left x up for a right-handed body.
    left, right = world[0, J["left_shoulder"]], world[0, J["right_shoulder"]]
    facing = np.cross(left - right, [0.0, 0.0, 1.0])
    assert facing[1] < -0.3 and abs(facing[0]) < 1e-6


def test_kinect_to_world_levels_a_pitched_sensor() -> None:
    level = np.stack([kinect_body(camera_height=2.5, phase=t) for t in range(8)])[:, None]
    pitched = np.stack([kinect_body(camera_height=2.5, pitch_deg=25.0, phase=t) for t in range(8)])[:, None]
    valid = np.ones((8, 1), dtype=bool)
    np.testing.assert_allclose(kinect_to_world(pitched, valid), kinect_to_world(level, valid), atol=1e-4)
    tilted = kinect_to_world(pitched, valid, level=False)
    torso = tilted[:, 0, J["spine_shoulder"]] - tilted[:, 0, J["spine_base"]]
    assert np.degrees(np.arccos(torso[0, 2] / np.linalg.norm(torso[0]))) == pytest.approx(25.0, abs=0.1)


def test_lying_body_is_not_levelled() -> None:
    body = kinect_body()
    pelvis = body[J["spine_base"]]
    onto_floor = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])  # camera y (up) -> z (depth)
    lying = (body - pelvis) @ onto_floor.T + pelvis
    transform = kinect_world_transform(np.stack([lying] * 4))
    np.testing.assert_allclose(transform.rotation, [[-1, 0, 0], [0, 0, 1], [0, 1, 0]], atol=1e-12)


def test_interpolate_missing_shapes() -> None:
    values = np.arange(6, dtype=np.float32).reshape(6, 1) * np.ones((6, 2))
    valid = np.array([[False, True], [True, True], [False, True], [True, False], [False, False], [False, True]])
    filled = interpolate_missing(values, valid)
    np.testing.assert_allclose(filled[:, 0], [1, 1, 2, 3, 3, 3])
    np.testing.assert_allclose(filled[:, 1], [0, 1, 2, 3, 4, 5])
    with pytest.raises(ValueError, match="prefix"):
        interpolate_missing(values, valid[:5])


# ------------------------------------------------------------------ protocols


def test_ntu_protocols() -> None:
    sample = parse_ntu_name
    assert ntu60_cross_subject(sample("S001C001P001R001A001")) == "train"
    assert ntu60_cross_subject(sample("S001C001P003R001A001")) == "test"
    assert ntu60_cross_view(sample("S001C001P001R001A001")) == "test"
    assert ntu60_cross_view(sample("S001C002P001R001A001")) == "train"
    assert ntu60_cross_view(sample("S001C003P001R001A001")) == "train"
    assert ntu60_cross_subject(sample("S018C001P001R001A061")) is None  # not part of NTU-60
    assert ntu120_cross_subject(sample("S018C001P045R001A061")) == "train"
    assert ntu120_cross_subject(sample("S018C001P044R001A061")) == "test"
    assert ntu120_cross_subject(sample("S001C001P038R001A001")) == "train"  # the NTU-60 list is included
    assert ntu120_cross_setup(sample("S002C001P003R001A001")) == "train"
    assert ntu120_cross_setup(sample("S017C001P001R001A001")) == "test"


def test_write_split_files_ntu(tmp_path: Path) -> None:
    names = [
        "S001C001P001R001A001.skeleton",
        "S001C001P001R001A001",
        "S001C002P003R001A005.skeleton",
        "S002C003P001R002A050",
        "S018C001P045R001A061.skeleton",
        "S019C002P046R001A120",
    ]
    missing = tmp_path / "missing.txt"
    missing.write_text("# missing skeletons\nS001C002P003R001A005\n\n")
    written = write_split_files(names, tmp_path / "splits", "ntu", exclude=read_sample_list(missing))
    assert sorted(written) == ["ntu120_xset", "ntu120_xsub", "ntu60_xsub", "ntu60_xview"]
    xview = json.loads(written["ntu60_xview"].read_text())
    assert xview == {"ntu60_xview": {"train": ["S002C003P001R002A050"], "val": [], "test": ["S001C001P001R001A001"]}}
    xset = json.loads(written["ntu120_xset"].read_text())["ntu120_xset"]
    assert xset["train"] == ["S002C003P001R002A050", "S018C001P045R001A061"]
    assert xset["test"] == ["S001C001P001R001A001", "S019C002P046R001A120"]
    assert not list((tmp_path / "splits").glob("*.tmp"))
    assert set(assign_splits(names, "ntu60")) == {"ntu60_xsub", "ntu60_xview"}
    with pytest.raises(NtuNameError):
        assign_splits(["not_a_sample"], "ntu120")
    with pytest.raises(ValueError, match="unknown dataset"):
        assign_splits(names, "kinetics")
