"""The RGB stream declares the take's frame rate, so a player shows it at its real speed."""

from __future__ import annotations

import io

import av
import numpy as np

from synthact.render.encode import StorageSettings, WindowCoder


def test_the_rgb_stream_declares_the_takes_rate():
    coder = WindowCoder(64, 48, StorageSettings(fps=10))
    for t in range(6):
        frame = np.full((48, 64), 40.0 * t, np.float32)
        coder.add(
            np.full((48, 64, 3), 30 * t, np.uint8),
            frame + 1.0,
            frame > 0,
            frame.astype(np.uint8),
            np.zeros((48, 64, 3)),
        )
    video = coder.finish().video
    assert video is not None and video.settings["fps"] == 10
    with av.open(io.BytesIO(np.asarray(video.data).tobytes()), format="h264") as container:
        stream = container.streams.video[0]
        next(container.decode(stream))
        assert stream.codec_context.framerate == 10  # the SPS timing a player reads, not the 30 default
