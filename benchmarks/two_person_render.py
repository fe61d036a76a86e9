"""Render time per frame of a take with two bodies against the same take with one, in one run.

The demo motion is written as two AMASS files, the second body 0.8 m beside the
first (``Take.partners``); the same take is then rendered with its partner and
without, window by window through the render task's own loop
(``worker.render_windows``: posing, rendering, coding, the cache write), from the
same views, by the geometry engine and by Cycles at the tiny settings. The two
takes alternate within each repeat, so load on a shared machine falls on both.
It prints, per engine, the median seconds per frame over the repeats and the
ratio two / one.

    .venv/bin/python benchmarks/two_person_render.py                      # 160x120, 12 frames, 3 repeats
    .venv/bin/python benchmarks/two_person_render.py --size 320x240 --samples 4 --device OPTIX
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

VIEWS = (("front", 0.0), ("side", 70.0))


def write_motions(root: Path, frames: int) -> float:
    """Body A (the demo's first motion) and body B, 0.8 m beside it; returns their frame rate."""
    from synthact.demo.body_model import write_demo_body_models
    from synthact.demo.dataset import write_demo_dataset
    from synthact.fitting.export import motion_arrays, write_motion
    from synthact.sources.amass import iter_motion_files, load_motion

    write_demo_body_models(root / "body_models")
    write_demo_dataset(root / "demo", root / "body_models", num_sequences=1, seed=0)
    motion = load_motion(next(iter_motion_files(root / "demo" / "amass")))
    fps = float(round(motion.fps))
    poses, trans = motion.poses[:frames], motion.trans[:frames]
    write_motion(root / "amass" / "A_poses.npz", motion_arrays(poses, trans, motion.betas, "female", fps))
    write_motion(root / "amass" / "B_poses.npz", motion_arrays(poses, trans + (0, 0.8, 0), motion.betas, "male", fps))
    return fps


def make_renderer(root: Path, fps: float, render: dict) -> object:
    from synthact.config import validate_config
    from synthact.config_sections import RunConfig
    from synthact.render.worker import TakeRenderer

    config = {
        "demo": {"enabled": False},
        "motion": {"amass_root": str(root / "amass"), "body_model_dir": str(root / "body_models")},
        "clips": {"fps": int(fps)},
        "rig": {"views": [{"name": name, "azimuth_deg": azimuth} for name, azimuth in VIEWS]},
        "render": render,
    }
    run = RunConfig.from_dict(validate_config(config))
    return TakeRenderer(run.seed, run.motion, run.rig, run.render, run.randomize, run.clips.fps)


def take_plan(fps: float, frames: int, partners: tuple[str, ...]) -> object:
    from synthact.scene.rig import ViewPlan
    from synthact.takes.plan import TakePlan
    from synthact.takes.records import Take

    take = Take(
        "two" if partners else "one", "A_poses.npz", "A_poses.npz", "1", "train", 0, fps, fps, frames,
        frames / fps, ((0, frames),), "female", path_center=(0.0, 0.4), path_radius=0.6, partners=partners,
    )  # fmt: skip
    views = tuple(ViewPlan(name, 3, "follow", azimuth, 3.0, 1.3, {"look_at_height_m": 0.9}) for name, azimuth in VIEWS)
    return TakePlan(take, 11, views)


def seconds_per_frame(renderer: object, take: object, frames: int, window: int, out: Path) -> float:
    """Wall seconds per frame of every view of ``take`` through the render task's loop."""
    from synthact.render.worker import render_windows

    started = time.perf_counter()
    for view, _ in VIEWS:
        jobs = [
            (take, i, a, min(a + window, frames), out / f"{view}-{take.take.take_id}-{i}.npz")
            for i, a in enumerate(range(0, frames, window))
        ]
        render_windows(renderer, view, jobs)
    return (time.perf_counter() - started) / (frames * len(VIEWS))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="160x120", help="WxH (the tiny config's)")
    parser.add_argument("--frames", type=int, default=12)
    parser.add_argument("--window", type=int, default=6)
    parser.add_argument("--samples", type=int, default=2, help="Cycles samples (the tiny config's 2)")
    parser.add_argument("--device", default="CPU")
    parser.add_argument("--threads", type=int, default=0, help="render and torch threads; 0: every core")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--engines", default="GEOMETRY,CYCLES")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    with tempfile.TemporaryDirectory(prefix="synthact-two-person-") as tmp:
        root = Path(tmp)
        fps = write_motions(root, args.frames)
        takes = {"one": take_plan(fps, args.frames, ()), "two": take_plan(fps, args.frames, ("B_poses.npz",))}
        print(f"{width}x{height}, {args.frames} frames x {len(VIEWS)} views, windows of {args.window}, {args.device}")
        for engine in args.engines.split(","):
            render = {"width": width, "height": height, "engine": engine, "samples": args.samples}
            render |= {"device": args.device, "threads": args.threads}
            renderer = make_renderer(root, fps, render)
            times: dict[str, list[float]] = {"one": [], "two": []}
            seconds_per_frame(renderer, takes["one"], args.frames, args.window, root / "warm-up")
            for repeat in range(args.repeats):
                order = ("one", "two") if repeat % 2 == 0 else ("two", "one")
                for name in order:
                    out = root / f"{engine}-{name}-{repeat}"
                    out.mkdir()
                    times[name].append(seconds_per_frame(renderer, takes[name], args.frames, args.window, out))
            one, two = (statistics.median(times[n]) for n in ("one", "two"))
            spread = {n: f"{min(t) * 1e3:.0f}-{max(t) * 1e3:.0f}" for n, t in times.items()}
            print(
                f"{engine:9s} one body {one * 1e3:7.1f} ms/frame ({spread['one']}), "
                f"two bodies {two * 1e3:7.1f} ms/frame ({spread['two']}), two / one {two / one:.2f}"
            )
            close = getattr(renderer.scene, "close", None)
            if close is not None:
                close()


if __name__ == "__main__":
    main()
