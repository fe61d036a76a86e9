"""Real inputs for the consume tests: rendered-looking frames, depth, masks, keypoints.

Frames are smooth gradients with a moving person-shaped blob, so H.264 behaves
as on renders (not on noise, which no codec compresses).
"""

from __future__ import annotations

from typing import ClassVar

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


def keypoints(
    num_frames: int, h: int = 48, w: int = 64, seed: int = 0, persons: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """(T, P, 73, 2) pixels inside the image and (T, P, 73) visibility, as the reader gives them."""
    rng = np.random.default_rng(seed)
    points = rng.uniform([0, 0], [w, h], size=(num_frames, persons, 73, 2)).astype(np.float32)
    return points, rng.random((num_frames, persons, 73)) > 0.3


ABSENT_FRAME = 2  # in ArrayRun's takes of several persons, every person but the first is absent here


def present(num_frames: int, persons: int) -> np.ndarray:
    """(T, P) bool: person 0 always, the others absent in ABSENT_FRAME."""
    out = np.ones((num_frames, persons), dtype=bool)
    out[ABSENT_FRAME, 1:] = False
    return out


def blank_absent(per_person: np.ndarray, present_: np.ndarray) -> np.ndarray:
    """NaN (or False) where a person is absent, as a shard stores it."""
    out = per_person.copy()
    out[~present_] = False if out.dtype == np.bool_ else np.nan
    return out


class ArrayRun:
    """A ``synthact.consume.run.Run`` over in-memory arrays: takes x views of real-shaped data.

    ``persons``: each take's number of persons (default one each); per-person arrays carry
    the person axis as ``ShardReader`` gives them, with ``present``.
    """

    VIEWS: ClassVar[list[str]] = ["front", "left", "back", "right"]

    def __init__(self, output_dir, num_takes: int = 2, num_frames: int = 16, h: int = 48, w: int = 64, persons=None):
        from pathlib import Path

        persons = list(persons or [1] * num_takes)
        self.output_dir = Path(output_dir)
        self._takes, self._arrays, self._view_attrs = [], {}, {}
        for k in range(num_takes):
            tid = f"t{k:03d}"
            self._takes.append(
                {
                    "take_id": tid,
                    "source": f"CMU/0{k}/0{k}_01_poses.npz",
                    "sequence_id": str(100 + k),
                    "repetition": 0,
                    "fps": 30.0,
                    "num_frames": num_frames,
                    "duration_s": num_frames / 30,
                    "first_frame": 0,
                    "split": "train" if k == 0 else "val",
                    "gender": "neutral",
                    "num_persons": persons[k],
                    "betas_used": [[0.1 * k + p] * 16 for p in range(persons[k])],
                    "appearance": {
                        "hdri": f"h{k}.exr",
                        "top": {"pattern": "plain"},
                        "bottom": {"pattern": "plain"},
                        "long_sleeves": True,
                        "long_legs": False,
                    },
                }
            )
            for v, view in enumerate(self.VIEWS):
                a = take_arrays(num_frames, h, w, seed=10 * k + v)
                kp, vis = keypoints(num_frames, h, w, seed=10 * k + v, persons=persons[k])
                rng = np.random.default_rng(k * 4 + v)
                here = present(num_frames, persons[k])
                a.update(
                    keypoints_2d=blank_absent(kp, here),
                    keypoints_visible=blank_absent(vis, here),
                    joints_cam=blank_absent(rng.normal(size=(num_frames, persons[k], 73, 3)).astype(np.float32), here),
                    present=here,
                )
                a["ntu25_joints_cam"] = a["joints_cam"][:, :, :25] + 1.0
                self._arrays[(tid, view)] = a
                self._view_attrs[(tid, view)] = {
                    "view": view,
                    "azimuth_deg": 90.0 * v,
                    "distance_m": 3.0 + k,
                    "height_m": 1.2,
                    "image_size": [w, h],
                }
        self.classes = ["walk", "stand", "kneel"]
        self.rows = []
        for k, take in enumerate(self._takes):
            for c, (a, b) in enumerate(((0, 9), (9, num_frames))):
                self.rows.append(
                    {
                        "clip_id": f"k{k}{c}",
                        "take_id": take["take_id"],
                        "split": take["split"],
                        "take_frame_start": a,
                        "take_frame_stop": b,
                        "start_t": a / 30,
                        "end_t": b / 30,
                        "label": self.classes[(k + c) % 3],
                        "label_index": (k + c) % 3,
                        "labels": [self.classes[(k + c) % 3]],
                        "label_indices": [(k + c) % 3],
                        "proc_label": f"do {self.classes[(k + c) % 3]}",
                    }
                )
        self.reads: list[tuple] = []

    @property
    def views(self):
        return list(self.VIEWS)

    def takes(self):
        return [dict(t) for t in self._takes]

    def view_attrs(self, take_id, view):
        return dict(self._view_attrs[(take_id, view)])

    def read(self, take_id, view, modalities, frames=None):
        self.reads.append((take_id, view, tuple(modalities)))
        a = self._arrays[(take_id, view)]
        sel = slice(None) if frames is None else frames
        return {m: a[m][sel] for m in modalities}

    def arrays(self, take_id, view):
        return self._arrays[(take_id, view)]

    def protocols(self):
        return ["segments"]

    def table(self, protocol):
        return [dict(r) for r in self.rows], list(self.classes)

    def modality_bytes(self):
        out = {}
        for a in self._arrays.values():
            for name, arr in a.items():
                out[name] = out.get(name, 0) + arr.nbytes
        return out
