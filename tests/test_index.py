"""The index stage end to end: AMASS trees + BABEL files -> clip table and report."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

from synthact.clips.index import build_index
from synthact.clips.records import Clip, LabelSpan, make_clip_id, read_clip_table
from synthact.sources.amass import MotionError
from synthact.sources.babel import LabelError
from tests.fixtures.amass_babel import (
    FAKE_PELVIS,
    corrupt_member,
    dense_entry,
    extra_entry,
    label,
    truncate,
    write_babel,
    write_fake_smplh,
    write_smplh_poses,
    write_smplx_stageii,
    write_subject_files,
)

CMU = "CMU/CMU/01/01_01_poses.npz"
BML = "BMLrub/BioMotionLab_NTroje/rub001/0000_treadmill_norm_poses.npz"
KIT = "KIT/KIT/3/walking_upstairs06_poses.npz"
EYES = "EyesJapanDataset/Eyes_Japan_Dataset/kudo/jump-05-rope normal run-kudo_poses.npz"
DFAUST = "DFaust67/DFaust_67/50002/50002_knees_poses.npz"
HDM = "MPIHDM05/MPI_HDM05/dg/HDM_dg_01-02_01_120_poses.npz"


@dataclass
class World:
    """An AMASS tree, body models and BABEL files in a tmp dir, and the config pointing at them."""

    root: Path
    labels: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    clips: dict[str, Any] = field(default_factory=dict)

    @property
    def amass(self) -> Path:
        return self.root / "amass"

    def add(self, file: str, entry: dict[str, Any]) -> None:
        self.labels.setdefault(file, []).append(entry)

    def config(self) -> dict[str, Any]:
        for name, entries in self.labels.items():
            if not (self.root / "babel" / name).exists():
                write_babel(self.root / "babel" / name, entries)
        clips = {"fps": 30, "max_seconds": 5.0, "min_frames": 1, "categories": "all", "on_bad_input": "strict"}
        return {
            "motion": {
                "amass_root": str(self.amass),
                "babel_dir": str(self.root / "babel"),
                "babel_files": sorted(self.labels),
                "body_model_dir": str(self.root / "body"),
            },
            "clips": {**clips, **self.clips},
        }

    def run(self) -> tuple[Any, list[Clip]]:
        out = self.root / "out" / "clips.jsonl"
        out.parent.mkdir(exist_ok=True)
        report = build_index(self.config(), out, self.root / "out" / "report.json")
        return report, list(read_clip_table(out))


def good_world(root: Path) -> World:
    """Six motions covering both layouts, both releases, str/bytes gender, both rate keys, six rates."""
    world = World(root)
    write_fake_smplh(root / "body")
    a = world.amass
    write_smplh_poses(a / CMU, num_frames=720, fps=120.0, gender="male", trans=_walk(720, 120.0))
    write_subject_files(a / "CMU/CMU/01")
    write_smplh_poses(a / "BMLrub/rub001/0000_treadmill_norm_poses.npz", num_frames=300, fps=100.0, gender=b"female")
    write_smplx_stageii(a / "KIT/3/walking_upstairs06_stageii.npz", num_frames=120, fps=60.0, gender="male")
    write_smplh_poses(
        a / "Eyes_Japan_Dataset/Eyes_Japan_Dataset/kudo/jump-05-rope normal run-kudo_poses.npz",
        num_frames=500,
        fps=250.0,
    )
    write_smplh_poses(
        a / "DFaust/50002/50002_knees_poses.npz", num_frames=118, fps=59.9999885559082, fps_key="mocap_frame_rate"
    )
    write_smplh_poses(a / "MPI_HDM05/dg/HDM_dg_01-02_01_120_poses.npz", num_frames=480, fps=120.00004577636719)
    world.add("train.json", dense_entry(1, CMU, 6.0, [label("s1", ["walk"])], [
        label("w1", ["walk"], 0.0, 6.0, raw="walk forward"),
        label("v1", ["wave", "hand movements"], 2.0, 4.0, raw="wave hello"),
    ]))  # fmt: skip
    world.add("val.json", dense_entry(2, BML, 3.0, [label("j2", ["jog"])], None))  # frame_ann: null
    world.add("train.json", dense_entry(3, KIT, 2.0, [], [
        label("jj3", ["jumping jacks", "jump"], 0.0, 2.0),
        label("e3", ["eat"], 0.5, 1.0),
        label("m3", ["moonwalk"], 1.0, 2.0),
    ]))  # fmt: skip
    world.add("val.json", dense_entry(4, EYES, 2.0, [], [label("jr4", ["jump"], 0.0, 2.0)]))
    world.add("extra_train.json", extra_entry(5, DFAUST, 1.97, None, [
        [label("k5a", ["knee movement"], 0.0, 1.0)],
        [label("k5b", ["squat"], 0.0, 1.97)],
    ]))  # fmt: skip
    world.add("train.json", dense_entry(6, HDM, 4.0, [label("d6", ["dance"])], None))
    world.add("test.json", dense_entry(7, "CMU/CMU/99/missing_poses.npz", 2.0, None, None))  # labels withheld
    return world


def _walk(num_frames: int, fps: float) -> np.ndarray:
    trans = np.zeros((num_frames, 3))
    trans[:, 0] = 1.0 + 0.5 * np.arange(num_frames) / fps  # 0.5 m/s along +X
    trans[:, 1] = -2.0
    return trans


def test_end_to_end_clips_labels_splits(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report, clips = good_world(tmp_path).run()
    got = [
        (c.source, c.sequence_id, c.split, c.segment_id, c.chunk, c.frame_start, c.frame_stop, c.primary_category)
        for c in clips
    ]
    assert got == [
        ("BMLrub/rub001/0000_treadmill_norm_poses.npz", "2", "val", "j2", 0, 0, 90, "jog"),
        ("CMU/CMU/01/01_01_poses.npz", "1", "train", "w1", 0, 0, 150, "walk"),
        ("CMU/CMU/01/01_01_poses.npz", "1", "train", "v1", 0, 60, 120, "wave"),
        ("CMU/CMU/01/01_01_poses.npz", "1", "train", "w1", 1, 150, 180, "walk"),
        ("DFaust/50002/50002_knees_poses.npz", "5", "train", "k5a", 0, 0, 30, "knee movement"),
        ("DFaust/50002/50002_knees_poses.npz", "5", "train", "k5b", 0, 0, 59, "squat"),
        (
            "Eyes_Japan_Dataset/Eyes_Japan_Dataset/kudo/jump-05-rope normal run-kudo_poses.npz",
            "4",
            "val",
            "jr4",
            0,
            0,
            60,
            "jump",
        ),
        ("KIT/3/walking_upstairs06_stageii.npz", "3", "train", "jj3", 0, 0, 60, "jumping jacks"),
        ("KIT/3/walking_upstairs06_stageii.npz", "3", "train", "e3", 0, 15, 30, "eat"),
        ("KIT/3/walking_upstairs06_stageii.npz", "3", "train", "m3", 0, 30, 60, "moonwalk"),
        ("MPI_HDM05/dg/HDM_dg_01-02_01_120_poses.npz", "6", "train", "d6", 0, 0, 120, "dance"),
    ]
    feat_p = {"1": CMU, "2": BML, "3": KIT, "4": EYES, "5": DFAUST, "6": HDM}
    assert [c.clip_id for c in clips] == [make_clip_id(feat_p[c.sequence_id], c.segment_id, c.chunk) for c in clips]
    assert {c.source_fps for c in clips} == {100.0, 120.0, 59.9999885559082, 250.0, 60.0, 120.00004577636719}
    assert all(c.fps == 30.0 for c in clips)
    assert {c.sequence_id: c.gender for c in clips}["2"] == "female"  # bytes gender

    by_key = {(c.segment_id, c.chunk): c for c in clips}
    walk0 = by_key["w1", 0]
    assert walk0.categories == ("walk",)
    assert walk0.category_overlap == {"hand movements": 0.4, "walk": 1.0, "wave": 0.4}
    assert walk0.timeline == (
        LabelSpan("walk", 0, 150, "walk forward"),
        LabelSpan("hand movements", 60, 120, "wave hello"),
        LabelSpan("wave", 60, 120, "wave hello"),
    )
    assert by_key["w1", 1].category_overlap == {"walk": 1.0}
    assert by_key["v1", 0].categories == ("wave", "hand movements")
    assert by_key["jj3", 0].category_overlap == {"eat": 0.25, "jump": 1.0, "jumping jacks": 1.0, "moonwalk": 0.5}
    # Annotators are not mixed: k5b's overlap ignores the other annotator's knee label.
    assert by_key["k5b", 0].category_overlap == {"squat": 1.0}

    # Trajectory of the CMU walk: source frames 0, 4, ..., 596 at 120 fps (t = 0 .. 4.9667 s).
    mean_t = (0 + 596 / 120) / 2
    assert walk0.path_center == pytest.approx((1.0 + 0.5 * mean_t + FAKE_PELVIS[0], -2.0 + FAKE_PELVIS[1]))
    assert walk0.path_radius == pytest.approx(0.5 * mean_t)
    assert walk0.heading_deg == pytest.approx(0.0, abs=1e-9)

    assert report.num_clips == 11 and report.num_sequences == 6 and report.num_motion_files == 6
    assert report.sequences_without_labels == 1 and report.skipped == []
    assert report.clips_per_split == {"train": 9, "val": 2}
    assert report.clips_per_category["walk"] == 2 and report.clips_per_category["moonwalk"] == 1
    saved = json.loads((tmp_path / "out" / "report.json").read_text())
    assert saved["clips_per_split"] == {"train": 9, "val": 2} and saved["skipped"] == []
    assert "index: 11 clips (train 9, val 2)" in capsys.readouterr().err


def test_output_is_deterministic(tmp_path: Path) -> None:
    world = good_world(tmp_path)
    world.run()
    first = (tmp_path / "out" / "clips.jsonl").read_bytes()
    world.run()
    assert (tmp_path / "out" / "clips.jsonl").read_bytes() == first


@pytest.mark.parametrize(
    "subset, expected",
    [
        ("babel60", {"jj3": "jump"}),  # 'jumping jacks' is BABEL id 99; 'jump' (16) is in BABEL-60
        ("babel120", {"jj3": "jumping jacks"}),
        ("babel150", {"jj3": "jumping jacks", "e3": "eat"}),  # eat is id 126; 'moonwalk' is no category
        ("all", {"jj3": "jumping jacks", "e3": "eat", "m3": "moonwalk"}),
    ],
)
def test_category_subsets(tmp_path: Path, subset: str, expected: dict[str, str]) -> None:
    world = good_world(tmp_path)
    world.clips["categories"] = subset
    report, clips = world.run()
    assert {c.segment_id: c.primary_category for c in clips if c.sequence_id == "3"} == expected
    assert report.chunks_outside_categories == 3 - len(expected)
    assert all(c.primary_category in c.categories for c in clips)


def test_max_seconds_and_min_frames(tmp_path: Path) -> None:
    world = good_world(tmp_path)
    world.clips.update(max_seconds=2.0, min_frames=40)
    _, clips = world.run()
    walk = [(c.frame_start, c.frame_stop) for c in clips if c.segment_id == "w1"]
    assert walk == [(0, 60), (60, 120), (120, 180)]
    assert all(c.num_frames >= 40 for c in clips)
    assert not any(c.segment_id in ("k5a", "e3") for c in clips)  # 30 and 15 frames


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
    report, clips = world.run()
    assert len(clips) == 11  # every good clip is still there
    assert {c.sequence_id for c in clips} == {"1", "2", "3", "4", "5", "6"}
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
    assert not (tmp_path / "out" / "clips.jsonl").exists()  # no partial table


def test_a_label_listed_twice_is_indexed_once(tmp_path: Path) -> None:
    world = good_world(tmp_path)
    world.add("val.json", world.labels["train.json"][0])  # sid 1 again, in another file
    report, clips = world.run()
    assert len(clips) == 11 and report.duplicate_clips == 3
    assert {c.split for c in clips if c.sequence_id == "1"} == {"train"}  # the first file read wins
