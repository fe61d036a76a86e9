"""How much of a render task is the render call: the old serial loop and the new
pipelined loop, side by side in one run, as a GPU would see them.

For each size, one demo take is rendered window by window, twice per repeat,
alternating: by ``old_loop`` (kept here only: read the EXR, decode, JPEG and
``np.savez_compressed`` in the render thread after every frame) and by the
worker's own ``TakeRenderer.render_window`` (the EXR handed to a background
thread that decodes and codes it while the next frame renders). It prints, per
loop: the task's wall time / summed ``bpy.ops.render.render`` time, and the
non-overlapped CPU time per frame, (wall - render calls) / frames, which is
what a GPU would sit idle for. Posing runs in the render thread in both.

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
        self._bpy, self.seconds, self.calls = bpy, 0.0, 0
        self.first_start = self.last_end = 0.0
        self.ops = SimpleNamespace(render=SimpleNamespace(render=self._render))

    def _render(self, **kwargs):
        started = time.perf_counter()
        if not self.calls:
            self.first_start = started
        try:
            return self._bpy.ops.render.render(**kwargs)
        finally:
            self.last_end = time.perf_counter()
            self.seconds += self.last_end - started
            self.calls += 1

    def __getattr__(self, name):
        return getattr(self._bpy, name)


def old_loop(renderer, prepared, view: str, window: int, a: int, b: int, out: Path) -> None:
    """The render window as it was before the pipeline: everything serial with the render."""
    import simplejpeg

    from synthact import atomic
    from synthact.render.cameras import Camera, project
    from synthact.render.visibility import keypoint_visibility
    from synthact.render.worker import mask_bboxes

    frames = prepared.source_frames[a:b]
    motion = prepared.motion
    model = renderer.body_model(motion.gender)
    posed = model.pose(motion.poses[frames], prepared.trans(a, b), prepared.betas + prepared.noise)
    path = prepared.cameras
    cameras = [Camera(K=path.K, R=path.R[i], t=path.t[i], width=renderer.rig.width, height=renderer.rig.height)
               for i in range(a, b)]  # fmt: skip
    rendered = renderer.scene.render_clip(posed.vertices, cameras, prepared.appearance, seed=window)
    joints_cam = np.einsum("tij,tkj->tki", path.R[a:b], posed.joints) + path.t[a:b, None, :]
    uv = project(joints_cam, path.K)
    blobs = [simplejpeg.encode_jpeg(np.ascontiguousarray(f), quality=90, colorspace="RGB") for f in rendered.rgb]
    arrays = {
        "rgb_jpeg": np.frombuffer(b"".join(blobs), np.uint8),
        "rgb_offsets": np.cumsum([0] + [len(x) for x in blobs]),
        "depth": rendered.depth.astype(np.float32), "mask": rendered.mask.astype(np.uint8),
        "parts": rendered.parts, "normals": rendered.normals.astype(np.float16),
        "keypoints_2d": uv.astype(np.float32),
        "keypoints_visible": keypoint_visibility(uv, joints_cam[..., 2], rendered.depth, rendered.mask, rendered.parts),
        "joints_cam": joints_cam.astype(np.float32), "joints_world": posed.joints.astype(np.float32),
        "bbox": mask_bboxes(rendered.mask),
    }  # fmt: skip
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    atomic.write_bytes(out, buffer.getvalue(), fsync=True)


def make_renderer(model, width: int, height: int, samples: int, device: str, threads: int, denoise: bool = False):
    """A ``TakeRenderer`` on the demo body, without a run's config files."""
    from synthact.body.skeleton import vertex_parts
    from synthact.render import blender
    from synthact.render.encode import StorageSettings
    from synthact.render.visibility import output_joint_parts
    from synthact.render.worker import TakeRenderer

    renderer = TakeRenderer.__new__(TakeRenderer)
    renderer.config = {"render": {}}
    renderer._models = {model.gender: model}
    settings = blender.RenderSettings(
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
    from synthact.render.appearance import sample_appearance
    from synthact.render.cameras import intrinsics, look_at
    from synthact.render.rig import CameraPath
    from synthact.render.worker import PreparedTake

    T = len(motion.poses)
    centre = motion.trans.mean(axis=0) + np.array([0.0, 0.0, 0.2])
    R, t = look_at(centre + np.array([3.5, 0.0, 0.4]), centre)
    cameras = CameraPath(K=intrinsics(width, height, 55.0), R=np.repeat(R[None], T, 0), t=np.repeat(t[None], T, 0),
                         distance_m=3.5)  # fmt: skip
    plan = SimpleNamespace(take=SimpleNamespace(path_center=(0.0, 0.0), take_id="bench"),
                           view=lambda v: SimpleNamespace(seed=11))  # fmt: skip
    betas = np.asarray(motion.betas, np.float32)
    return PreparedTake(plan=plan, motion=motion, source_frames=np.arange(T), betas=betas,
                        noise=np.zeros(16, np.float32), offset=0.0,
                        appearance=sample_appearance(seed, blender.available_hdris()), cameras=cameras)  # fmt: skip


def run_task(loop: str, renderer, timed, prepared, frames: int, window: int, out_dir: Path) -> dict[str, float]:
    """One render task over ``frames`` frames in windows; wall and render-call seconds."""
    from synthact.render.worker import render_windows

    timed.seconds, timed.calls = 0.0, 0
    started = time.perf_counter()
    windows = [(i, a, min(a + window, frames)) for i, a in enumerate(range(0, frames, window))]
    if loop == "old":
        for i, a, b in windows:
            old_loop(renderer, prepared, "front", i, a, b, out_dir / f"old{i}.npz")
    else:  # the worker's own loop (pose ahead, code behind)
        renderer.prepare = lambda take, view: prepared
        take = SimpleNamespace(take=SimpleNamespace(take_id="bench"))
        render_windows(renderer, "front", [(take, i, a, b, out_dir / f"new{i}.npz") for i, a, b in windows])
    wall = time.perf_counter() - started
    # Steady state: from the first render call's start to the last one's end, so the
    # task's start (first pose) and end (coding the last frames) are left out.
    steady = timed.last_end - timed.first_start
    return {"wall": wall, "render": timed.seconds, "frames": timed.calls, "steady": steady}


def load_motion_frames(data_dir: Path, frames: int):
    from synthact.sources.amass import iter_motion_files, load_motion

    model, _ = posed_demo_clip(data_dir, 1)
    motion = load_motion(next(iter_motion_files(data_dir / "amass")))
    step = max(1, round(motion.fps / 30))
    pick = np.resize(np.arange(0, len(motion.poses), step), frames)  # loop the motion if short
    motion = SimpleNamespace(poses=motion.poses[pick], trans=motion.trans[pick], betas=motion.betas,
                             gender=motion.gender)  # fmt: skip
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
        for loop, runs in results.items():
            ratio = [r["wall"] / r["render"] for r in runs]
            cpu_ms = [1e3 * (r["wall"] - r["render"]) / r["frames"] for r in runs]
            render_ms = [1e3 * r["render"] / r["frames"] for r in runs]
            steady_ms = [1e3 * (r["steady"] - r["render"]) / max(r["frames"] - 1, 1) for r in runs]
            row = {"size": size, "loop": loop, "device": args.device, "samples": args.samples,
                   "wall_over_render": ratio, "non_overlapped_cpu_ms_per_frame": cpu_ms,
                   "render_call_ms_per_frame": render_ms, "steady_gap_ms_per_frame": steady_ms}  # fmt: skip
            rows.append(row)
            print(f"{size} {loop:3s}: wall/render-call {' '.join(f'{x:.3f}' for x in ratio)}; "
                  f"non-overlapped CPU {' '.join(f'{x:.1f}' for x in cpu_ms)} ms/frame; "
                  f"render call {np.median(render_ms):.1f} ms/frame; steady-state gap between render calls "
                  f"{' '.join(f'{x:.1f}' for x in steady_ms)} ms/frame", flush=True)  # fmt: skip
        old = np.median([r["wall"] for r in results["old"]])
        new = np.median([r["wall"] for r in results["new"]])
        print(f"{size}: old / new task wall time = {old / new:.3f}", flush=True)
    return rows


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
        from synthact.render.appearance import sample_appearance

        hdris = blender.available_hdris()
        for take in range(args.memory_takes):
            prepared.appearance = sample_appearance(take, hdris)  # a new look per take, as in a shard
            renderer.render_window(prepared, "front", take, 0, args.memory_frames, Path(out) / "w.npz", pipeline)
            pipeline.drain()
            rss.append(rss_mb())
    base = rss[min(49, len(rss) - 1)]
    growth = 100 * (rss[-1] - base) / base
    print(f"memory: RSS {rss[0]:.0f} MB after take 1, {base:.0f} MB after take 50, {rss[-1]:.0f} MB after take "
          f"{len(rss)}: {growth:+.2f} % from take 50 to the last "
          f"({args.memory_frames} frames of 32x24 per take)")  # fmt: skip
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
