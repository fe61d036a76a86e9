"""Time a random 16-frame RGB + depth window through ``ShardReader``, with the RGB decode
on its second thread and without, on a synthetic take in the shard layout.

The take is 48 frames at 320x240 by default: a moving textured gradient with noise,
coded by the project's own H.264 settings (about 0.75 KB per frame, near the 0.80 KB of
the denoised demo renders), and smooth depth stored as the project's uint16 codes with
``render.compressor``. No Blender: the read path is what is measured.

    .venv/bin/python benchmarks/window_read.py --compressor gzip --reads 60
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import h5py
import numpy as np

from synthact.codecs import depth as depth_codec
from synthact.codecs import storage
from synthact.codecs.video import VideoSettings, encode_video
from synthact.shard_format import FORMAT_VERSION

sys.path.insert(0, str(Path(__file__).resolve().parent))
from shard_storage import time_reads  # the real-shard benchmark's window timing


def synthetic_take(frames: int, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:height, 0:width]
    rgb = np.stack(
        [np.stack([(xx + 3 * t) % 256, (yy + 2 * t) % 256, ((xx + yy) // 2 + t) % 256], -1) for t in range(frames)]
    )
    rgb = np.clip(rgb + rng.integers(-6, 7, rgb.shape), 0, 255).astype(np.uint8)
    depth = 2.0 + 0.5 * np.sin(xx / 40.0)[None] + 0.01 * np.arange(frames)[:, None, None]
    return rgb, depth_codec.encode_depth(depth)


def write_take(path: Path, rgb: np.ndarray, codes: np.ndarray, compressor: str) -> float:
    """A one-take, one-view file in the shard layout; returns KB per frame of the RGB stream."""
    coded = encode_video(rgb, VideoSettings())
    with h5py.File(path, "w") as f:
        f.attrs["format_version"] = FORMAT_VERSION  # the reader refuses a file without it
        view = f.create_group("takes/t0/views/front")
        storage.write_video(view.create_group("rgb"), coded)
        depth = view.create_dataset("depth", data=codes, **storage.image_options(codes.shape, codes.dtype, compressor))
        depth.attrs.update(depth_codec.depth_attrs(depth_codec.ENCODING_V1))  # the codes as they are
    return len(coded.data) / len(rgb) / 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--size", default="320x240")
    parser.add_argument("--compressor", choices=storage.COMPRESSORS, default="gzip")
    parser.add_argument("--reads", type=int, default=60)
    args = parser.parse_args()
    width, height = (int(x) for x in args.size.split("x"))
    rgb, codes = synthetic_take(args.frames, width, height)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "take.h5"
        kb = write_take(path, rgb, codes, args.compressor)
        print(f"{args.frames} frames at {args.size}, RGB {kb:.2f} KB/frame, depth {args.compressor}")
        cases = [
            ("rgb alone", ["rgb"], True),
            ("depth alone", ["depth"], True),
            ("rgb + depth, one thread", ["rgb", "depth"], False),
            ("rgb + depth, side by side", ["rgb", "depth"], True),
        ]
        for name, modalities, parallel in cases:
            median, p95, _ = time_reads(path, ["t0"], args.frames, args.reads, tuple(modalities), parallel)
            print(f"  {name:28s} median {median:6.1f} ms   p95 {p95:6.1f} ms")


if __name__ == "__main__":
    main()
