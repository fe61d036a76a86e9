"""Render speed and memory of one render task, as the pipeline runs it.

Poses a demo motion with the demo body model, builds the Blender scene once,
then renders clips from one view the way ``synthact.render.worker`` does, and
prints: one-time costs (bpy import, scene build), seconds per frame in steady
state for each setting, and the task's peak resident memory.

    .venv/bin/python benchmarks/render_speed.py                 # demo and full-size settings
    .venv/bin/python benchmarks/render_speed.py --frames 30 --settings 160x120x4

Figures are wall-clock on whatever else the machine is doing: run it on an idle
machine and read ratios, not absolutes.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np


def parse_setting(text: str) -> tuple[int, int, int]:
    width, height, samples = (int(x) for x in text.split("x"))
    return width, height, samples


def posed_demo_clip(data_dir: Path, frames: int):
    from synthact.body.smplh import BodyModel
    from synthact.demo.body_model import write_demo_body_models
    from synthact.demo.dataset import write_demo_dataset
    from synthact.sources.amass import iter_motion_files, load_motion

    write_demo_body_models(data_dir / "body_models")
    write_demo_dataset(data_dir, data_dir / "body_models", num_sequences=1, seed=0)
    motion = load_motion(next(iter_motion_files(data_dir / "amass")))
    step = max(1, round(motion.fps / 30))
    pick = np.arange(0, len(motion.poses), step)[:frames]
    model = BodyModel(data_dir / "body_models", motion.gender)
    return model, model.pose(motion.poses[pick], motion.trans[pick], motion.betas)


def camera_for(posed, width: int, height: int):
    from synthact.scene.cameras import Camera, intrinsics, look_at

    centre = posed.joints[:, 0].mean(axis=0)
    R, t = look_at(centre + np.array([3.5, 0.0, 0.4]), centre)
    return Camera(K=intrinsics(width, height, 55.0), R=R, t=t, width=width, height=height)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=30, help="frames per timed clip")
    parser.add_argument(
        "--settings", nargs="+", default=["160x120x4", "320x240x4", "640x480x16"], help="WIDTHxHEIGHTxSAMPLES to time"
    )
    parser.add_argument("--threads", type=int, default=0, help="Cycles threads (0: all cores)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        model, posed = posed_demo_clip(Path(tmp), args.frames)
        from synthact.body.skeleton import vertex_parts
        from synthact.scene.appearance import sample_appearance

        started = time.perf_counter()
        from synthact.render import blender
        from synthact.render.renderer import RenderSettings

        blender._import_bpy()
        import_s = time.perf_counter() - started
        print(f"import bpy: {import_s:.2f} s")
        appearance = sample_appearance(1, blender.available_hdris())
        for setting in args.settings:
            width, height, samples = parse_setting(setting)
            settings = RenderSettings(width=width, height=height, samples=samples, threads=args.threads)
            started = time.perf_counter()
            scene = blender.BlenderScene(settings, model.faces, vertex_parts(model.lbs_weights))
            build_s = time.perf_counter() - started
            camera = camera_for(posed, width, height)
            scene.render_clip(posed.vertices[:2], camera, appearance, seed=0)  # warm-up: first-frame costs
            started = time.perf_counter()
            scene.render_clip(posed.vertices, camera, appearance, seed=0)
            per_frame = (time.perf_counter() - started) / len(posed.vertices)
            print(
                f"{width}x{height}, {samples} samples: scene build {build_s:.2f} s, {per_frame:.3f} s/frame "
                f"over {len(posed.vertices)} frames ({1 / per_frame:.1f} frames/s)"
            )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory of this task: {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
