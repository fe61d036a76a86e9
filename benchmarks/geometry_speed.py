"""Geometry-only mode against Cycles on the same frames: seconds per frame and the speed-up.

Poses a demo motion with the demo body, then renders the same frames from
the same camera with ``GeometryScene`` (torch, CPU or CUDA) and with Cycles
at 4 samples, after one warm-up clip each, and prints seconds per frame and
the ratio per image size. It also reports how well the labels agree (mask
IoU, depth, parts) as a sanity check.

    .venv/bin/python benchmarks/geometry_speed.py                      # 320x240 and 640x480, 8 frames
    .venv/bin/python benchmarks/geometry_speed.py --sizes 160x120 --frames 4 --device CUDA
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.render_speed import camera_for, posed_demo_clip


def _cpu_seconds() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed(scene, vertices, camera, appearance) -> tuple[object, float, float]:
    """(clip, wall seconds, CPU seconds per frame) after a one-frame warm-up.

    CPU seconds count every thread of the process, so they stay comparable on
    a machine that other jobs share.
    """
    scene.render_clip(vertices[:1], camera, appearance, seed=1)
    started, cpu = time.perf_counter(), _cpu_seconds()
    out = scene.render_clip(vertices, camera, appearance, seed=1)
    frames = len(vertices)
    return out, (time.perf_counter() - started) / frames, (_cpu_seconds() - cpu) / frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["320x240", "640x480"])
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--samples", type=int, default=4, help="Cycles samples")
    parser.add_argument("--device", default="CPU", help="GEOMETRY device: CPU, or CUDA for the GPU")
    parser.add_argument(
        "--geometry-threads",
        type=int,
        default=1,
        help="torch CPU threads of GEOMETRY (0: torch's default). One per task is the "
        "efficient setting: the work per frame is small and extra threads spin on a busy "
        "machine",
    )
    args = parser.parse_args()

    from synthact.body.skeleton import vertex_parts
    from synthact.render import blender
    from synthact.render.geometry import GeometryScene
    from synthact.render.renderer import RenderSettings
    from synthact.scene.appearance import sample_appearance

    with tempfile.TemporaryDirectory() as tmp:
        model, posed = posed_demo_clip(Path(tmp), args.frames)
    parts = vertex_parts(model.lbs_weights)
    appearance = sample_appearance(1, blender.available_hdris())
    print(
        "| size | Cycles s/frame | GEOMETRY s/frame | speed-up | CPU s/frame Cycles / GEOMETRY | CPU speed-up "
        "| mask IoU | depth diff max (same part) / median (mm) | pixels > 1 mm | parts equal |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for size in args.sizes:
        width, height = (int(v) for v in size.split("x"))
        camera = camera_for(posed, width, height)
        settings = RenderSettings(width=width, height=height, samples=args.samples, denoise=False)
        with blender.BlenderScene(settings, model.faces, parts) as scene:
            ref, cycles_s, cycles_cpu = timed(scene, posed.vertices, camera, appearance)
        geo_settings = RenderSettings(
            width=width, height=height, engine="GEOMETRY", device=args.device, threads=args.geometry_threads
        )
        out, geo_s, geo_cpu = timed(GeometryScene(geo_settings, model.faces, parts), posed.vertices, camera, appearance)
        both = out.mask & ref.mask
        iou = both.sum() / (out.mask | ref.mask).sum()
        gap = np.abs(out.depth[both] - ref.depth[both])
        same_part = out.parts[both] == ref.parts[both]
        depth_mm = 1000 * gap[same_part].max()  # pixels on other parts are edge ties: counted below
        depth_med_mm = 1000 * np.median(gap)
        over_mm = int((gap > 1e-3).sum())
        parts_ok = (out.parts[both] == ref.parts[both]).mean()
        print(
            f"| {size} | {cycles_s:.3f} | {geo_s:.4f} | {cycles_s / geo_s:.0f}x | {cycles_cpu:.3f} / {geo_cpu:.4f} | "
            f"{cycles_cpu / geo_cpu:.0f}x | {iou:.4f} | {depth_mm:.2f} / {depth_med_mm:.3f} | "
            f"{over_mm} of {both.sum()} | {100 * parts_ok:.3f} % |",
            flush=True,
        )


if __name__ == "__main__":
    main()
