"""Render the demo take on the GPU with OptiX and with CUDA: seconds per frame and
wall / render-call, through the worker's pipelined render loop.

    .venv/bin/python benchmarks/gpu_check.py                 # 320x240 and 640x480, 64 samples + denoise
    .venv/bin/python benchmarks/gpu_check.py --devices CUDA --sizes 640x480

Without an NVIDIA GPU (or with a bpy build without CUDA/OptiX) it stops at once
with one line saying which device Cycles did not find; the tests never need a GPU.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from render_overhead import load_motion_frames, make_renderer, prepared_take, run_task


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", nargs="+", default=["OPTIX", "CUDA"], choices=["OPTIX", "CUDA", "CPU"])
    parser.add_argument("--sizes", nargs="+", default=["320x240", "640x480"])
    parser.add_argument("--samples", type=int, default=64)
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--window", type=int, default=16)
    parser.add_argument("--no-denoise", action="store_true")
    parser.add_argument("--old", action="store_true", help="also time the old serial loop")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        model, motion = load_motion_frames(Path(tmp), args.frames)
        for device in args.devices:
            for size in args.sizes:
                width, height = (int(x) for x in size.split("x"))
                try:
                    renderer, timed = make_renderer(
                        model, width, height, args.samples, device, 0, denoise=not args.no_denoise
                    )
                except RuntimeError as exc:
                    print(f"gpu_check: {device}: {exc}", file=sys.stderr)
                    return 2
                prepared = prepared_take(model, motion, width, height)
                run_task("new", renderer, timed, prepared, args.window, args.window, Path(tmp))  # warm-up: kernels, BVH
                for loop in ("new", "old") if args.old else ("new",):
                    started = time.perf_counter()
                    r = run_task(loop, renderer, timed, prepared, args.frames, args.window, Path(tmp))
                    wall = time.perf_counter() - started
                    print(
                        f"{device} {size} {args.samples} spp {loop}: {wall / r['frames']:.4f} s/frame, "
                        f"render call {r['render'] / r['frames']:.4f} s/frame, "
                        f"wall/render-call {r['wall'] / r['render']:.3f}, gap between frames of a window "
                        f"{1e3 * np.median(r['in_window']):.1f} ms",
                        flush=True,
                    )
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    raise SystemExit(main())
