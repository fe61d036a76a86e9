"""Resampling (BABEL's frame choice), take spans, cutting segments into clips, and trajectories."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from synthact.labels.cutting import LabelSpan, chunk_bounds, cut_labels
from synthact.sources.babel import LabelSegment
from synthact.takes.resample import resample_indices
from synthact.takes.timeline import active_frames, first_frame_at, merge_spans, segment_frames, take_spans
from synthact.takes.trajectory import axis_angle_to_matrix, clip_trajectory, heading_deg, pelvis_rest_joint
from tests.fixtures.amass_babel import (
    FAKE_PELVIS,
    FAKE_PELVIS_PER_BETA0,
    root_facing,
    rotation_matrix,
    write_fake_smplh,
)

# ------------------------------------------------------------------ resampling
# Expectations worked out by hand from BABEL's rule (see resample.py's docstring).

OFFSETS_100 = [
    0,
    3,
    6,
    10,
    13,
    16,
    20,
    23,
    26,
    30,
    33,
    36,
    40,
    43,
    46,
    50,
    53,
    56,
    60,
    63,
    66,
    70,
    73,
    76,
    80,
    83,
    86,
    90,
    93,
    96,
]  # floor(10/3 * j)
OFFSETS_250 = [
    0,
    8,
    16,
    25,
    33,
    41,
    50,
    58,
    66,
    75,
    83,
    91,
    100,
    108,
    116,
    125,
    133,
    141,
    150,
    158,
    166,
    175,
    183,
    191,
    200,
    208,
    216,
    225,
    233,
    241,
]  # floor(25/3 * j)
# 59.9999885559082 fps: blocks of int(59.99..) = 59 frames; floor(1.99999962 * j) = 2j - 1 for j >= 1.
OFFSETS_5999 = [0] + [2 * j - 1 for j in range(1, 30)]


@pytest.mark.parametrize(
    "num_frames, fps, expected",
    [
        (10, 120.0, [0, 4, 8]),
        (12, 120.0, [0, 4, 8]),
        (13, 120.0, [0, 4, 8, 12]),
        (7, 60.0, [0, 2, 4, 6]),
        (12, 150.0, [0, 5, 10]),
        (10, 150.0, [0, 5]),
        (4, 30.0, [0, 1, 2, 3]),
        (9, 120.00004577636719, [0, 4, 8]),
        (8, 120.00004577636719, [0, 4]),
        (205, 100.0, OFFSETS_100 + [100 + o for o in OFFSETS_100] + [200, 203]),
        (200, 100.0, OFFSETS_100 + [100 + o for o in OFFSETS_100]),
        (260, 250.0, OFFSETS_250 + [250, 258]),
        (125, 59.9999885559082, OFFSETS_5999 + [59 + o for o in OFFSETS_5999] + [118, 119, 121, 123]),
        (0, 120.0, []),
    ],
)
def test_resample_indices_match_babel(num_frames: int, fps: float, expected: list[int]) -> None:
    indices = resample_indices(num_frames, fps, 30)
    assert indices.dtype == np.int64
    assert indices.tolist() == expected


def test_resample_non_integer_multiple_keeps_babel_frame_count() -> None:
    # 120.00004577636719 / 30 = 4.0000015258789: BABEL steps by int(4.0000015) = 4 but
    # takes ceil(T / 4.0000015) frames. For T = 2,700,001 that is
    # ceil(674999.99...) = 675000 frames, one fewer than every 4th frame would give.
    indices = resample_indices(2_700_001, 120.00004577636719, 30)
    assert len(indices) == 675_000
    assert indices[-1] == 2_699_996
    assert np.all(np.diff(indices) == 4)


def test_resample_one_second_of_each_rate_gives_30_frames() -> None:
    for fps in (120.0, 100.0, 60.0, 250.0, 150.0):
        assert len(resample_indices(int(fps), fps, 30)) == 30


@pytest.mark.parametrize("args", [(10, 0.5, 30), (10, math.nan, 30), (10, 120.0, 29.97), (-1, 120.0, 30)])
def test_resample_rejects_bad_rates(args: tuple) -> None:
    with pytest.raises(ValueError):
        resample_indices(*args)


# ------------------------------------------------------------------ cutting


def seg(seg_id: str, cats: list[str], start: float, end: float, raw: str = "") -> LabelSegment:
    return LabelSegment(seg_id, start, end, tuple(cats), raw or cats[0], raw or cats[0], "a")


def test_first_frame_at_is_exact() -> None:
    assert first_frame_at(0.0, 30) == 0
    assert first_frame_at(1.0, 30) == 30
    assert first_frame_at(1.01, 30) == 31  # 30/30 < 1.01 <= 31/30
    assert first_frame_at(0.1, 30) == 3  # 0.1 * 30 = 3.0000000000000004 in floats; 3/30 >= 0.1 holds
    assert first_frame_at(-2.0, 30) == 0


def test_segment_and_active_frames() -> None:
    label = seg("s", ["walk"], 1.01, 2.5)
    assert segment_frames(label, 30, 1000) == (30, 75)  # int(30.3), int(75.0)
    assert active_frames(label, 30, 1000) == (31, 75)
    assert segment_frames(label, 30, 50) == (30, 50)  # cut to the sequence
    assert active_frames(seg("t", ["walk"], 9.0, 10.0), 30, 100) == (100, 100)


def test_chunk_bounds_are_contiguous_and_unpadded() -> None:
    assert chunk_bounds(0, 360, 150) == [(0, 150), (150, 300), (300, 360)]
    assert chunk_bounds(10, 160, 150) == [(10, 160)]
    assert chunk_bounds(5, 5, 150) == []


def test_long_segment_is_cut_into_150_frame_chunks_without_padding() -> None:
    chunks = cut_labels([seg("w", ["walk"], 0.0, 12.0)], fps=30, num_frames=400, max_frames=150)
    assert [(c.chunk, c.frame_start, c.frame_stop, c.num_frames) for c in chunks] == [
        (0, 0, 150, 150),
        (1, 150, 300, 150),
        (2, 300, 360, 60),
    ]
    assert all(c.category_overlap == {"walk": 1.0} for c in chunks)
    assert chunks[2].timeline == (LabelSpan("walk", 0, 60, "walk"),)


def test_min_frames_drops_the_short_tail() -> None:
    label = seg("w", ["walk"], 0.0, 5.1)  # 153 frames
    assert [c.num_frames for c in cut_labels([label], 30, 400, 150)] == [150, 3]
    assert [c.num_frames for c in cut_labels([label], 30, 400, 150, min_frames=5)] == [150]


def test_overlaps_categories_and_timeline() -> None:
    walk = seg("w", ["walk", "forward movement"], 0.0, 4.0, raw="walking")
    wave = seg("v", ["wave"], 2.0, 6.0, raw="waving")
    stand = seg("s", ["stand"], 6.0, 7.0)
    chunks = {c.label.seg_id: c for c in cut_labels([walk, wave, stand], 30, 300, 150)}
    c = chunks["w"]
    assert (c.frame_start, c.frame_stop) == (0, 120)
    assert c.categories == ("walk", "forward movement")
    assert c.category_overlap == {"forward movement": 1.0, "walk": 1.0, "wave": 0.5}
    assert c.timeline == (
        LabelSpan("forward movement", 0, 120, "walking"),
        LabelSpan("walk", 0, 120, "walking"),
        LabelSpan("wave", 60, 120, "waving"),
    )
    v = chunks["v"]
    assert (v.frame_start, v.frame_stop) == (60, 180)
    assert v.category_overlap == {"forward movement": 0.5, "walk": 0.5, "wave": 1.0}
    assert v.timeline == (
        LabelSpan("forward movement", 0, 60, "walking"),
        LabelSpan("walk", 0, 60, "walking"),
        LabelSpan("wave", 0, 120, "waving"),
    )
    assert chunks["s"].category_overlap == {"stand": 1.0}  # wave ends where stand starts


def test_overlap_rounds_like_babel_and_counts_each_frame_once() -> None:
    a = seg("a", ["walk"], 0.0, 3.0)
    b = seg("b", ["walk"], 1.0, 2.0)  # same category overlapping: still 1.0, not 1.33
    c = seg("c", ["wave"], 0.0, 1.0)
    chunk_a, _, _ = cut_labels([a, b, c], 30, 90, 150)
    assert chunk_a.category_overlap == {"walk": 1.0, "wave": 0.333}


def test_sub_frame_segment_is_dropped_like_babel() -> None:
    # Segment frames [int(30.3), int(31.2)) = [30, 31), but the label is active on frame 31 only.
    assert cut_labels([seg("tiny", ["hop"], 1.01, 1.04)], 30, 100, 150) == []
    assert cut_labels([seg("empty", ["hop"], 1.001, 1.02)], 30, 100, 150) == []


def test_labels_beyond_the_motion_are_cut_to_it() -> None:
    chunks = cut_labels([seg("w", ["walk"], 0.0, 10.0)], 30, 100, 150)
    assert [(c.frame_start, c.frame_stop) for c in chunks] == [(0, 100)]


# ------------------------------------------------------------------ trajectory


def test_pelvis_rest_joint_from_model_arrays(tmp_path: Path) -> None:
    models = write_fake_smplh(tmp_path / "body")
    np.testing.assert_allclose(pelvis_rest_joint(models, "male", np.zeros(16)), FAKE_PELVIS)
    lifted = pelvis_rest_joint(models, "female", np.r_[2.0, np.ones(15)])
    np.testing.assert_allclose(lifted, FAKE_PELVIS + [0.0, 2 * FAKE_PELVIS_PER_BETA0, 0.0])
    np.testing.assert_allclose(pelvis_rest_joint(models, "neutral", [2.0]), lifted)  # short betas padded


def test_axis_angle_to_matrix() -> None:
    np.testing.assert_allclose(axis_angle_to_matrix(np.zeros(3)), np.eye(3))
    np.testing.assert_allclose(axis_angle_to_matrix([math.pi / 2, 0, 0]), rotation_matrix("x", 90), atol=1e-12)
    batch = axis_angle_to_matrix(np.array([[0, 0, math.pi / 2], [0, math.pi, 0]]))
    np.testing.assert_allclose(batch[0], rotation_matrix("z", 90), atol=1e-12)
    np.testing.assert_allclose(batch[1], rotation_matrix("y", 180), atol=1e-12)


def test_heading_of_known_bodies() -> None:
    # Facing +X: template +Z -> +X, +X -> +Y, +Y -> +Z: 120 degrees about (1, 1, 1).
    facing_x = np.ones(3) / math.sqrt(3) * (2 * math.pi / 3)
    assert heading_deg(facing_x) == pytest.approx(0.0, abs=1e-9)
    # AMASS's plain Y-up to Z-up rotation (Rx 90): the body faces -Y.
    assert heading_deg(np.array([math.pi / 2, 0, 0])) == pytest.approx(-90.0)
    # Identity: lying face up along +Y; the head's direction is used.
    assert heading_deg(np.zeros(3)) == pytest.approx(90.0)
    for heading in (0.0, 30.0, 90.0, 135.0, -45.0, -179.0, 180.0):
        assert heading_deg(root_facing(heading)) == pytest.approx(heading, abs=1e-9)


def test_clip_trajectory_of_a_straight_walk() -> None:
    frames = 31
    trans = np.zeros((frames, 3))
    trans[:, 0] = np.linspace(0.0, 3.0, frames)  # 3 m along +X
    trans[:, 1] = 2.0
    root = np.tile(root_facing(0.0), (frames, 1))
    root[1:] = root_facing(90.0)  # only the first frame's heading counts
    result = clip_trajectory(root, trans, pelvis_rest=np.array([0.1, 0.9, 0.0]))
    assert result.path_center == pytest.approx((1.5 + 0.1, 2.9))  # J0 (template) + trans
    assert result.path_radius == pytest.approx(1.5)
    assert result.heading_deg == pytest.approx(0.0, abs=1e-9)


def test_clip_trajectory_standing_still() -> None:
    result = clip_trajectory(np.tile(root_facing(45.0), (3, 1)), np.ones((3, 3)), np.zeros(3))
    assert result.path_center == (1.0, 1.0) and result.path_radius == 0.0
    assert result.heading_deg == pytest.approx(45.0)


def test_clip_trajectory_is_rounded_and_keeps_heading_in_range() -> None:
    result = clip_trajectory(np.array([root_facing(-179.99999)]), np.full((1, 3), 1e-9), np.zeros(3))
    assert result.heading_deg == 180.0
    assert result.path_center == (0.0, 0.0) and str(result.path_center[0]) == "0.0"


# ------------------------------------------------------------------ take spans


def test_whole_span_is_every_frame_labelled_or_not() -> None:
    labels = [seg("a", ["walk"], 1.0, 2.0)]
    assert take_spans(labels, 30.0, 300, "whole", 0) == [(0, 300)]
    assert take_spans([], 30.0, 300, "whole", 0) == [(0, 300)]
    assert take_spans([], 30.0, 0, "whole", 0) == []


def test_labelled_span_is_the_union_with_short_gaps_merged() -> None:
    labels = [
        seg(name, ["walk"], a, b)
        for name, a, b in (("a", 0.0, 1.0), ("b", 0.5, 2.0), ("c", 2.1, 3.0), ("d", 5.0, 6.0), ("e", 9.0, 99.0))
    ]
    # 2.0 -> 2.1 s is a 3-frame gap: merged with a 1 s limit; 3.0 -> 5.0 s is 60 frames: kept apart.
    assert take_spans(labels, 30.0, 300, "labelled", 30) == [(0, 90), (150, 180), (270, 300)]
    assert take_spans(labels, 30.0, 300, "labelled", 0) == [(0, 60), (63, 90), (150, 180), (270, 300)]
    with pytest.raises(ValueError, match=r"render\.span"):
        take_spans(labels, 30.0, 300, "chunks", 0)


def test_merge_spans_joins_touching_and_overlapping_spans() -> None:
    assert merge_spans([(5, 8), (0, 5), (7, 9), (12, 12)], 1) == [(0, 9)]
    assert merge_spans([(0, 2), (4, 6)], 3) == [(0, 6)]
