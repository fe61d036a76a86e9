"""How much of a render task is the render call: the old serial loop and the new
pipelined loop, side by side in one run, as a GPU would see them.

For each size, one demo take is rendered window by window, twice per repeat,
alternating: by ``old_loop`` (kept here only: pose, render, then read the EXR,
decode, JPEG and ``np.savez_compressed`` in the render thread) and by the
worker's own ``render_windows`` (a pose thread poses the next window; each
EXR is handed to a coding thread that decodes and codes it while the next
frame renders). It prints, per loop:
- the task's wall time / summed ``bpy.ops.render.render`` time;
- the non-overlapped CPU time per frame, (wall - render calls) / frames, over
  this short task, and its parts: the gap between frames of a window, the gap
  where a window is set up, the head (start to the first render call) and the
  tail (last render call to the end);
- those parts summed for a task of ``--project-frames`` frames in windows of
  ``--project-window`` (an AMARV shard's view task: head and tail once, set-up
  once per window), which is what a GPU would sit idle for per frame;
- the EXR write that Blender does inside each render call, timed apart.

    .venv/bin/python benchmarks/render_overhead.py                       # 320x240 and 640x480, CPU
    .venv/bin/python benchmarks/render_overhead.py --device OPTIX --samples 64
    .venv/bin/python benchmarks/render_overhead.py --memory-takes 500    # RSS growth over 500 tiny takes

On a CPU the render call competes with the coding thread for cores, so the
ratio measured here is an upper bound of what a GPU node sees. Read ratios on
a shared machine, not absolutes.
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from render_speed import posed_demo_clip


class TimedBpy:
    """bpy, with ``ops.render.render`` timed: the render call and nothing else."""

    def __init__(self, bpy):
        self._bpy = bpy
        self.calls: list[tuple[float, float]] = []  # (start, end) of each render call
        self.ops = SimpleNamespace(render=SimpleNamespace(render=self._render))

    def _render(self, **kwargs):
        started = time.perf_counter()
        try:
            return self._bpy.ops.render.render(**kwargs)
        finally:
            self.calls.append((started, time.perf_counter()))

    def __getattr__(self, name):
        return getattr(self._bpy, name)


def old_loop(renderer, prepared, view: str, window: int, a: int, b: int, out: Path) -> None:
    """The render window as it was before the pipeline: everything serial with the render."""
    import simplejpeg

    from synthact import atomic
    from synthact.render.visibility import keypoint_visibility
    from synthact.render.worker import mask_bboxes
    from synthact.scene.cameras import project

    frames = prepared.source_frames[a:b]
    motion = prepared.motion
    model = renderer.body_model(motion.gender)
    posed = model.pose(motion.poses[frames], prepared.trans(a, b), prepared.betas + prepared.noise)
    path = prepared.cameras
    cameras = [_camera(renderer, prepared, i) for i in range(a, b)]
    rendered = renderer.scene.render_clip(posed.vertices, cameras, prepared.appearance, seed=window)
    joints_cam = np.einsum("tij,tkj->tki", path.R[a:b], posed.joints) + path.t[a:b, None, :]
    uv = project(joints_cam, path.K)
    blobs = [simplejpeg.encode_jpeg(np.ascontiguousarray(f), quality=90, colorspace="RGB") for f in rendered.rgb]
    arrays = {
        "rgb_jpeg": np.frombuffer(b"".join(blobs), np.uint8),
        "rgb_offsets": np.cumsum([0] + [len(x) for x in blobs]),
        "depth": rendered.depth.astype(np.float32),
        "mask": rendered.mask.astype(np.uint8),
        "parts": rendered.parts,
        "normals": rendered.normals.astype(np.float16),
        "keypoints_2d": uv.astype(np.float32),
        "keypoints_visible": keypoint_visibility(uv, joints_cam[..., 2], rendered.depth, rendered.mask, rendered.parts),
        "joints_cam": joints_cam.astype(np.float32),
        "joints_world": posed.joints.astype(np.float32),
        "bbox": mask_bboxes(rendered.mask),
    }
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    atomic.write_bytes(out, buffer.getvalue(), fsync=True)


def make_renderer(model, width: int, height: int, samples: int, device: str, threads: int, denoise: bool = False):
    """A ``TakeRenderer`` on the demo body, without a run's config files."""
    from synthact.body.skeleton import vertex_parts
    from synthact.render import blender
    from synthact.render.encode import StorageSettings
    from synthact.render.renderer import RenderSettings
    from synthact.render.visibility import output_joint_parts
    from synthact.render.worker import TakeRenderer

    renderer = TakeRenderer.__new__(TakeRenderer)
    renderer._models = {model.gender: model}
    settings = RenderSettings(
        width=width, height=height, samples=samples, device=device, threads=threads, denoise=denoise
    )
    renderer.settings = settings
    renderer.scene = blender.BlenderScene(settings, model.faces, vertex_parts(model.lbs_weights))
    renderer.joint_parts = output_joint_parts(model.lbs_weights)
    renderer.rig = SimpleNamespace(width=width, height=height)
    renderer.storage = StorageSettings()
    timed = TimedBpy(renderer.scene._bpy)
    renderer.scene._bpy = timed
    return renderer, timed


def prepared_take(model, motion, width: int, height: int, seed: int = 1):
    """A ``PreparedTake`` of the demo motion seen by a static camera."""
    from synthact.render import blender
    from synthact.render.worker import PreparedTake
    from synthact.scene.appearance import sample_appearance
    from synthact.scene.cameras import intrinsics, look_at
    from synthact.scene.rig import CameraPath

    T = len(motion.poses)
    centre = motion.trans.mean(axis=0) + np.array([0.0, 0.0, 0.2])
    R, t = look_at(centre + np.array([3.5, 0.0, 0.4]), centre)
    cameras = CameraPath(
        K=intrinsics(width, height, 55.0), R=np.repeat(R[None], T, 0), t=np.repeat(t[None], T, 0), distance_m=3.5
    )
    plan = SimpleNamespace(
        take=SimpleNamespace(path_center=(0.0, 0.0), take_id="bench"), view=lambda v: SimpleNamespace(seed=11)
    )
    betas = np.asarray(motion.betas, np.float32)
    return PreparedTake(
        plan=plan,
        motion=motion,
        source_frames=np.arange(T),
        betas=betas,
        noise=np.zeros(16, np.float32),
        offset=0.0,
        appearance=sample_appearance(seed, blender.available_hdris()),
        cameras=cameras,
    )


def run_task(loop: str, renderer, timed, prepared, frames: int, window: int, out_dir: Path) -> dict[str, float]:
    """One render task over ``frames`` frames in windows; where its wall time went.

    Returns wall and summed render-call seconds, and the time the render
    thread spent outside render calls split into: ``head`` (start to the first
    render call: posing the first window), ``in_window`` (gaps between frames
    of one window), ``between_windows`` (the gaps where a new window is set
    up) and ``tail`` (last render call to the end: coding the last frames).
    """
    from synthact.render.worker import render_windows

    timed.calls.clear()
    started = time.perf_counter()
    windows = [(i, a, min(a + window, frames)) for i, a in enumerate(range(0, frames, window))]
    if loop == "old":
        for i, a, b in windows:
            old_loop(renderer, prepared, "front", i, a, b, out_dir / f"old{i}.npz")
    else:  # the worker's own loop (pose ahead, code behind)
        renderer.prepare = lambda take, view: prepared
        take = SimpleNamespace(take=SimpleNamespace(take_id="bench"))
        render_windows(renderer, "front", [(take, i, a, b, out_dir / f"new{i}.npz") for i, a, b in windows])
    ended = time.perf_counter()
    calls = timed.calls
    gaps = [calls[i][0] - calls[i - 1][1] for i in range(1, len(calls))]
    window_starts = {a for _, a, _ in windows}
    return {
        "wall": ended - started,
        "render": sum(e - s for s, e in calls),
        "frames": len(calls),
        "head": calls[0][0] - started,
        "tail": ended - calls[-1][1],
        "in_window": [g for i, g in enumerate(gaps, start=1) if i not in window_starts],
        "between_windows": [g for i, g in enumerate(gaps, start=1) if i in window_starts],
    }


def exr_write_ms(renderer, timed, prepared, repeats: int = 8) -> float:
    """Median ms Blender takes to write one frame's EXR, the write the render call
    does when it ends: serial CPU work inside the render call, which bpy 5.0 cannot
    avoid in background mode (no in-memory render result). Timed by saving the
    render result again with the scene's image settings, so the render's own
    noise does not enter."""
    scene = renderer.scene
    posed = renderer.pose_window(prepared, 0, 1)
    scene.render_clip(posed.vertices, [_camera(renderer, prepared, 0)], prepared.appearance)  # leaves a result
    result = timed._bpy.data.images["Render Result"]
    seconds = []
    with tempfile.TemporaryDirectory(dir=scene.scratch) as tmp:
        for i in range(repeats):
            path = Path(tmp) / f"again{i}.exr"
            started = time.perf_counter()
            result.save_render(str(path), scene=scene._scene)
            seconds.append(time.perf_counter() - started)
            path.unlink()
    return 1e3 * float(np.median(seconds))


def _camera(renderer, prepared, i: int):
    from synthact.scene.cameras import Camera

    path = prepared.cameras
    return Camera(K=path.K, R=path.R[i], t=path.t[i], width=renderer.rig.width, height=renderer.rig.height)


def per_frame_ms(run: dict, frames: int, window: int) -> float:
    """Non-overlapped ms per frame of a task of ``frames`` frames in windows of
    ``window``, from one measured run's parts (the head and tail once per task,
    the set-up gap once per window)."""
    in_window = float(np.median(run["in_window"])) if run["in_window"] else 0.0
    between = float(np.median(run["between_windows"])) if run["between_windows"] else in_window
    windows = -(-frames // window)
    total = run["head"] + run["tail"] + (windows - 1) * between + (frames - windows) * in_window
    return 1e3 * total / frames


def load_motion_frames(data_dir: Path, frames: int):
    from synthact.sources.amass import iter_motion_files, load_motion

    model, _ = posed_demo_clip(data_dir, 1)
    motion = load_motion(next(iter_motion_files(data_dir / "amass")))
    step = max(1, round(motion.fps / 30))
    pick = np.resize(np.arange(0, len(motion.poses), step), frames)  # loop the motion if short
    motion = SimpleNamespace(
        poses=motion.poses[pick], trans=motion.trans[pick], betas=motion.betas, gender=motion.gender
    )
    return model, motion


def overhead(args, data_dir: Path) -> list[dict]:
    rows = []
    model, motion = load_motion_frames(data_dir, args.frames)
    for size in args.sizes:
        width, height = (int(x) for x in size.split("x"))
        renderer, timed = make_renderer(model, width, height, args.samples, args.device, args.threads)
        prepared = prepared_take(model, motion, width, height)
        with tempfile.TemporaryDirectory() as out:
            run_task("new", renderer, timed, prepared, min(args.window, args.frames), args.window, Path(out))  # warm-up
            results: dict[str, list[dict]] = {"old": [], "new": []}
            for _ in range(args.repeats):
                for loop in ("old", "new"):
                    results[loop].append(run_task(loop, renderer, timed, prepared, args.frames, args.window, Path(out)))
            exr_ms = exr_write_ms(renderer, timed, prepared)
        print(f"{size}: the EXR write inside each render call: {exr_ms:.1f} ms", flush=True)
        for loop, runs in results.items():
            rows.append(report_loop(size, loop, runs, args, exr_ms))
        old = np.median([r["wall"] for r in results["old"]])
        new = np.median([r["wall"] for r in results["new"]])
        print(f"{size}: old / new task wall time = {old / new:.3f}", flush=True)
    return rows


def report_loop(size: str, loop: str, runs: list[dict], args, exr_ms: float) -> dict:
    """Print one loop's figures and return them as a row."""

    def ms(values) -> str:
        return " ".join(f"{1e3 * v:.1f}" for v in values)

    ratio = [r["wall"] / r["render"] for r in runs]
    cpu = [(r["wall"] - r["render"]) / r["frames"] for r in runs]
    in_window = [float(np.median(r["in_window"])) for r in runs if r["in_window"]]
    between = [float(np.median(r["between_windows"])) for r in runs if r["between_windows"]]
    projected = [per_frame_ms(r, args.project_frames, args.project_window) for r in runs]
    projected_ratio = [1 + p / (1e3 * r["render"] / r["frames"]) for p, r in zip(projected, runs, strict=True)]
    row = {
        "size": size,
        "loop": loop,
        "device": args.device,
        "samples": args.samples,
        "frames": args.frames,
        "window": args.window,
        "wall_over_render": ratio,
        "non_overlapped_cpu_ms_per_frame": [1e3 * c for c in cpu],
        "render_call_ms_per_frame": [1e3 * r["render"] / r["frames"] for r in runs],
        "in_window_gap_ms": [1e3 * g for g in in_window],
        "window_setup_gap_ms": [1e3 * g for g in between],
        "head_ms": [1e3 * r["head"] for r in runs],
        "tail_ms": [1e3 * r["tail"] for r in runs],
        "exr_write_ms": exr_ms,
        "projected_ms_per_frame": projected,
        "projected_wall_over_render": projected_ratio,
    }
    print(
        f"{size} {loop}: wall/render-call {' '.join(f'{x:.3f}' for x in ratio)}; non-overlapped CPU {ms(cpu)} "
        f"ms/frame over this task; render call {np.median(row['render_call_ms_per_frame']):.1f} ms/frame\n"
        f"    gap between frames of a window {ms(in_window)} ms; window set-up gap {ms(between)} ms; "
        f"head {ms(r['head'] for r in runs)} ms; tail {ms(r['tail'] for r in runs)} ms\n"
        f"    -> a task of {args.project_frames} frames in windows of {args.project_window}: "
        f"{' '.join(f'{x:.1f}' for x in projected)} ms/frame not overlapped (wall/render-call "
        f"{' '.join(f'{x:.3f}' for x in projected_ratio)}); with the EXR write inside the "
        f"render call, {' '.join(f'{x + exr_ms:.1f}' for x in projected)} ms/frame of CPU a GPU waits for",
        flush=True,
    )
    return row


def rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * resource.getpagesize() / 2**20


def memory(args, data_dir: Path) -> dict:
    """RSS after every tiny take of the new loop; growth from take 50 to the last."""
    model, motion = load_motion_frames(data_dir, args.memory_frames)
    renderer, _ = make_renderer(model, 32, 24, 1, args.device, args.threads)
    prepared = prepared_take(model, motion, 32, 24)
    from synthact.render.pipeline import Pipeline

    rss = []
    with tempfile.TemporaryDirectory() as out, Pipeline() as pipeline:
        from synthact.render import blender
        from synthact.scene.appearance import sample_appearance

        hdris = blender.available_hdris()
        for take in range(args.memory_takes):
            prepared.appearance = sample_appearance(take, hdris)  # a new look per take, as in a shard
            renderer.render_window(prepared, "front", take, 0, args.memory_frames, Path(out) / "w.npz", pipeline)
            pipeline.drain()
            rss.append(rss_mb())
    base = rss[min(49, len(rss) - 1)]
    growth = 100 * (rss[-1] - base) / base
    print(
        f"memory: RSS {rss[0]:.0f} MB after take 1, {base:.0f} MB after take 50, {rss[-1]:.0f} MB after take "
        f"{len(rss)}: {growth:+.2f} % from take 50 to the last "
        f"({args.memory_frames} frames of 32x24 per take)"
    )
    return {"rss_mb": rss[::10], "growth_pct_50_to_last": growth, "takes": len(rss)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["320x240", "640x480"])
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--frames", type=int, default=16, help="frames per task")
    parser.add_argument("--window", type=int, default=8, help="frames per window (render.window_frames)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", choices=["CPU", "CUDA", "OPTIX"], default="CPU")
    parser.add_argument("--threads", type=int, default=0, help="Cycles threads (0: all cores)")
    parser.add_argument(
        "--project-frames",
        type=int,
        default=30000,
        help="task length for the projection (an AMARV shard's frames per view)",
    )
    parser.add_argument("--project-window", type=int, default=304, help="window for the projection")
    parser.add_argument("--memory-takes", type=int, default=0, help="also measure RSS over this many tiny takes")
    parser.add_argument("--memory-frames", type=int, default=2)
    parser.add_argument("--skip-overhead", action="store_true")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    report = {}
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_overhead:
            report["overhead"] = overhead(args, Path(tmp))
        if args.memory_takes:
            report["memory"] = memory(args, Path(tmp))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
