"""Reading for training, side by side in one run: the AMARV authors' way of reading the
export against our reader, before and after; bytes per frame-view per modality; AV1.

One demo take is rendered once at 320x240 (``--frames``, default 240), then:

1. **Readers**, interleaved window by window (the same random windows, ``--windows``
   of ``--num-frames`` x ``--stride``, resized to 224 px on the short side):
   - *authors, before*: the export as it was (x264's default GOP, keyframes every 250
     frames, 4:4:4), read the authors' way: PyAV seek to the window's first frame
     (lands on the keyframe at or before it), decode to the window's end, convert
     every frame of the window to RGB, keep every ``stride``-th;
   - *authors, K*: the export as it is now (4:2:0, a keyframe every K frames, for each
     K of ``--export-k``), read the same way;
   - *ours, before*: ``ShardReader`` as it was: decode the whole window from its
     keyframe and convert every frame, then pick;
   - *ours*: ``ShardReader.read`` with the stride slice (converts only the returned
     frames, skips runs no pick needs).
   Each prints samples/s (wall) and CPU ms per sample (the process's CPU time).
2. **Bytes per frame-view** of each modality as the render task codes it
   (``WindowCoder``, the defaults: H.264, depth and normals v2, gzip) against the
   v1 coding of the images (the codes themselves, gzip 4), and the SURREAL set
   RGB + depth + segmentation + joints; the errors of depth (on and off the mask)
   and normals on this render; the angle between the rendered normals and normals
   derived from the depth (what deriving them at read time would give); the joints
   at 1, 8 and 32 frames per chunk; whether the mask equals ``parts > 0``; with
   ``--geometry N``, depth and normal bytes and the mask check on N frames of the
   geometry engine too.
3. **AV1** (SVT-AV1, its default preset) against H.264 on the same frames: bytes
   per frame and PSNR against the render.

    .venv/bin/python benchmarks/read_speed.py                       # about 5 min on 2 cores
    .venv/bin/python benchmarks/read_speed.py --render-cache /tmp/take.npz   # keep the render for reruns
    .venv/bin/python benchmarks/read_speed.py --render-cache /tmp/take.npz --no-readers   # sections 2 and 3
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

SIZE = (320, 240)
RESIZE = 224


def render(frames: int, samples: int, denoise: bool, cache: Path | None) -> dict[str, np.ndarray]:
    if cache is not None and cache.exists():
        with np.load(cache) as data:
            return {k: data[k] for k in data.files}
    from render_overhead import load_motion_frames, make_renderer, prepared_take
    from shard_storage import render_take

    with tempfile.TemporaryDirectory() as tmp:
        model, motion = load_motion_frames(Path(tmp) / "data", frames)
        renderer, _ = make_renderer(model, *SIZE, samples, "CPU", 0, denoise=denoise)
        take = render_take(renderer, prepared_take(model, motion, *SIZE), frames)
        renderer.scene.close()
    if cache is not None:
        np.savez(cache, **take)
    return take


def resize(frames: np.ndarray) -> np.ndarray:
    """(T, H, W, 3) uint8 -> (T, 3, 224, w) float32, as a training transform would (the same for every reader)."""
    import torch

    x = torch.from_numpy(frames).permute(0, 3, 1, 2).float()
    h, w = x.shape[-2:]
    return torch.nn.functional.interpolate(x, size=(RESIZE, round(w * RESIZE / h)), mode="bilinear").numpy()


# --- the readers ----------------------------------------------------------------------


def authors_read(path: Path, start: int, num_frames: int, stride: int) -> np.ndarray:
    """PyAV as the authors' loader reads: seek, decode to the window's end, convert each frame of it."""
    import av

    stop = start + (num_frames - 1) * stride + 1
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        ticks = 1 / (stream.time_base * stream.average_rate)  # pts per frame
        container.seek(int(start * ticks), stream=stream, backward=True, any_frame=False)
        window = []
        for frame in container.decode(stream):
            index = round(frame.pts / ticks)
            if index >= stop:
                break
            if index >= start:
                window.append(frame.to_ndarray(format="rgb24"))
    return resize(np.stack(window)[::stride])


def ours_before(reader, start: int, num_frames: int, stride: int) -> np.ndarray:
    stop = start + (num_frames - 1) * stride + 1
    return resize(reader.read("t0", "front", ["rgb"], slice(start, stop))["rgb"][::stride])


def ours(reader, start: int, num_frames: int, stride: int) -> np.ndarray:
    stop = start + (num_frames - 1) * stride + 1
    return resize(reader.read("t0", "front", ["rgb"], slice(start, stop, stride))["rgb"])


def time_readers(readers: dict[str, Callable[[int], np.ndarray]], starts: list[int]) -> dict[str, tuple[float, float]]:
    """Interleaved: every window through every reader in turn. Returns name -> (samples/s, CPU ms/sample)."""
    wall = dict.fromkeys(readers, 0.0)
    cpu = dict.fromkeys(readers, 0.0)
    for read in readers.values():  # warm-up: imports, first decoder
        read(starts[0])
    for start in starts:
        for name, read in readers.items():
            w, c = time.perf_counter(), time.process_time()
            read(start)
            wall[name] += time.perf_counter() - w
            cpu[name] += time.process_time() - c
    n = len(starts)
    return {name: (n / wall[name], 1000 * cpu[name] / n) for name in readers}


# --- storage --------------------------------------------------------------------------


def store_rgb(path: Path, take: dict[str, np.ndarray], settings, window: int) -> None:
    """The take-view's RGB as the merge stores it: windows coded apart, joined."""
    from synthact.codecs.storage import write_video
    from synthact.codecs.video import concat_videos, encode_video
    from synthact.shard_format import FORMAT_VERSION, TAKE_IDS, VIEWS_ATTRIBUTE

    rgb = take["rgb"]
    parts = [encode_video(rgb[a : a + window], settings.video()) for a in range(0, len(rgb), window)]
    with h5py.File(path, "w") as f:
        f.attrs.update(format="synthact-shard", format_version=FORMAT_VERSION, views='["front"]')
        f.attrs[VIEWS_ATTRIBUTE.name] = '["front"]'
        f.create_dataset(TAKE_IDS, data=np.array(["t0"], dtype=h5py.string_dtype()))
        f["takes/t0/frames"] = np.arange(len(rgb))
        write_video(f.create_group("takes/t0/views/front/rgb"), concat_videos(parts))


JOINTS = ("keypoints_2d", "keypoints_visible", "joints_cam")


def joint_bytes(take: dict[str, np.ndarray], frames_per_chunk: int = 1, shuffle: bool = True) -> float:
    """Bytes per frame of the joints as the writer stores them: gzip 4 + shuffle, ``frames_per_chunk`` per chunk."""
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        for name in JOINTS:
            data = take[name]
            chunks = (min(frames_per_chunk, len(data)), *data.shape[1:])
            f.create_dataset(name, data=data, compression="gzip", compression_opts=4, shuffle=shuffle, chunks=chunks)
        return sum(f[name].id.get_storage_size() for name in JOINTS) / len(take["rgb"])


def v1_image_bytes(take: dict[str, np.ndarray]) -> dict[str, float]:
    """Bytes per frame of the images as v1 coded them: the codes themselves, gzip 4 (+ shuffle)."""
    from synthact.codecs import depth, normals
    from synthact.codecs.chunks import compress_chunk

    coders = {
        "depth": lambda i: depth.encode_depth(take["depth"][i]),
        "normals": lambda i: normals.encode_normals(take["normals"][i]),
        "mask": lambda i: take["mask"][i].astype(np.uint8),
        "parts": lambda i: take["parts"][i],
    }
    T = len(take["rgb"])
    return {name: sum(len(compress_chunk(code(i), "gzip", 4)) for i in range(T)) / T for name, code in coders.items()}


def modality_bytes(take: dict[str, np.ndarray]) -> dict[str, float]:
    """Bytes per frame-view of each modality, coded as the render task codes them."""
    from synthact.render.encode import StorageSettings, WindowCoder

    T = len(take["rgb"])
    coder = WindowCoder(*SIZE, StorageSettings())
    for i in range(T):
        coder.add(take["rgb"][i], take["depth"][i], take["mask"][i], take["parts"][i], take["normals"][i])
    coded = coder.finish()
    assert coded.video is not None
    out = {"rgb": len(coded.video.data) / T}
    out.update({name: len(image.chunks) / T for name, image in coded.images.items()})
    out["joints"] = joint_bytes(take)
    return out


def print_bytes(take: dict[str, np.ndarray]) -> None:
    """Bytes per frame-view per modality, v1 coding against today's, and the stored bounds on this render."""
    now = modality_bytes(take)
    before = {**now, **v1_image_bytes(take)}
    print("\n| modality | bytes per frame-view, v1 coding | now |")
    print("|---|---|---|")
    for name in now:
        print(f"| {name} | {before[name]:,.0f} | {now[name]:,.0f} |")
    for label, per in (("RGB + depth + segmentation (parts) + joints", "surreal"), ("all", "all")):
        pick = ("rgb", "depth", "parts", "joints") if per == "surreal" else tuple(now)
        print(f"| **{label}** | {sum(before[k] for k in pick):,.0f} | **{sum(now[k] for k in pick):,.0f}** |")
    print("(goal for RGB + depth + segmentation + joints: 7,400; SURREAL 14,800)")
    print_bounds(take)
    print_steps(take)
    print("\n| joints: frames per chunk (gzip 4) | bytes per frame-view |")
    print("|---|---|")
    print(f"| 1, without shuffle | {joint_bytes(take, 1, shuffle=False):,.0f} |")
    for frames in (1, 8, 32):
        print(f"| {frames}, shuffle | {joint_bytes(take, frames):,.0f} |")
    same = np.array_equal(take["mask"].astype(bool), take["parts"] > 0)
    print(f"\nmask == (parts > 0) on every pixel of this render: {same}")


def print_bounds(take: dict[str, np.ndarray]) -> None:
    """Errors of today's depth and normals coding on this render, and normals derived from its depth."""
    from synthact.codecs import depth, normals

    mask = take["mask"].astype(bool)
    back = depth.decode_stored(depth.encode_stored(take["depth"], mask), depth.ENCODING).astype(np.float64)
    err = np.abs(back - take["depth"])
    near = (take["depth"] > 0) & (take["depth"] <= depth.LINEAR_MAX_M) & ~mask
    relative = (err[near] - depth.MAX_LINEAR_ERROR_M).clip(0) / take["depth"][near]
    print(f"depth: max error on the mask {1000 * err[mask].max():.3f} mm, off it {100 * relative.max():.4f} % + 0.5 mm")
    hit = np.linalg.norm(take["normals"], axis=-1) > 0
    decoded = normals.decode_stored(normals.encode_stored(take["normals"]), normals.ENCODING)
    print(f"normals: max angle {_angles(decoded[hit], take['normals'][hit]).max():.3f} deg")
    derived = normals_from_depth(take["depth"], take["K"])
    inside = mask & np.roll(mask, 1, -1) & np.roll(mask, -1, -1) & np.roll(mask, 1, -2) & np.roll(mask, -1, -2)
    angle = _angles(derived[inside], take["normals"][inside])
    p50, p90, p99 = np.percentile(angle, [50, 90, 99])
    print(
        f"normals derived from the float depth, inside the mask: median {p50:.1f}, 90 % {p90:.1f}, 99 % {p99:.1f} deg"
    )


def print_steps(take: dict[str, np.ndarray]) -> None:
    """What each step of the v2 codings gains on this render, bytes per frame (gzip 4)."""
    from synthact.codecs import depth, normals
    from synthact.codecs.chunks import compress_chunk
    from synthact.codecs.predict import to_differences

    T = len(take["rgb"])
    mask = take["mask"].astype(bool)

    def person_2mm(i: int) -> np.ndarray:  # v1 codes with 2 mm steps on the mask only
        codes = depth.encode_depth(take["depth"][i])
        codes[mask[i]] = depth.quantise_codes(take["depth"][i], mask[i])[mask[i]]
        return codes

    steps: dict[str, Callable[[int], np.ndarray]] = {
        "depth: codes (v1)": lambda i: depth.encode_depth(take["depth"][i]),
        "depth: 2 mm on the mask": person_2mm,
        "depth: codes, rows differenced": lambda i: to_differences(depth.encode_depth(take["depth"][i]), (-2,)),
        "depth: 2 mm on the mask, rows differenced": lambda i: to_differences(person_2mm(i), (-2,)),
        "depth: v2 (2 mm, 0.1 % grid off the mask, rows differenced)": lambda i: depth.encode_stored(
            take["depth"][i], mask[i]
        ),
        "normals: codes (v1)": lambda i: normals.encode_normals(take["normals"][i]),
        "normals: codes, rows differenced": lambda i: to_differences(normals.encode_normals(take["normals"][i]), (-3,)),
        "normals: codes, planar residuals": lambda i: to_differences(
            normals.encode_normals(take["normals"][i]), normals.PLANAR_AXES
        ),
        "normals: v2 (codes of (x, y, -z), planar residuals)": lambda i: normals.encode_stored(take["normals"][i]),
        "mask": lambda i: take["mask"][i].astype(np.uint8),
        "parts": lambda i: take["parts"][i],
    }
    print("\n| coding | default deflate | run-length deflate |")
    print("|---|---|---|")
    for name, code in steps.items():
        arrays = [code(i) for i in range(T)]
        plain, runs = (sum(len(compress_chunk(a, "gzip", 4, r)) for a in arrays) / T for r in (False, True))
        print(f"| {name} | {plain:,.0f} | {runs:,.0f} |")


def print_geometry_bytes(frames: int) -> None:
    """Depth and normals bytes, v1 against v2, on the geometry engine's exact (noise-free) passes."""
    from render_speed import camera_for, posed_demo_clip

    from synthact.body.skeleton import vertex_parts
    from synthact.codecs import depth, normals
    from synthact.codecs.chunks import compress_chunk
    from synthact.render.geometry import GeometryScene
    from synthact.render.renderer import RenderSettings

    with tempfile.TemporaryDirectory() as tmp:
        model, posed = posed_demo_clip(Path(tmp), frames)
    settings = RenderSettings(width=SIZE[0], height=SIZE[1], engine="GEOMETRY")
    scene = GeometryScene(settings, np.asarray(model.faces), vertex_parts(model.lbs_weights))
    out = scene.render_clip(posed.vertices, camera_for(posed, *SIZE))
    T = len(out.depth)

    def mean_bytes(code: Callable[[int], np.ndarray], runs: bool) -> float:
        return sum(len(compress_chunk(code(i), "gzip", 4, runs)) for i in range(T)) / T

    v1 = mean_bytes(lambda i: depth.encode_depth(out.depth[i]), False)
    v2 = mean_bytes(lambda i: depth.encode_stored(out.depth[i], out.mask[i]), True)
    n1 = mean_bytes(lambda i: normals.encode_normals(out.normals[i]), False)
    n2 = mean_bytes(lambda i: normals.encode_stored(out.normals[i]), True)
    same = np.array_equal(out.mask.astype(bool), out.parts > 0)
    print(
        f"\ngeometry engine, {T} frames: depth {v1:,.0f} -> {v2:,.0f}, normals {n1:,.0f} -> {n2:,.0f} bytes per frame"
    )
    print(f"mask == (parts > 0) on every pixel of the geometry engine's frames: {same}")


def normals_from_depth(depth_m: np.ndarray, K: np.ndarray) -> np.ndarray:
    """(T, H, W, 3) unit normals of the back-projected depth (central differences), facing the camera."""
    _, H, W = depth_m.shape
    v, u = np.mgrid[0:H, 0:W] + 0.5
    x = (u - K[0, 2]) / K[0, 0] * depth_m
    y = (v - K[1, 2]) / K[1, 1] * depth_m
    points = np.stack([x, y, depth_m], -1).astype(np.float64)
    du = np.gradient(points, axis=2)
    dv = np.gradient(points, axis=1)
    n = np.cross(du, dv)
    n /= np.maximum(np.linalg.norm(n, axis=-1, keepdims=True), 1e-12)
    return np.where(n[..., 2:] > 0, -n, n)


def _angles(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = a.astype(np.float64), b.astype(np.float64)
    return np.degrees(np.arctan2(np.linalg.norm(np.cross(a, b), axis=-1), np.sum(a * b, axis=-1)))


def codec_quality(take: dict[str, np.ndarray], codec: str, crf: int) -> tuple[float, float]:
    from synthact.codecs.video import VideoSettings, decode_all, encode_video
    from synthact.consume.video import psnr

    coded = encode_video(take["rgb"], VideoSettings(codec=codec, crf=crf, keyframe_interval=8))
    return len(coded.data) / len(take["rgb"]), psnr(decode_all(coded), take["rgb"])


def compare_readers(take: dict[str, np.ndarray], args: argparse.Namespace) -> None:
    """Section 1: every reader on the same random windows, interleaved."""
    from synthact.consume.reader import ShardReader
    from synthact.consume.video import write_mp4
    from synthact.render.encode import StorageSettings

    T = len(take["rgb"])
    span = (args.num_frames - 1) * args.stride + 1
    starts = np.random.default_rng(args.seed).integers(0, T - span + 1, args.windows).tolist()
    print(f"take: {T} frames at {SIZE[0]}x{SIZE[1]}; {args.windows} windows of {args.num_frames} x {args.stride}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        store_rgb(tmp / "shard.h5", take, StorageSettings(), window=304)
        exports = {"authors, before (x264 GOP 250, 4:4:4)": (None, "yuv444p")}
        exports.update({f"authors, K={k} 4:2:0": (k, "yuv420p") for k in args.export_k})
        readers: dict[str, Callable[[int], np.ndarray]] = {}
        sizes = {}
        for name, (gop, pix_fmt) in exports.items():
            path = tmp / f"{len(readers)}.mp4"
            write_mp4(path, take["rgb"], 30.0, pix_fmt=pix_fmt, gop=gop)
            sizes[name] = path.stat().st_size
            readers[name] = lambda s, p=path: authors_read(p, s, args.num_frames, args.stride)
        reader = ShardReader(tmp / "shard.h5", parallel_decode=False)
        readers["ours, before (decode + convert the whole window)"] = lambda s: ours_before(
            reader, s, args.num_frames, args.stride
        )
        readers["ours (convert only the returned frames)"] = lambda s: ours(reader, s, args.num_frames, args.stride)
        first = {name: read(starts[0]) for name, read in readers.items()}
        reference = first["ours (convert only the returned frames)"]
        assert np.array_equal(first["ours, before (decode + convert the whole window)"], reference)
        results = time_readers(readers, starts)
        ours_cpu = results["ours (convert only the returned frames)"][1]
        print("\n| reader | samples/s | CPU ms / sample | CPU vs ours | export bytes per frame |")
        print("|---|---|---|---|---|")
        for name, (rate, cpu) in results.items():
            size = f"{sizes[name] / T:,.0f}" if name in sizes else ""
            print(f"| {name} | {rate:.1f} | {cpu:.1f} | {cpu / ours_cpu:.2f}x | {size} |")
        reader.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=240, help="frames of the rendered take")
    parser.add_argument("--samples", type=int, default=16, help="Cycles samples")
    parser.add_argument("--no-denoise", action="store_true", help="render without OIDN (faster, noisy RGB)")
    parser.add_argument("--windows", type=int, default=40, help="random windows per reader")
    parser.add_argument("--num-frames", type=int, default=16)
    parser.add_argument("--stride", type=int, default=4)
    parser.add_argument(
        "--export-k", type=int, nargs="+", default=[8, 16, 32], help="export keyframe intervals to time"
    )
    parser.add_argument("--av1-crf", type=int, default=35)
    parser.add_argument("--render-cache", type=Path, help="an npz of the render: written once, then reused")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--no-readers", dest="readers", action="store_false", help="skip the readers: bytes, bounds and AV1 only"
    )
    parser.add_argument("--geometry", type=int, default=0, help="also code this many geometry-engine frames")
    args = parser.parse_args()

    take = render(args.frames, args.samples, not args.no_denoise, args.render_cache)
    if args.readers:
        compare_readers(take, args)
    if args.geometry:
        print_geometry_bytes(args.geometry)
    print_bytes(take)

    print("\n| RGB codec | bytes per frame | PSNR against the render |")
    print("|---|---|---|")
    for codec, crf in (("h264", 23), ("av1", args.av1_crf)):
        size, quality = codec_quality(take, codec, crf)
        print(f"| {codec} crf {crf} | {size:,.0f} | {quality:.2f} dB |")


if __name__ == "__main__":
    main()
