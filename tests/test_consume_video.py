"""mp4 writing and reading with PyAV: header, frames, quality, determinism, atomicity."""

from __future__ import annotations

import av
import numpy as np
import pytest

from synthact.consume.video import probe_mp4, psnr, read_mp4, write_mp4
from tests.consume_inputs import take_arrays


def test_mp4_header_frames_and_quality(tmp_path) -> None:
    # 160x120, the demo's size: at 64x48 4:2:0 chroma on the blob's saturated edge
    # caps PSNR near 28 dB whatever the crf.
    rgb = take_arrays(30, 120, 160)["rgb"]
    path = tmp_path / "a.mp4"
    assert write_mp4(path, rgb, fps=30) == 30
    info = probe_mp4(path)
    assert (info.frames, info.width, info.height, info.codec) == (30, 160, 120, "h264")
    assert info.fps == 30 and info.duration_s == pytest.approx(1.0, abs=1e-6)
    with av.open(str(path)) as container:  # what the AMARV loader reads before decoding
        stream = container.streams.video[0]
        assert stream.frames == 30 and float(stream.duration * stream.time_base) == pytest.approx(1.0)
    decoded = read_mp4(path)
    assert decoded.shape == rgb.shape
    assert min(psnr(a, b) for a, b in zip(decoded, rgb, strict=True)) > 30


def test_mp4_is_deterministic(tmp_path) -> None:
    rgb = take_arrays(12)["rgb"]
    write_mp4(tmp_path / "a.mp4", rgb, fps=25)
    write_mp4(tmp_path / "b.mp4", rgb, fps=25)
    assert (tmp_path / "a.mp4").read_bytes() == (tmp_path / "b.mp4").read_bytes()


def test_failed_write_leaves_nothing(tmp_path) -> None:
    frames = list(take_arrays(5)["rgb"]) + [np.zeros((10, 10, 3), np.uint8)]
    with pytest.raises(ValueError, match="frame 5 is 10x10"):
        write_mp4(tmp_path / "a.mp4", frames, fps=30)
    assert list(tmp_path.iterdir()) == []


def test_odd_size_is_refused_for_yuv420(tmp_path) -> None:
    with pytest.raises(ValueError, match="even sizes"):
        write_mp4(tmp_path / "a.mp4", np.zeros((2, 47, 64, 3), np.uint8), fps=30)
    assert write_mp4(tmp_path / "b.mp4", np.zeros((2, 47, 63, 3), np.uint8), fps=30, pix_fmt="yuv444p") == 2
