"""Hue-coded inverse depth: exact round trip, and its error through H.264."""

from __future__ import annotations

import numpy as np
import pytest

from synthact.consume.depth_video import (
    LEVELS,
    Z_MAX_M,
    Z_MIN_M,
    body_depth,
    decode_depth,
    encode_depth,
    quantisation_error_m,
    read_depth_mp4,
    write_depth_mp4,
)
from synthact.consume.video import probe_mp4, write_mp4
from tests.consume_inputs import take_arrays


def test_every_level_round_trips_within_half_a_step() -> None:
    disp = np.linspace(1 / Z_MAX_M, 1 / Z_MIN_M, LEVELS)
    z = (1 / disp).astype(np.float64)[None, :]
    rgb = encode_depth(z)
    assert len({tuple(c) for c in rgb[0]}) == LEVELS  # every level its own colour
    assert (rgb.max(axis=-1) == 255).all()
    back = decode_depth(rgb)
    assert np.abs(back - z).max() <= quantisation_error_m(z).max() * 1.001 + 1e-6
    dense = np.linspace(Z_MIN_M, Z_MAX_M, 5000)[None, :]
    assert (np.abs(decode_depth(encode_depth(dense)) - dense) <= quantisation_error_m(dense) * 1.01 + 1e-6).all()


def test_no_surface_is_black_and_decodes_to_zero() -> None:
    depth = np.array([[0.0, 3.0], [20.0, 0.1]])
    rgb = encode_depth(depth)
    assert (rgb[0, 0] == 0).all()
    back = decode_depth(rgb)
    assert (
        back[0, 0] == 0
        and back[1, 0] == pytest.approx(Z_MAX_M, rel=1e-3)
        and back[1, 1] == pytest.approx(Z_MIN_M, rel=1e-3)
    )


def test_depth_through_h264(tmp_path) -> None:
    arrays = take_arrays(16, 120, 160)
    depth = body_depth(arrays["depth"], arrays["mask"])
    path = tmp_path / "depth.mp4"
    assert write_depth_mp4(path, depth, fps=30) == 16
    assert probe_mp4(path).frames == 16
    back = read_depth_mp4(path)
    np.testing.assert_array_equal(back, decode_depth(encode_depth(depth)))  # the video itself is lossless
    mask = arrays["mask"].astype(bool)
    err = np.abs(back - depth)[mask]
    print(
        f"depth via mp4: median {np.median(err) * 1000:.2f} mm, max {err.max() * 1000:.2f} mm; "
        f"bound {quantisation_error_m(depth[mask]).max() * 1000:.2f} mm"
    )
    assert (err <= quantisation_error_m(depth[mask]) * 1.001 + 1e-6).all()
    assert ((back > 0) == mask).all()


def test_plain_video_is_not_taken_for_depth(tmp_path) -> None:
    write_mp4(tmp_path / "rgb.mp4", take_arrays(2)["rgb"], fps=30)
    with pytest.raises(ValueError, match="not a SynthAct depth video"):
        read_depth_mp4(tmp_path / "rgb.mp4")
