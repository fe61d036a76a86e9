"""Temporal windows and view choice: spans, offsets, short clips, reproducibility."""

from __future__ import annotations

import numpy as np
import pytest

from synthact.consume.sampling import choose_views, sample_rng, window_indices


def test_window_geometry_and_offsets() -> None:
    rng = sample_rng(0, 0, 0)
    w = window_indices(100, 16, 4, "random", rng)
    assert len(w) == 16 and (np.diff(w) == 4).all() and w[0] >= 0 and w[-1] <= 99
    assert window_indices(100, 16, 4, "centre").tolist()[0] == (100 - 61) // 2
    starts = [window_indices(100, 16, 4, "uniform", clip_index=k, num_clips=3)[0] for k in range(3)]
    assert starts == [0, 20, 39]  # first, middle, last that fits
    assert window_indices(61, 16, 4, "random", rng)[-1] == 60  # exact fit


def test_random_offsets_cover_every_start() -> None:
    starts = {int(window_indices(20, 4, 2, "random", sample_rng(3, 0, i))[0]) for i in range(400)}
    assert starts == set(range(20 - 7 + 1))


def test_short_clip_policies() -> None:
    assert window_indices(5, 4, 2, "random", sample_rng(0, 0, 0)).tolist() == [0, 2, 4, 4]  # clamp
    assert window_indices(5, 4, 2, "centre", short_policy="loop").tolist() == [0, 2, 4, 1]
    assert window_indices(5, 4, 2, "centre", short_policy="stretch").tolist() == [0, 1, 3, 4]
    assert window_indices(2, 4, 1, "centre", short_policy="stretch").tolist() == [0, 0, 1, 1]


def test_reproducible_from_seed_epoch_index() -> None:
    a = [window_indices(300, 8, 3, "random", sample_rng(7, e, i))[0] for e in range(3) for i in range(50)]
    b = [window_indices(300, 8, 3, "random", sample_rng(7, e, i))[0] for e in range(3) for i in range(50)]
    assert a == b
    assert a[:50] != a[50:100]  # a new epoch draws new windows
    assert a != [window_indices(300, 8, 3, "random", sample_rng(8, e, i))[0] for e in range(3) for i in range(50)]


def test_views() -> None:
    views = ["front", "left", "back", "right"]
    drawn = {choose_views(views, "random", sample_rng(0, 0, i))[0] for i in range(100)}
    assert drawn == set(views)
    assert choose_views(views, "all") == views
    assert choose_views(views, ["back", "front"]) == ["back", "front"]
    with pytest.raises(ValueError, match="not in this dataset's views"):
        choose_views(views, ["top"])
    with pytest.raises(ValueError, match="needs an rng"):
        window_indices(10, 2, 1, "random")
