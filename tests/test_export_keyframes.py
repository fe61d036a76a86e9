"""The video exports are made for random access: a keyframe every K frames, 4:2:0 unless asked otherwise."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from synthact.consume import export_amarv
from synthact.consume.video import EXPORT_VIDEO, ExportVideo, probe_mp4, psnr, read_mp4

T, H, W = 70, 48, 64


def keyframes(path: Path) -> list[int]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        ticks = 1 / (stream.time_base * stream.average_rate)
        return sorted(round(p.pts / ticks) for p in container.demux(stream) if p.is_keyframe and p.pts is not None)


def _arrays() -> dict[str, np.ndarray]:
    yy, xx = np.mgrid[0:H, 0:W]
    t = np.arange(T)[:, None, None]
    rgb = np.stack([(xx * 3 + t * 5) % 256, (yy * 4 + t * 3) % 256, (xx + yy + t * 7) % 256], axis=-1).astype(np.uint8)
    depth = np.broadcast_to(1.5 + 0.01 * t, (T, H, W)).astype(np.float32)
    return {"rgb": rgb, "depth": depth, "mask": np.ones((T, H, W), np.uint8)}


@pytest.mark.parametrize("video", [EXPORT_VIDEO, ExportVideo(keyframe_interval=8, pix_fmt="yuv444p")])
def test_rgb_and_depth_exports_have_a_keyframe_every_k_frames(tmp_path, video):
    arrays = _arrays()
    rgb, depth = tmp_path / "rgb.mp4", tmp_path / "depth.mp4"
    export_amarv.write_video(rgb, "rgb", arrays, 30.0, video)
    export_amarv.write_video(depth, "depth", arrays, 30.0, video)
    k = video.keyframe_interval
    assert keyframes(rgb) == keyframes(depth) == list(range(0, T, k))
    assert probe_mp4(rgb).pix_fmt == video.pix_fmt and probe_mp4(depth).pix_fmt == "gbrp"  # lossless RGB depth
    # the pattern wraps around: hard edges in every channel, which 4:2:0 blurs
    decoded = read_mp4(rgb)
    assert len(decoded) == T and min(psnr(a, b) for a, b in zip(decoded, arrays["rgb"], strict=True)) > 20


def test_export_settings_refuse_what_x264_cannot_take():
    with pytest.raises(ValueError, match="pix_fmt 'rgb24'"):
        ExportVideo(pix_fmt="rgb24")
    with pytest.raises(ValueError, match="keyframe interval 0"):
        ExportVideo(keyframe_interval=0)
