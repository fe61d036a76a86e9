"""Label protocols over takes: BABEL's chunks and whole segments, class tables, clip rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from synthact.labels.protocols import ProtocolReport, choose_clips, class_table, clip_rows
from synthact.labels.tables import ClipRow, make_clip_id, read_class_table, read_clip_rows, write_protocol
from synthact.sources.babel_categories import category_index
from tests.fixtures.amass_babel import dense_entry, label, write_fake_smplh, write_smplh_poses
from tests.fixtures.babel_world import CMU, World, good_world

SETTINGS = {"chunk_seconds": 5.0, "min_frames": 1}


def protocol_rows(world: World, protocol: str, settings: dict | None = None) -> tuple[list[ClipRow], ProtocolReport]:
    _, takes = world.run()
    report = ProtocolReport(protocol)
    clips = choose_clips(protocol, [(t, "shard-a") for t in takes], settings or SETTINGS, report)
    return clip_rows(protocol, clips, class_table(protocol, clips, None)), report


def test_babel_chunks_match_babels_protocol(tmp_path: Path) -> None:
    rows, _ = protocol_rows(good_world(tmp_path), "babel-chunks-all")
    got = [
        (r.source, r.sequence_id, r.split, r.segment_id, r.chunk, r.frame_start, r.frame_stop, r.label) for r in rows
    ]
    eyes = "Eyes_Japan_Dataset/Eyes_Japan_Dataset/kudo/jump-05-rope normal run-kudo_poses.npz"
    assert got == [
        ("BMLrub/rub001/0000_treadmill_norm_poses.npz", "2", "val", "j2", 0, 0, 90, "jog"),
        ("CMU/CMU/01/01_01_poses.npz", "1", "train", "w1", 0, 0, 150, "walk"),
        ("CMU/CMU/01/01_01_poses.npz", "1", "train", "w1", 1, 150, 180, "walk"),
        ("CMU/CMU/01/01_01_poses.npz", "1", "train", "v1", 0, 60, 120, "wave"),
        ("DFaust/50002/50002_knees_poses.npz", "5", "train", "k5a", 0, 0, 30, "knee movement"),
        ("DFaust/50002/50002_knees_poses.npz", "5", "train", "k5b", 0, 0, 59, "squat"),
        (eyes, "4", "val", "jr4", 0, 0, 60, "jump"),
        ("KIT/3/walking_upstairs06_stageii.npz", "3", "train", "jj3", 0, 0, 60, "jumping jacks"),
        ("KIT/3/walking_upstairs06_stageii.npz", "3", "train", "e3", 0, 15, 30, "eat"),
        ("KIT/3/walking_upstairs06_stageii.npz", "3", "train", "m3", 0, 30, 60, "moonwalk"),
        ("MPI_HDM05/dg/HDM_dg_01-02_01_120_poses.npz", "6", "train", "d6", 0, 0, 120, "dance"),
    ]
    by_key = {(r.segment_id, r.chunk): r for r in rows}
    walk0 = by_key["w1", 0]
    assert walk0.labels == ("walk",)
    assert walk0.category_overlap == {"hand movements": 0.4, "walk": 1.0, "wave": 0.4}
    assert walk0.timeline == (("walk", 0, 150), ("hand movements", 60, 120), ("wave", 60, 120))
    assert by_key["w1", 1].category_overlap == {"walk": 1.0}
    assert by_key["v1", 0].labels == ("wave", "hand movements")
    assert by_key["jj3", 0].category_overlap == {"eat": 0.25, "jump": 1.0, "jumping jacks": 1.0, "moonwalk": 0.5}
    # Annotators are not mixed: k5b's overlap ignores the other annotator's knee label.
    assert by_key["k5b", 0].category_overlap == {"squat": 1.0}
    # On a whole take, take frames are sequence frames; ids come from (take, protocol, segment, chunk).
    assert all((r.take_frame_start, r.take_frame_stop) == (r.frame_start, r.frame_stop) for r in rows)
    assert all(r.clip_id == make_clip_id(r.take_id, "babel-chunks-all", r.segment_id, r.chunk) for r in rows)
    assert len({r.clip_id for r in rows}) == len(rows) and all(r.shard == "shard-a" for r in rows)


@pytest.mark.parametrize(
    "protocol, expected",
    [
        ("babel-chunks-60", {"jj3": "jump"}),  # 'jumping jacks' is BABEL id 99; 'jump' (16) is in BABEL-60
        ("babel-chunks-120", {"jj3": "jumping jacks"}),
        ("babel-chunks-150", {"jj3": "jumping jacks", "e3": "eat"}),  # eat is id 126; 'moonwalk' is no category
        ("babel-chunks-all", {"jj3": "jumping jacks", "e3": "eat", "m3": "moonwalk"}),
    ],
)
def test_category_subsets_and_babel_class_indices(tmp_path: Path, protocol: str, expected: dict[str, str]) -> None:
    rows, report = protocol_rows(good_world(tmp_path), protocol)
    assert {r.segment_id: r.label for r in rows if r.sequence_id == "3"} == expected
    assert sum(report.dropped_outside_classes.values()) == 3 - len(expected)
    _, takes = good_world(tmp_path / "again").run()
    clips = choose_clips(protocol, [(t, "s") for t in takes], SETTINGS, ProtocolReport(protocol))
    classes = class_table(protocol, clips, None)
    assert classes.order == "babel"
    for row in rows:
        assert classes.classes[row.label_index] == row.label and row.label in row.labels
        if row.label != "moonwalk":
            assert row.label_index == category_index(row.label)  # BABEL's own index
    if protocol != "babel-chunks-all":
        size = int(protocol.rsplit("-", 1)[1])
        assert len(classes.classes) == size and all(i < size for r in rows for i in r.label_indices)
    if report.dropped_outside_classes:
        assert "clips dropped: no category in the protocol's classes" in report.messages()[0]


def test_chunk_seconds_and_min_frames(tmp_path: Path) -> None:
    rows, _ = protocol_rows(good_world(tmp_path), "babel-chunks-all", {"chunk_seconds": 2.0, "min_frames": 40})
    assert [(r.frame_start, r.frame_stop) for r in rows if r.segment_id == "w1"] == [(0, 60), (60, 120), (120, 180)]
    assert all(r.num_frames >= 40 for r in rows)
    assert not any(r.segment_id in ("k5a", "e3") for r in rows)  # 30 and 15 frames


def test_segments_protocol_keeps_whole_segments_every_category_and_builds_classes(tmp_path: Path) -> None:
    rows, _ = protocol_rows(good_world(tmp_path), "segments")
    by_seg = {r.segment_id: r for r in rows}
    assert (by_seg["w1"].frame_start, by_seg["w1"].frame_stop, by_seg["w1"].chunk) == (0, 180, 0)  # 6 s, not cut
    assert (by_seg["w1"].start_t, by_seg["w1"].end_t) == (0.0, 6.0)  # the label's own times
    assert by_seg["v1"].labels == ("wave", "hand movements") and by_seg["m3"].label == "moonwalk"
    _, takes = good_world(tmp_path / "again").run()
    clips = choose_clips("segments", [(t, "s") for t in takes], SETTINGS, ProtocolReport("segments"))
    classes = class_table("segments", clips, None)
    assert classes.order == "frequency" and set(classes.classes) == {c for r in rows for c in r.labels}
    assert classes.classes[0] == "jump"  # the only category of two segments (jr4, jj3)
    assert classes.babel150_index[classes.classes.index("jump")] == category_index("jump")
    assert classes.babel150_index[classes.classes.index("moonwalk")] == -1
    assert sum(classes.counts["train"].values()) + sum(classes.counts["val"].values()) == len(rows)
    official = class_table("segments", clips, ("zzz", *sorted(classes.classes)))
    assert official.order == "dataset" and official.classes[0] == "zzz"  # a dataset's own order is kept


def test_a_labelled_span_take_indexes_its_own_frames(tmp_path: Path) -> None:
    world = World(tmp_path)
    write_fake_smplh(tmp_path / "body")
    write_smplh_poses(world.amass / CMU, num_frames=1200, fps=120.0)
    world.add(
        "train.json", dense_entry(1, CMU, 10.0, [], [label("a", ["walk"], 0.5, 2.0), label("c", ["run"], 6.0, 7.0)])
    )
    world.render.update(span="labelled", span_merge_gap_s=0.5)
    rows, _ = protocol_rows(world, "segments")
    spans = {r.segment_id: (r.frame_start, r.frame_stop, r.take_frame_start, r.take_frame_stop) for r in rows}
    assert spans == {"a": (15, 60, 0, 45), "c": (180, 210, 45, 75)}


def test_protocol_files_round_trip(tmp_path: Path) -> None:
    rows, _ = protocol_rows(good_world(tmp_path), "babel-chunks-120")
    _, takes = good_world(tmp_path / "again").run()
    clips = choose_clips("babel-chunks-120", [(t, "s") for t in takes], SETTINGS, ProtocolReport("x"))
    classes = class_table("babel-chunks-120", clips, None)
    count = write_protocol(tmp_path / "p" / "clips.jsonl", tmp_path / "p" / "classes.json", rows, classes)
    assert count == len(rows)
    assert list(read_clip_rows(tmp_path / "p" / "clips.jsonl")) == rows
    assert read_class_table(tmp_path / "p" / "classes.json") == classes
