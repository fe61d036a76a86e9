"""Pick source frames for a target frame rate, the way BABEL's builder does.

BABEL's action-recognition data (``action_recognition/data_gen`` in the BABEL
repository) subsamples every AMASS sequence to 30 fps. We choose exactly the
same source frames, so a clip's frame ``n`` is BABEL's frame ``n`` and label
times convert to frames the same way (``int(fps * t)``).

The rule, in words. Both rates are first truncated to whole numbers:

* If the whole source rate is a multiple of the whole target rate (120, 60,
  150, and also 120.00004 -> 30), every k-th frame is taken. The count follows
  numpy's ``arange(0, T, src/dst)`` with an integer dtype: ``ceil(T / (src/dst))``
  frames spaced ``int(src/dst)`` apart.
* Otherwise (100, 250, 59.99 -> 30) the source is cut into blocks of
  ``int(src)`` frames ("seconds") and inside each block the frames
  ``floor(src/dst * j)`` for ``j = 0 .. int(dst) - 1`` are taken; the partial
  block at the end keeps those that exist. Note that 59.99 fps therefore uses
  blocks of 59 frames, as BABEL does.

A source slower than the target repeats frames (blocks of ``int(src)`` frames
still yield ``int(dst)`` picks); BABEL does the same.
"""

from __future__ import annotations

import math

import numpy as np


def _check_rates(num_frames: int, src_fps: float, dst_fps: float) -> None:
    if num_frames < 0:
        raise ValueError(f"num_frames must be >= 0, got {num_frames}")
    if not math.isfinite(src_fps) or src_fps < 1:
        raise ValueError(f"source frame rate must be a finite number >= 1, got {src_fps}")
    if not math.isfinite(dst_fps) or dst_fps < 1 or dst_fps != int(dst_fps):
        raise ValueError(f"target frame rate must be a whole number >= 1, got {dst_fps}")


def _every_kth(num_frames: int, step: float) -> np.ndarray:
    """Frames 0, k, 2k, ... with k = int(step), ceil(num_frames / step) of them."""
    count = math.ceil(num_frames / step)
    return np.arange(count, dtype=np.int64) * int(step)


def _per_block(num_frames: int, src_fps: float, dst_fps: float) -> np.ndarray:
    """The same offsets inside every block of int(src_fps) frames."""
    block = int(src_fps)
    offsets = np.floor(src_fps / dst_fps * np.arange(int(dst_fps))).astype(np.int64)
    num_blocks = math.ceil(num_frames / block)
    picks = (np.arange(num_blocks, dtype=np.int64)[:, None] * block + offsets[None, :]).ravel()
    # Only the last, partial block can reach past the end (BABEL filters it the same way).
    return picks[picks < num_frames]


def resample_indices(num_frames: int, src_fps: float, dst_fps: float) -> np.ndarray:
    """Indices of the source frames that make up the sequence at ``dst_fps``.

    Args:
        num_frames: Frames in the source sequence.
        src_fps: Source frame rate (read from the motion file).
        dst_fps: Target frame rate, a whole number (30 for BABEL).

    Returns:
        (N,) int64 indices into the source frames, non-decreasing.

    Raises:
        ValueError: A rate below 1 fps, a fractional target rate, or a
            negative frame count.
    """
    _check_rates(num_frames, src_fps, dst_fps)
    if num_frames == 0:
        return np.zeros(0, dtype=np.int64)
    if int(src_fps) % int(dst_fps) == 0:
        return _every_kth(num_frames, src_fps / dst_fps)
    return _per_block(num_frames, src_fps, dst_fps)
