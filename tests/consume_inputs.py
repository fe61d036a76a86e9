"""Real inputs for the consume tests: rendered-looking frames, depth, masks, keypoints.

Frames are smooth gradients with a moving person-shaped blob, so H.264 behaves
as on renders (not on noise, which no codec compresses).
"""

from __future__ import annotations

import numpy as np


def person_mask(t: int, h: int, w: int, num_frames: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    cx = w * (0.3 + 0.4 * t / max(num_frames - 1, 1))
    return (((xx - cx) / (0.15 * w)) ** 2 + ((yy - h / 2) / (0.38 * h)) ** 2 <= 1.0).astype(np.uint8)


def take_arrays(num_frames: int = 20, h: int = 48, w: int = 64, seed: int = 0) -> dict[str, np.ndarray]:
    """rgb (T,H,W,3) u8, depth (T,H,W) f32 m (background wall at 6 m), mask, parts."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    rgb, depth, mask, parts = [], [], [], []
    base = np.stack([xx * 255 / w, yy * 255 / h, np.full_like(xx, 128.0)], axis=-1)
    for t in range(num_frames):
        m = person_mask(t, h, w, num_frames)
        frame = base.copy()
        frame[m > 0] = (200, 80 + 4 * t, 40)
        rgb.append(np.clip(frame + rng.normal(0, 2, frame.shape), 0, 255).astype(np.uint8))
        body = 2.5 + 0.5 * (yy / h) + 0.02 * t
        depth.append(np.where(m > 0, body, 6.0).astype(np.float32))
        mask.append(m)
        parts.append((m * (1 + (yy * 16 // h))).astype(np.uint8))
    return {"rgb": np.stack(rgb), "depth": np.stack(depth), "mask": np.stack(mask), "parts": np.stack(parts)}


def keypoints(num_frames: int, h: int = 48, w: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(T, 73, 2) pixels inside the image and (T, 73) visibility."""
    rng = np.random.default_rng(seed)
    points = rng.uniform([0, 0], [w, h], size=(num_frames, 73, 2)).astype(np.float32)
    return points, rng.random((num_frames, 73)) > 0.3
