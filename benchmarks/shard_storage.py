"""Bytes per frame-view of real shards, before and after the encodings, on the same
takes in one run, and the time to read a random 16-frame RGB + depth window.

Renders demo takes with the project's renderer at 320x240 (outdoor scene, so
the far ground plane is in view), then writes them twice:
- **before**: the format as it was (JPEG q90 per frame, depth float32, normals
  float16, mask / parts uint8, gzip 4 + shuffle; ``storage.write_old``);
- **after**: the render cache windows as the render loop writes them
  (``WindowCoder``: H.264, depth and normals v2, gzip chunks),
  merged by the real ``write_shard`` and read back by the real ``ShardReader``.

It prints bytes per frame-view per modality, RGB + depth + segmentation +
joints (SURREAL's set: 14.8 KB), all modalities, RGB PSNR against the lossless
render, depth error on the mask, normal error, and the window read time.

    .venv/bin/python benchmarks/shard_storage.py --takes 2 --frames 48 --samples 16 --denoise
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import h5py
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from render_overhead import load_motion_frames, make_renderer, prepared_take
from storage import SURREAL_BYTES, psnr, stored_bytes, write_old

WINDOW = 16
SURREAL_SET = ("rgb", "depth", "parts", "keypoints_2d", "keypoints_visible", "joints_cam")


def render_take(renderer, prepared, frames: int) -> dict[str, np.ndarray]:
    """The lossless arrays of one take-view (what the old loop had in memory)."""
    from synthact.render.visibility import keypoint_visibility
    from synthact.scene.cameras import Camera, project

    motion, path = prepared.motion, prepared.cameras
    model = renderer.body_model(motion.gender)
    posed = model.pose(motion.poses[:frames], prepared.trans(0, frames), prepared.betas)
    cameras = [
        Camera(K=path.K, R=path.R[i], t=path.t[i], width=renderer.rig.width, height=renderer.rig.height)
        for i in range(frames)
    ]
    out = renderer.scene.render_clip(posed.vertices, cameras, prepared.appearance, seed=3)
    joints_cam = (np.einsum("tij,tkj->tki", path.R[:frames], posed.joints) + path.t[:frames, None]).astype(np.float32)
    uv = project(joints_cam.astype(np.float64), path.K).astype(np.float32)
    return {
        "rgb": out.rgb,
        "depth": out.depth,
        "mask": out.mask,
        "parts": out.parts,
        "normals": out.normals,
        "keypoints_2d": uv,
        "keypoints_visible": keypoint_visibility(uv, joints_cam[..., 2], out.depth, out.mask, out.parts),
        "joints_cam": joints_cam,
        "joints_world": posed.joints.astype(np.float32),
        "R": path.R[:frames],
        "t": path.t[:frames],
        "K": path.K,
    }


def cache_windows(fr: dict[str, np.ndarray], cache, take_id: str, window: int, settings=None) -> None:
    """The render loop's cache files for one take-view (same coder, same keys)."""
    from synthact.render.encode import StorageSettings, WindowCoder
    from synthact.render.window_record import WindowRecord
    from synthact.render.worker import mask_bboxes

    T, H, W = fr["mask"].shape
    for index, a in enumerate(range(0, T, window)):
        b = min(a + window, T)
        coder = WindowCoder(W, H, settings or StorageSettings())
        for i in range(a, b):
            coder.add(fr["rgb"][i], fr["depth"][i], fr["mask"][i], fr["parts"][i], fr["normals"][i])
        n = b - a
        WindowRecord.from_arrays(
            {
                **coder.finish().arrays(),
                "keypoints_2d": fr["keypoints_2d"][a:b],
                "keypoints_visible": fr["keypoints_visible"][a:b],
                "joints_cam": fr["joints_cam"][a:b],
                "joints_world": fr["joints_world"][a:b],
                "bbox": mask_bboxes(fr["mask"][a:b]),
                "K": np.asarray(fr["K"], np.float64),
                "R": fr["R"][a:b],
                "t": fr["t"][a:b],
                "distance_m": np.float64(3.5),
                "source_frames": np.arange(a, b),
                "poses": np.zeros((n, 156), np.float32),
                "trans": np.zeros((n, 3), np.float32),
                "betas": np.zeros(16, np.float32),
                "betas_used": np.zeros(16, np.float32),
                "shape_noise": np.zeros(16, np.float32),
                "ground_offset_m": np.float64(0.0),
                "gender": np.array("neutral"),
                "appearance": np.array("{}"),
            }
        ).write(cache.window_path("front", take_id, index))


def plan_for(take_ids: list[str], frames: int, window: int):
    from synthact.scene.rig import ViewPlan
    from synthact.takes.plan import ShardPlan, TakePlan
    from synthact.takes.records import Take

    def take(take_id: str) -> Take:
        return Take(
            take_id=take_id,
            sequence_key=take_id,
            source=take_id,
            sequence_id="0",
            split="train",
            repetition=0,
            fps=30.0,
            source_fps=30.0,
            num_sequence_frames=frames,
            duration_s=frames / 30,
            spans=((0, frames),),
            gender="neutral",
            labels=(),
            path_center=(0.0, 0.0),
            path_radius=0.0,
            heading_deg=0.0,
        )

    views = (ViewPlan("front", 7, "static", 0.0, 3.5, 1.2, {}),)
    takes = tuple(TakePlan(take(t), 1, views) for t in take_ids)
    return ShardPlan("train-00000-of-00001", "train", ("front",), window, "bench", takes)


def old_shard(path: Path, takes: dict[str, dict[str, np.ndarray]]) -> dict[str, int]:
    """The old layout, one group per take-view; bytes per modality summed over takes."""
    total: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for take_id, fr in takes.items():
            one = Path(tmp) / f"{take_id}.h5"
            write_old(one, fr)
            for name, size in stored_bytes(one).items():
                total[name] = total.get(name, 0) + size
            path.write_bytes(path.read_bytes() + one.read_bytes() if path.exists() else one.read_bytes())
    return total


def new_sizes(path: Path) -> dict[str, int]:
    total: dict[str, int] = {}
    for name, size in stored_bytes(path).items():
        parts = name.split("/")
        if parts[0] != "takes" or parts[2] != "views":
            continue
        key = "/".join(parts[4:])
        key = "rgb" if key.startswith("rgb/") else key
        total[key] = total.get(key, 0) + size
    return total


def time_reads(
    path: Path,
    take_ids: list[str],
    frames: int,
    reads: int,
    modalities: tuple[str, ...] = ("rgb", "depth"),
    parallel: bool = True,
) -> tuple[float, float, float]:
    """(median wall, p95 wall, mean CPU) ms of a random 16-frame window of ``modalities``, warm
    handle, view "front"; ``parallel``: ``ShardReader``'s ``parallel_decode``."""
    from synthact.consume.reader import ShardReader

    rng = np.random.default_rng(0)
    wall, cpu = [], []
    with ShardReader(path, parallel_decode=parallel) as reader:
        for i in range(reads + 4):
            take_id = take_ids[i % len(take_ids)]
            a = int(rng.integers(0, frames - WINDOW + 1))
            t0, c0 = time.perf_counter(), time.process_time()
            reader.read(take_id, "front", list(modalities), slice(a, a + WINDOW))
            if i >= 4:  # the first reads open the file and cache each take-view's index
                wall.append(1e3 * (time.perf_counter() - t0))
                cpu.append(1e3 * (time.process_time() - c0))
    return float(np.median(wall)), float(np.percentile(wall, 95)), float(np.mean(cpu))


def main() -> None:
    from synthact.render.encode import StorageSettings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--takes", type=int, default=2)
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--size", default="320x240")
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--denoise", action="store_true")
    parser.add_argument("--window", type=int, default=16)
    parser.add_argument("--reads", type=int, default=60)
    parser.add_argument(
        "--compressors",
        nargs="+",
        choices=("gzip", "zstd"),
        default=["gzip", "zstd"],
        help="render.compressor values to write and compare (same renders)",
    )
    parser.add_argument("--keep", type=Path, help="copy the new shards here (<compressor>.h5), to time reads again")
    parser.add_argument("--keyframe-interval", type=int, default=8, help="render.keyframe_interval")
    args = parser.parse_args()
    width, height = (int(x) for x in args.size.split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model, motion = load_motion_frames(tmp / "data", args.frames * args.takes)
        renderer, _ = make_renderer(model, width, height, args.samples, "CPU", 0, denoise=args.denoise)
        takes = {}
        started = time.perf_counter()
        for k in range(args.takes):
            pick = np.arange(k * args.frames, (k + 1) * args.frames)
            motion_k = SimpleNamespace(
                poses=motion.poses[pick], trans=motion.trans[pick], betas=motion.betas, gender=motion.gender
            )
            takes[f"t{k}"] = render_take(
                renderer, prepared_take(model, motion_k, width, height, seed=1 + k), args.frames
            )
        n = args.takes * args.frames
        print(
            f"rendered {n} frame-views at {args.size}, {args.samples} samples{' + denoise' if args.denoise else ''}: "
            f"{time.perf_counter() - started:.0f} s"
        )
        old = old_shard(tmp / "old.h5", takes)
        for compressor in args.compressors:
            print(f"\n=== render.compressor: {compressor}, keyframe_interval {args.keyframe_interval}")
            settings = StorageSettings(compressor=compressor, keyframe_interval=args.keyframe_interval)
            report_after(tmp / compressor, settings, takes, old, args)


def report_after(tmp: Path, settings, takes: dict[str, dict[str, np.ndarray]], old: dict[str, int], args) -> None:
    """Write the takes the new way with ``settings``; print sizes, errors and window read times."""
    from synthact.consume.reader import ShardReader
    from synthact.render.cache import RenderCache
    from synthact.shards.writer import write_shard

    n = len(takes) * args.frames
    cache = RenderCache(tmp / "cache")
    for take_id, fr in takes.items():
        cache_windows(fr, cache, take_id, args.window, settings)
    shard = tmp / "new.h5"
    t0 = time.perf_counter()
    write_shard(plan_for(list(takes), args.frames, args.window), cache, shard, {})
    merge_s = time.perf_counter() - t0
    new = new_sizes(shard)
    print(f"merge (copies chunks and packets): {1e3 * merge_s / n:.2f} ms per frame-view")
    print("\nbytes per frame-view      before      after")
    keys = ("rgb", "depth", "normals", "mask", "parts", "keypoints_2d", "keypoints_visible", "joints_cam")
    for name in keys:
        print(f"  {name:20s} {old.get(name, 0) / n / 1e3:8.2f} KB {new.get(name, 0) / n / 1e3:8.2f} KB")
    so = sum(old[x] for x in SURREAL_SET) / n
    sn = sum(new[x] for x in SURREAL_SET) / n
    print(f"  RGB+depth+seg+joints {so / 1e3:8.2f} KB {sn / 1e3:8.2f} KB   (SURREAL {SURREAL_BYTES / 1e3:.1f} KB)")
    print(
        f"  those 8 modalities   {sum(old[x] for x in keys) / n / 1e3:8.2f} KB "
        f"{sum(new[x] for x in keys) / n / 1e3:8.2f} KB"
    )
    print(f"  whole new shard: {shard.stat().st_size / n / 1e3:.2f} KB per frame-view (every dataset and attribute)")
    with ShardReader(shard) as reader:
        q, dmax, amax = [], 0.0, 0.0
        for take_id, fr in takes.items():
            got = reader.read(take_id, "front", ["rgb", "depth", "normals"])
            q.append(psnr(got["rgb"], fr["rgb"]))
            dmax = max(dmax, float(np.abs(got["depth"] - fr["depth"])[fr["mask"]].max()))
            hit = np.linalg.norm(fr["normals"], axis=-1) > 0
            cos = np.sum(got["normals"][hit].astype(np.float64) * fr["normals"][hit], axis=-1)
            amax = max(amax, float(np.degrees(np.arccos(np.clip(cos, -1, 1))).max()))
    print(
        f"\nRGB PSNR against the lossless render: {min(q):.2f} dB (worst take); depth error on the mask: "
        f"max {dmax * 1e3:.3f} mm; normals: max {amax:.3f} deg"
    )
    for parts in (("rgb", "depth"), ("rgb",), ("depth",)):
        wall, p95, cpu = time_reads(shard, list(takes), args.frames, args.reads, parts)
        print(
            f"random {WINDOW}-frame {' + '.join(parts)} window, warm handle: median {wall:.1f} ms wall "
            f"(p95 {p95:.1f}), {cpu:.1f} ms CPU"
        )
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shard, args.keep / f"{settings.compressor}.h5")
    with h5py.File(shard) as f:
        d = f["takes/t0/views/front/depth"]
        print("depth filters:", d.compression or "zstd (plugin 32015)", d.compression_opts, "shuffle", d.shuffle)


if __name__ == "__main__":
    main()
