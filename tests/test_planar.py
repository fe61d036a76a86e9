"""The planar predictor in front of the depth and normal chunks: lossless, and zero on planes."""

from __future__ import annotations

import numpy as np
import pytest

from synthact.codecs import planar


@pytest.mark.parametrize(
    ("dtype", "shape", "axes"),
    [(np.uint16, (24, 32), (0, 1)), (np.uint8, (24, 32, 2), (0, 1)), (np.uint16, (3, 24, 32), (1, 2))],
)
def test_residuals_give_back_every_code(dtype, shape, axes):
    codes = np.random.default_rng(0).integers(0, np.iinfo(dtype).max, shape, endpoint=True).astype(dtype)
    residuals = planar.to_residuals(codes, axes)
    assert residuals.dtype == codes.dtype
    np.testing.assert_array_equal(planar.from_residuals(residuals, axes), codes)


def test_a_plane_leaves_only_its_first_row_and_column():
    y, x = np.mgrid[0:24, 0:32]
    codes = (60000 - 7 * x + 3 * y).astype(np.uint16)  # falls and rises: residuals wrap, losslessly
    residuals = planar.to_residuals(codes)
    assert residuals[0, 0] == codes[0, 0] and not residuals[1:, 1:].any()
    assert set(residuals[0, 1:].tolist()) == {np.uint16(-7 % 2**16)} and set(residuals[1:, 0].tolist()) == {3}


def test_stacked_frames_are_coded_frame_by_frame():
    frames = np.random.default_rng(1).integers(0, 65535, (4, 6, 8), endpoint=True).astype(np.uint16)
    stacked = planar.to_residuals(frames, (1, 2))
    for i, frame in enumerate(frames):
        np.testing.assert_array_equal(stacked[i], planar.to_residuals(frame))


def test_signed_codes_are_refused():
    with pytest.raises(ValueError, match="unsigned integer codes expected, got int16"):
        planar.to_residuals(np.zeros((2, 2), np.int16))
