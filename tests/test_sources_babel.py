"""BABEL label files: dense and extra formats, label choice, splits, validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from synthact.sources.babel import (
    LabelError,
    LabelFileError,
    LabelSegment,
    load_babel_file,
    split_from_filename,
)
from tests.fixtures.amass_babel import dense_entry, extra_entry, label, write_babel

FEAT = "CMU/CMU/91/91_48_poses.npz"


def test_dense_frame_labels_win_over_sequence_labels(tmp_path: Path) -> None:
    entry = dense_entry(
        7692,
        "CMU/CMU/141/141_05_poses.npz",
        3.83,
        seq_labels=[label("s-jump", ["jump"])],
        frame_labels=[
            label("f-hop", ["hop"], 1, 2, raw="hopping left"),
            label("f-stand", ["stand"], 0, 1),
            label("f-end", ["stand"], 3, 3.834),  # real BABEL: ends 4 ms after dur
        ],
    )
    (sequence,) = load_babel_file(write_babel(tmp_path / "train.json", [entry]))
    assert (sequence.sid, sequence.feat_p, sequence.dur, sequence.split) == ("7692", entry["feat_p"], 3.83, "train")
    assert sequence.label_file == "train.json"
    by_id = {s.seg_id: s for s in sequence.segments}
    assert set(by_id) == {"f-hop", "f-stand", "f-end"}
    assert by_id["f-hop"] == LabelSegment(
        seg_id="f-hop",
        start_t=1.0,
        end_t=2.0,
        act_cat=("hop",),
        raw_label="hopping left",
        proc_label="hopping left",
        annotation_id="frame-7692",
        whole_sequence=False,
        annotator="anntr-frame-7692",
    )
    assert by_id["f-end"].end_t == 3.834  # kept past dur, as BABEL's builder keeps it


def test_null_frame_ann_falls_back_to_sequence_labels_over_the_whole_sequence(tmp_path: Path) -> None:
    entry = dense_entry(12, FEAT, 4.5, seq_labels=[label("s1", ["walk", "turn"]), label("s2", ["wave"])])
    assert entry["frame_ann"] is None
    (sequence,) = load_babel_file(write_babel(tmp_path / "val.json", [entry]))
    assert sequence.split == "val"
    assert [(s.seg_id, s.start_t, s.end_t, s.act_cat, s.whole_sequence) for s in sequence.segments] == [
        ("s1", 0.0, 4.5, ("walk", "turn"), True),
        ("s2", 0.0, 4.5, ("wave",), True),
    ]


def test_test_file_with_null_labels_has_no_segments(tmp_path: Path) -> None:
    entry = dense_entry(5, FEAT, 2.0, seq_labels=None, frame_labels=None)
    entry_with_frame = dense_entry(6, FEAT, 2.0, seq_labels=None, frame_labels=[])
    entry_with_frame["frame_ann"]["labels"] = None
    sequences = load_babel_file(write_babel(tmp_path / "test.json", [entry, entry_with_frame]))
    assert [(s.sid, s.split, s.segments) for s in sequences] == [("5", "test", ()), ("6", "test", ())]


def test_labels_without_categories_are_skipped_like_babel(tmp_path: Path) -> None:
    entry = dense_entry(
        1,
        FEAT,
        3.0,
        seq_labels=[],
        frame_labels=[label("a", None, 0, 1), label("b", [], 1, 2), label("c", ["walk"], 2, 3)],
    )
    (sequence,) = load_babel_file(write_babel(tmp_path / "train.json", [entry]))
    assert [s.seg_id for s in sequence.segments] == ["c"]


def test_extra_file_uses_frame_anns_of_every_annotator(tmp_path: Path) -> None:
    entry = extra_entry(
        40,
        FEAT,
        6.0,
        seq_anns=[[label("xs", ["dance"])]],
        frame_anns=[[label("a1", ["walk"], 0, 3)], [label("b1", ["run"], 0, 2), label("b2", ["stand"], 2, 6)]],
    )
    (sequence,) = load_babel_file(write_babel(tmp_path / "extra_train.json", [entry]))
    assert sequence.split == "train"
    assert [(s.seg_id, s.annotation_id) for s in sequence.segments] == [
        ("a1", "xf-40-0"),
        ("b1", "xf-40-1"),
        ("b2", "xf-40-1"),
    ]


def test_extra_file_without_frame_anns_uses_seq_anns(tmp_path: Path) -> None:
    entries = [
        extra_entry(41, FEAT, 2.5, seq_anns=[[label("x1", ["jog"])], [label("x2", ["run"])]], frame_anns=None),
        extra_entry(42, FEAT, 2.5, seq_anns=None, frame_anns=None),
    ]
    first, second = load_babel_file(write_babel(tmp_path / "extra_val.json", entries))
    assert first.split == "val"
    assert [(s.seg_id, s.start_t, s.end_t, s.annotation_id) for s in first.segments] == [
        ("x1", 0.0, 2.5, "xs-41-0"),
        ("x2", 0.0, 2.5, "xs-41-1"),
    ]
    assert second.segments == ()


def test_sequences_sorted_by_numeric_sid(tmp_path: Path) -> None:
    entries = [dense_entry(sid, FEAT, 1.0, [label(f"s{sid}", ["walk"])]) for sid in (100, 9, 12)]
    assert [s.sid for s in load_babel_file(write_babel(tmp_path / "train.json", entries))] == ["9", "12", "100"]


@pytest.mark.parametrize(
    "name, split",
    [
        ("train.json", "train"),
        ("val.json", "val"),
        ("test.json", "test"),
        ("extra_train.json", "train"),
        ("extra_val.json", "val"),
        ("demo-train.json", "train"),
        ("labels.json", "none"),
    ],
)
def test_split_from_filename(name: str, split: str) -> None:
    assert split_from_filename(Path(name)) == split


# ------------------------------------------------------------------ errors


def _frame(seg_id: str = "bad-seg", **changes: object) -> dict:
    entry = label(seg_id, ["walk"], 0.5, 1.5)
    entry.update(changes)
    return {k: v for k, v in entry.items() if v is not ...}  # Ellipsis deletes a key


def _without(entry: dict, *keys: str) -> dict:
    """``entry`` with the key at the nested path ``keys`` removed."""
    inner = entry
    for key in keys[:-1]:
        inner = inner[key]
    del inner[keys[-1]]
    return entry


BAD_SEQUENCES = {
    "outside": (
        dense_entry(3, FEAT, 2.0, [], [_frame(start_t=1.0, end_t=9.0)]),
        "lies outside the sequence [0, 2.0] s",
    ),
    "negative start": (dense_entry(3, FEAT, 2.0, [], [_frame(start_t=-1.0)]), "lies outside the sequence"),
    "end before start": (dense_entry(3, FEAT, 2.0, [], [_frame(start_t=1.5, end_t=0.5)]), "ends before it starts"),
    "missing act_cat": (dense_entry(3, FEAT, 2.0, [], [_frame(act_cat=...)]), "missing key(s) ['act_cat']"),
    "missing end_t": (dense_entry(3, FEAT, 2.0, [], [_frame(end_t=...)]), "missing key(s) ['end_t']"),
    "act_cat not a list": (dense_entry(3, FEAT, 2.0, [], [_frame(act_cat="walk")]), "'act_cat' must be a list"),
    "text time": (dense_entry(3, FEAT, 2.0, [], [_frame(start_t="0.5")]), "'start_t' must be a finite number"),
    "missing seg_id": (dense_entry(3, FEAT, 2.0, [], [_frame(seg_id=...)]), "missing key(s) ['seg_id']"),
    "missing feat_p": (_without(dense_entry(3, FEAT, 2.0, []), "feat_p"), "missing key 'feat_p'"),
    "zero dur": (dense_entry(3, FEAT, 0.0, []), "'dur' is 0.0"),
    "missing labels": (
        _without(dense_entry(3, FEAT, 2.0, [], [_frame()]), "frame_ann", "labels"),
        "missing key 'labels'",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_SEQUENCES))
def test_bad_sequence_names_file_sid_and_segment(tmp_path: Path, case: str) -> None:
    entry, expected = BAD_SEQUENCES[case]
    good = dense_entry(4, FEAT, 2.0, [label("ok", ["walk"])])
    path = write_babel(tmp_path / "train.json", [entry, good])
    with pytest.raises(LabelError) as info:
        load_babel_file(path)
    message = str(info.value)
    assert str(path) in message and "sid 3" in message and expected in message
    if "seg_id" not in case and "label" not in case and case not in ("missing feat_p", "zero dur"):
        assert "seg_id bad-seg" in message
    # With a handler the bad item is reported and the good one kept. A bad label is dropped
    # alone (its sequence stays, here with no label left); a bad sequence is dropped whole.
    errors: list[tuple[str, LabelError]] = []
    sequences = load_babel_file(path, on_error=lambda sid, exc: errors.append((sid, exc)))
    kept = {s.sid: [seg.seg_id for seg in s.segments] for s in sequences}
    assert kept.pop("4") == ["ok"] and kept in ({}, {"3": []})
    assert [sid for sid, _ in errors] == ["3"]


@pytest.mark.parametrize(
    "content, expected",
    [(None, "label file not found"), ("{not json", "not a readable JSON file"), ("[1, 2]", "expected a JSON object")],
)
def test_unusable_file(tmp_path: Path, content: str | None, expected: str) -> None:
    path = tmp_path / "train.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(LabelFileError, match=expected) as info:
        load_babel_file(path, on_error=lambda sid, exc: None)  # file-level errors always raise
    assert str(path) in str(info.value)
