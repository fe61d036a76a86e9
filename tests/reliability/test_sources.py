"""Original files the readers refused or read differently, and lenient BABEL keeping good labels."""

from __future__ import annotations

import numpy as np
import pytest

from synthact.sources.babel import LabelError, load_babel_file
from synthact.sources.protocols import SampleListError, assign_splits, read_sample_list
from synthact.sources.smarthome import (
    UnlistedActivityError,
    parse_smarthome_name,
    read_pose_file,
)
from tests.fixtures.amass_babel import dense_entry, label, write_babel
from tests.fixtures.ntu_smarthome import detection, lcr_body, write_pose_file

# The layout of NTURGB-D/Matlab/NTU_RGBD_samples_with_missing_skeletons.txt: prose, a blank, names.
NTU_MISSING_LIST = (
    "The following 302 samples in NTU RGB+D 60 have missing skeletons (no body in any frame).\r\n"
    "Please ignore them in your experiments.\r\n"
    "\r\n"
    "S001C002P005R002A008\r\n"
    "S001C002P006R001A008\r\n"
    "S001C003P002R001A055\r\n"
)


def test_ntu_missing_skeleton_list_with_prose_header(tmp_path):
    path = tmp_path / "NTU_RGBD_samples_with_missing_skeletons.txt"
    path.write_bytes(NTU_MISSING_LIST.encode())
    names = read_sample_list(path)
    assert names == {
        "S001C002P005R002A008",
        "S001C002P006R001A008",
        "S001C003P002R001A055",
    }
    splits = assign_splits(["S001C002P005R002A008", "S001C002P003R001A008"], "ntu60", exclude=names)
    assert splits["ntu60_xsub"]["train"] == []  # the missing one is excluded, the other is P003 -> test
    assert splits["ntu60_xsub"]["test"] == ["S001C002P003R001A008"]


def test_stray_line_after_the_names_is_an_error_with_its_line(tmp_path):
    path = tmp_path / "list.txt"
    path.write_text(NTU_MISSING_LIST + "oops, not a name\n")
    with pytest.raises(SampleListError, match=r"list.txt:7: not a sample name: 'oops, not a name'"):
        read_sample_list(path)


def test_smarthome_pour_fromcup_is_skipped_with_a_message_not_mapped():
    with pytest.raises(UnlistedActivityError, match=r"Pour\.Fromcup.*not one of the 31 classes.*skipped"):
        parse_smarthome_name("Pour.Fromcup_p03_r00_v05_c01.mp4")
    names = ["Pour.Fromcup_p03_r00_v05_c01.mp4", "Walk_p03_r00_v05_c01.mp4"]
    splits = assign_splits(names, "smarthome")
    kept = {n for protocol in splits.values() for split in protocol.values() for n in split}
    assert kept == {"Walk_p03_r00_v05_c01"}


def test_smarthome_split_list_with_pour_fromcup_reads(tmp_path):
    path = tmp_path / "train_CS.txt"
    path.write_text("Pour.Fromcup_p03_r00_v05_c01.mp4\nWalk_p03_r00_v05_c01.mp4\n")
    assert len(read_sample_list(path)) == 2


def test_smarthome_motion_rule_keeps_the_moving_person(tmp_path):
    """Two people in every frame; the still one is listed first. 'motion' keeps the walker."""
    still = lcr_body(phase=0.0)
    frames = []
    for t in range(12):
        walker = lcr_body(phase=0.5 * t)
        walker = walker + np.array([0.1 * t, 0.0, 0.0])
        frames.append([detection(still), detection(walker)])
    path = write_pose_file(tmp_path / "Walk_p03_r00_v05_c01_pose3d.json", frames)
    first = read_pose_file(path)
    moving = read_pose_file(path, detection="motion")
    assert np.ptp(first.joints[:, :, 0], axis=0).max() < 1e-6  # the old rule: the still one
    assert np.ptp(moving.joints[:, :, 0], axis=0).min() > 0.8  # the walker, ~1.1 m across the clip
    with pytest.raises(ValueError, match="detection 'largest'"):
        read_pose_file(path, detection="largest")


def test_lenient_babel_keeps_the_good_segments_of_a_sequence_with_one_bad_one(tmp_path):
    bad = label("s-bad", ["walk"], 1.0, 0.5)  # ends before it starts
    path = write_babel(
        tmp_path / "train.json",
        [
            dense_entry(
                7,
                "CMU/01/01_01_poses.npz",
                4.0,
                [label("q", ["walk"])],
                [label("s-good", ["walk"], 0.0, 1.0), bad, label("s-good2", ["jump"], 1.0, 2.0)],
            ),
        ],
    )
    with pytest.raises(LabelError, match="seg_id s-bad: ends before it starts"):
        load_babel_file(path)
    errors = []
    sequences = load_babel_file(path, on_error=lambda sid, exc: errors.append((sid, str(exc))))
    assert [s.seg_id for s in sequences[0].segments] == ["s-good", "s-good2"]
    assert len(errors) == 1 and errors[0][0] == "7" and "s-bad" in errors[0][1]
