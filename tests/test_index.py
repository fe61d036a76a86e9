"""The index stage end to end: AMASS trees + BABEL files -> take table and report."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from synthact.sources.amass import MotionError
from synthact.sources.babel import LabelError
from synthact.takes.records import make_take_id
from tests.fixtures.amass_babel import (
    FAKE_PELVIS,
    corrupt_member,
    dense_entry,
    extra_entry,
    label,
    truncate,
    write_fake_smplh,
    write_smplh_poses,
)
from tests.fixtures.babel_world import BML, CMU, DFAUST, EYES, HDM, KIT, World, good_world


def test_every_labelled_sequence_becomes_a_whole_take(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report, takes = good_world(tmp_path).run()
    got = [(t.source, t.sequence_id, t.split, t.spans, t.num_frames) for t in takes]
    assert got == [
        ("BMLrub/rub001/0000_treadmill_norm_poses.npz", "2", "val", ((0, 90),), 90),
        ("CMU/CMU/01/01_01_poses.npz", "1", "train", ((0, 180),), 180),
        ("DFaust/50002/50002_knees_poses.npz", "5", "train", ((0, 60),), 60),
        (
            "Eyes_Japan_Dataset/Eyes_Japan_Dataset/kudo/jump-05-rope normal run-kudo_poses.npz",
            "4",
            "val",
            ((0, 60),),
            60,
        ),
        ("KIT/3/walking_upstairs06_stageii.npz", "3", "train", ((0, 60),), 60),
        ("MPI_HDM05/dg/HDM_dg_01-02_01_120_poses.npz", "6", "train", ((0, 120),), 120),
    ]
    feat_p = {"1": CMU, "2": BML, "3": KIT, "4": EYES, "5": DFAUST, "6": HDM}
    assert [t.take_id for t in takes] == [make_take_id(feat_p[t.sequence_id], 0) for t in takes]
    assert {t.source_fps for t in takes} == {100.0, 120.0, 59.9999885559082, 250.0, 60.0, 120.00004577636719}
    assert all(t.fps == 30.0 and t.repetition == 0 for t in takes)
    assert {t.sequence_id: t.gender for t in takes}["2"] == "female"  # bytes gender
    by_sid = {t.sequence_id: t for t in takes}
    # The source labels travel as given: seconds, categories, texts, annotators, files.
    cmu = by_sid["1"]
    assert [(lb.seg_id, lb.start_t, lb.end_t, lb.act_cat, lb.raw_label) for lb in cmu.labels] == [
        ("w1", 0.0, 6.0, ("walk",), "walk forward"),
        ("v1", 2.0, 4.0, ("wave", "hand movements"), "wave hello"),
    ]
    assert {lb.annotator for lb in cmu.labels} == {"anntr-frame-1"} and cmu.duration_s == 6.0
    assert [lb.whole_sequence for lb in by_sid["2"].labels] == [True]  # frame_ann null: the seq_ann
    assert {lb.label_file for lb in by_sid["5"].labels} == {"extra_train.json"}
    assert len({lb.annotation_id for lb in by_sid["5"].labels}) == 2  # two annotators, kept apart
    # Trajectory of the CMU walk over the whole take: source frames 0, 4, ..., 716 at 120 fps.
    mean_t = (0 + 716 / 120) / 2
    assert cmu.path_center == pytest.approx((1.0 + 0.5 * mean_t + FAKE_PELVIS[0], -2.0 + FAKE_PELVIS[1]))
    assert cmu.path_radius == pytest.approx(0.5 * mean_t)
    assert cmu.heading_deg == pytest.approx(0.0, abs=1e-9)
    assert report.num_takes == 6 and report.num_sequences == 6 and report.num_motion_files == 6
    assert report.num_frames == 570 and report.takes_per_split == {"train": 4, "val": 2}
    assert report.sequences_without_labels == 1 and report.skipped == []
    saved = json.loads((tmp_path / "out" / "report.json").read_text())
    assert saved["frames_per_split"] == {"train": 420, "val": 150} and saved["skipped"] == []
    assert "index: 6 takes (train 4, val 2), 570 frames per view" in capsys.readouterr().err


def test_repetitions_are_takes_of_their_own(tmp_path: Path) -> None:
    world = good_world(tmp_path)
    world.render["repetitions"] = 3
    _, takes = world.run()
    assert len(takes) == 18 and len({t.take_id for t in takes}) == 18
    cmu = [t for t in takes if t.sequence_id == "1"]
    assert [t.repetition for t in cmu] == [0, 1, 2]
    assert [t.take_id for t in cmu] == [make_take_id(CMU, r) for r in range(3)]
    assert len({(t.labels, t.spans) for t in cmu}) == 1


def test_labelled_span_renders_the_segments_and_short_gaps_only(tmp_path: Path) -> None:
    world = World(tmp_path)
    write_fake_smplh(tmp_path / "body")
    write_smplh_poses(world.amass / CMU, num_frames=1200, fps=120.0)  # 10 s, 300 frames at 30 fps
    world.add(
        "train.json",
        dense_entry(
            1,
            CMU,
            10.0,
            [],
            [
                label("a", ["walk"], 0.5, 2.0),
                label("b", ["turn"], 2.3, 3.0),  # 9 frames apart: one span
                label("c", ["transition"], 6.0, 7.0),  # 3 s later: its own span
            ],
        ),
    )
    world.render.update(span="labelled", span_merge_gap_s=0.5)
    _, (take,) = world.run()
    assert take.spans == ((15, 90), (180, 210)) and take.num_frames == 105
    assert take.frames()[[0, 74, 75, 104]].tolist() == [15, 89, 180, 209]


def test_output_is_deterministic(tmp_path: Path) -> None:
    world = good_world(tmp_path)
    world.run()
    first = (tmp_path / "out" / "takes.jsonl").read_bytes()
    world.run()
    assert (tmp_path / "out" / "takes.jsonl").read_bytes() == first


def test_babel_fidelity_end_t_past_dur_and_empty_frame_ann(tmp_path: Path) -> None:
    """As BABEL's create_dataset does: an end_t past dur is kept; an empty frame_ann gives nothing."""
    world = World(tmp_path)
    write_fake_smplh(tmp_path / "body")
    write_smplh_poses(world.amass / CMU, num_frames=460, fps=120.0)  # 115 frames at 30 fps
    write_smplh_poses(world.amass / BML, num_frames=300, fps=100.0)
    world.add("train.json", dense_entry(1, CMU, 3.83, [], [label("over", ["walk"], 0.0, 3.834)]))
    world.add("train.json", dense_entry(2, BML, 3.0, [label("seq", ["jog"])], []))  # frame_ann with no labels
    _, takes = world.run()
    assert [t.sequence_id for t in takes] == ["1"]  # no fallback to sid 2's seq_ann
    (over,) = takes[0].labels
    assert over.end_t == 3.834  # not cut back to dur = 3.83
    from synthact.takes.timeline import segment_frames

    assert segment_frames(over, 30.0, takes[0].num_sequence_frames) == (0, 115)  # the last frame is in


@pytest.mark.parametrize("dense_has_frames", [True, False])
def test_an_extra_entry_takes_the_dense_files_annotation_type(tmp_path: Path, dense_has_frames: bool) -> None:
    world = World(tmp_path)
    write_fake_smplh(tmp_path / "body")
    write_smplh_poses(world.amass / CMU, num_frames=480, fps=120.0)
    frames = [label("df", ["walk"], 0.0, 2.0)] if dense_has_frames else None
    world.add("train.json", dense_entry(1, CMU, 4.0, [label("ds", ["walk"])], frames))
    world.add(
        "extra_train.json", extra_entry(1, CMU, 4.0, [[label("xs", ["stand"])]], [[label("xf", ["run"], 0.0, 1.0)]])
    )
    _, (take,) = world.run()
    extra = {lb.seg_id for lb in take.labels if lb.label_file == "extra_train.json"}
    assert extra == ({"xf"} if dense_has_frames else {"xs"})


def test_ntu_named_sources_carry_their_capture_ids(tmp_path: Path) -> None:
    world = World(tmp_path)
    write_fake_smplh(tmp_path / "body")
    rel = "NTU/S007C002P015R002A023_poses.npz"
    write_smplh_poses(world.amass / rel, num_frames=60, fps=30.0)
    world.add("train.json", dense_entry(1, rel, 2.0, [label("x", ["wave"])], None))
    _, (take,) = world.run()
    assert (take.capture_setup, take.capture_replication) == (7, 2)


def test_notes_name_what_was_adapted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    world = World(tmp_path)
    write_fake_smplh(tmp_path / "body")
    write_smplh_poses(world.amass / CMU, num_frames=1, fps=120.0)  # one frame
    write_smplh_poses(world.amass / BML, num_frames=100, fps=100.0)  # 1 s of motion
    world.add("train.json", dense_entry(1, CMU, 1.0, [label("one", ["stand"])], None))
    world.add("train.json", dense_entry(2, BML, 2.0, [], [label("long", ["walk"], 0.0, 2.0)]))
    report, takes = world.run()
    err = capsys.readouterr().err
    assert f"{CMU}: only 1 frame(s) at 30 fps" in err
    assert f"{BML}: 1 label(s) end after the motion's 1.000 s (e.g. seg_id long)" in err
    assert len(report.notes) == 3 and [t.num_frames for t in takes] == [30, 1]  # the still: its label too


# ------------------------------------------------------------------ bad inputs


def _bad_motion(write: Callable[[Path], Any], expected: str) -> Callable[[World, str], tuple[str, str]]:
    """A bad motion file with good labels; the error names the motion file."""

    def build(world: World, case: str) -> tuple[str, str]:
        rel = f"Bad/{case}/x_poses.npz"
        path = world.amass / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        write(path)
        world.add(
            "train.json",
            dense_entry(
                100 + len(world.labels["train.json"]),
                f"Bad/Bad/{case}/x_poses.npz",
                1.0,
                [label(f"seg-{case}", ["walk"])],
            ),
        )
        return str(path), expected

    return build


def _bad_labels(change: Callable[[dict[str, Any]], None], expected: str) -> Callable[[World, str], tuple[str, str]]:
    """A good motion with a bad label entry; the error names the label file, sid and seg_id."""

    def build(world: World, case: str) -> tuple[str, str]:
        rel = f"Ok/{case}/x_poses.npz"
        write_smplh_poses(world.amass / rel, num_frames=120)
        entry = dense_entry(
            200 + len(world.labels["train.json"]), rel, 1.0, [], [label(f"seg-{case}", ["walk"], 0.0, 1.0)]
        )
        change(entry)
        world.add("train.json", entry)
        return str(world.root / "babel" / "train.json"), expected

    return build


def _broken_label_file(world: World, case: str) -> tuple[str, str]:
    path = world.root / "babel" / "broken_train.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{"1": {"feat_p": ')
    world.labels["broken_train.json"] = []
    return str(path), "not a readable JSON file"


def _frame_label(entry: dict[str, Any]) -> dict[str, Any]:
    return entry["frame_ann"]["labels"][0]


BAD_CASES: dict[str, Callable[[World, str], tuple[str, str]]] = {
    "truncated npz": _bad_motion(lambda p: truncate(write_smplh_poses(p)), "truncated or damaged npz"),
    "corrupt zip": _bad_motion(lambda p: p.write_bytes(b"\x00garbage" * 50), "not an npz archive"),
    "bad crc": _bad_motion(lambda p: corrupt_member(write_smplh_poses(p)), "cannot read 'poses', corrupt data"),
    "missing poses": _bad_motion(lambda p: write_smplh_poses(p, poses=None), "missing key 'poses'"),
    "wrong width": _bad_motion(
        lambda p: write_smplh_poses(p, num_frames=5, poses=np.zeros((5, 72))), "72 values per frame"
    ),
    "nan": _bad_motion(
        lambda p: write_smplh_poses(p, num_frames=5, poses=np.full((5, 156), np.nan)), "'poses' contains NaN"
    ),
    "inf": _bad_motion(
        lambda p: write_smplh_poses(p, num_frames=5, trans=np.full((5, 3), -np.inf)), "'trans' contains inf"
    ),
    "zero length": _bad_motion(
        lambda p: write_smplh_poses(p, num_frames=0, poses=np.zeros((0, 156)), trans=np.zeros((0, 3))),
        "zero-length motion",
    ),
    "zero fps": _bad_motion(
        lambda p: write_smplh_poses(p, mocap_framerate=np.array(0.0)), "frame rate must be positive"
    ),
    "missing fps": _bad_motion(lambda p: write_smplh_poses(p, mocap_framerate=None), "missing frame rate"),
    "fps below 1": _bad_motion(lambda p: write_smplh_poses(p, fps=0.5), "below 1 fps"),
    "missing motion file": _bad_motion(lambda p: None, "motion file not found under"),
    "segment outside": _bad_labels(
        lambda e: _frame_label(e).update(start_t=0.5, end_t=7.0), "lies outside the sequence"
    ),
    "end before start": _bad_labels(lambda e: _frame_label(e).update(start_t=0.8, end_t=0.2), "ends before it starts"),
    "missing act_cat": _bad_labels(lambda e: _frame_label(e).pop("act_cat"), "missing key(s) ['act_cat']"),
    "missing feat_p": _bad_labels(lambda e: e.pop("feat_p"), "missing key 'feat_p'"),
    "broken label file": _broken_label_file,
}


def test_lenient_skips_every_bad_input_and_keeps_the_good(tmp_path: Path) -> None:
    world = good_world(tmp_path)
    expected = {case: build(world, case) for case, build in BAD_CASES.items()}
    world.clips["on_bad_input"] = "lenient"
    report, takes = world.run()
    assert {t.sequence_id for t in takes} == {"1", "2", "3", "4", "5", "6"}  # every good take is still there
    assert len(report.skipped) == len(BAD_CASES)
    reasons = [s.reason for s in report.skipped]
    for case, (file, phrase) in expected.items():
        matching = [r for r in reasons if phrase in r]
        assert len(matching) == 1, f"{case}: {phrase!r} in {reasons}"
        if case != "missing motion file":  # that one names the feat_p and every path tried
            assert file in matching[0], case
    assert len(set(reasons)) == len(reasons)  # each bad input has its own message
    saved = json.loads((tmp_path / "out" / "report.json").read_text())
    assert len(saved["skipped"]) == len(BAD_CASES) and all(
        {"file", "item", "reason"} <= set(s) for s in saved["skipped"]
    )


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_strict_stops_with_a_clear_message(tmp_path: Path, case: str) -> None:
    world = good_world(tmp_path)
    file, phrase = BAD_CASES[case](world, case)
    with pytest.raises((MotionError, LabelError)) as info:
        world.run()
    message = str(info.value)
    assert phrase in message
    assert (file if case != "missing motion file" else f"Bad/Bad/{case}/x_poses.npz") in message
    assert "on_bad_input: lenient" in message
    assert not (tmp_path / "out" / "takes.jsonl").exists()  # no partial table


def test_a_sequence_listed_twice_is_one_take_with_each_label_once(tmp_path: Path) -> None:
    world = good_world(tmp_path)
    world.add("val.json", world.labels["train.json"][0])  # sid 1 again, in another file
    _, takes = world.run()
    (cmu,) = [t for t in takes if t.sequence_id == "1"]
    assert cmu.split == "train" and [lb.seg_id for lb in cmu.labels] == ["w1", "v1"]  # the first file read wins
