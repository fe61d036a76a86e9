"""Bytes per frame-view and window read time: today's encodings against the codecs.

Renders a demo motion with the project's renderer (``BlenderScene``, outdoor
scene, so the far ground plane is in view) at 320x240, or reuses frames saved
by an earlier run (``--frames-cache``), then, on the same frames:

- writes every modality the old way (JPEG q90, depth float32 + gzip, normals
  float16 + gzip, mask / parts uint8 + gzip) and the new way
  (``synthact.codecs``) into HDF5 files, and prints the stored bytes per
  frame-view of each modality;
- RGB PSNR of each coding against the lossless render (the uint8 sRGB image
  the renderer produces, before any coding);
- RGB + depth + segmentation (parts) + joints (keypoints_2d, keypoints_visible,
  joints_cam) per frame-view, against SURREAL's 14.8 KB;
- errors of the lossless-to-a-bound codecs (depth on the mask, normals);
- the time to read a random 16-frame window of RGB and depth (decoded to
  uint8 RGB and float32 metres) from the new file with a warm handle.

    .venv/bin/python benchmarks/storage.py --frames 32
    .venv/bin/python benchmarks/storage.py --frames-cache /tmp/frames.npz   # render once, reuse

Wall-clock figures depend on what else the machine runs; sizes and PSNR do not.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from synthact.codecs import depth as depth_codec  # noqa: E402
from synthact.codecs import normals as normals_codec  # noqa: E402
from synthact.codecs import storage, video  # noqa: E402

SURREAL_BYTES = 14.8e3
WINDOW = 16


def render_frames(frames: int, width: int, height: int, samples: int, denoise: bool) -> dict[str, np.ndarray]:
    """A demo motion rendered by the real renderer, with its joints projected."""
    from render_speed import camera_for, posed_demo_clip

    from synthact.body.skeleton import vertex_parts
    from synthact.render import blender
    from synthact.render.appearance import sample_appearance
    from synthact.render.cameras import project, to_camera
    from synthact.render.worker import keypoint_visibility

    with tempfile.TemporaryDirectory() as tmp:
        model, posed = posed_demo_clip(Path(tmp), frames)
    settings = blender.RenderSettings(width=width, height=height, samples=samples, denoise=denoise)
    camera = camera_for(posed, width, height)
    started = time.perf_counter()
    with blender.BlenderScene(settings, model.faces, vertex_parts(model.lbs_weights)) as scene:
        out = scene.render_clip(posed.vertices, camera, sample_appearance(1, blender.available_hdris()), seed=0)
    print(f"rendered {len(posed.vertices)} frames at {width}x{height}, {samples} samples"
          f"{' + denoise' if denoise else ''}: {time.perf_counter() - started:.1f} s")  # fmt: skip
    joints_cam = to_camera(posed.joints, camera).astype(np.float32)
    uv = project(joints_cam.astype(np.float64), camera.K).astype(np.float32)
    visible = keypoint_visibility(uv, joints_cam[..., 2], out.depth, out.mask)
    return {"rgb": out.rgb, "depth": out.depth, "mask": out.mask, "parts": out.parts, "normals": out.normals,
            "keypoints_2d": uv, "keypoints_visible": visible, "joints_cam": joints_cam}  # fmt: skip


def stored_bytes(path: Path) -> dict[str, int]:
    """Bytes each dataset occupies in the file (after filters), by name."""
    sizes: dict[str, int] = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: sizes.__setitem__(name, obj.id.get_storage_size())
                     if isinstance(obj, h5py.Dataset) else None)  # fmt: skip
    return sizes


def _gz(f: h5py.File, name: str, data: np.ndarray) -> None:
    f.create_dataset(name, data=data, **storage.image_options(data.shape, data.dtype))


def write_old(path: Path, fr: dict[str, np.ndarray]) -> None:
    """Today's writer: JPEG q90 per frame, float32 depth, float16 normals, gzip 4 + shuffle."""
    import simplejpeg

    with h5py.File(path, "w") as f:
        rgb = f.create_dataset("rgb", shape=(len(fr["rgb"]),), dtype=h5py.vlen_dtype(np.uint8))
        for i, im in enumerate(fr["rgb"]):
            rgb[i] = np.frombuffer(simplejpeg.encode_jpeg(im, quality=90, colorspace="RGB"), np.uint8)
        for name, dtype in (("depth", np.float32), ("normals", np.float16), ("mask", np.uint8), ("parts", np.uint8)):
            f.create_dataset(name, data=fr[name].astype(dtype), compression="gzip", compression_opts=4,
                             shuffle=True, chunks=(1, *fr[name].shape[1:]))  # fmt: skip
        for name in ("keypoints_2d", "keypoints_visible", "joints_cam"):
            f.create_dataset(name, data=fr[name], compression="gzip", compression_opts=4, shuffle=True)


def write_new(path: Path, fr: dict[str, np.ndarray], coded: video.EncodedVideo, normal_bits: int) -> None:
    with h5py.File(path, "w") as f:
        storage.write_video(f.create_group("rgb"), coded)
        _gz(f, "depth", depth_codec.encode_depth(fr["depth"]))
        _gz(f, "normals", normals_codec.encode_normals(fr["normals"], normal_bits))
        _gz(f, "mask", fr["mask"].astype(np.uint8))
        _gz(f, "parts", fr["parts"])
        for name in ("keypoints_2d", "keypoints_visible", "joints_cam"):
            f.create_dataset(name, data=fr[name], compression="gzip", compression_opts=4, shuffle=True)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))


def time_windows(path: Path, num_frames: int, reads: int, seed: int = 0) -> tuple[float, float, float]:
    """(mean, p95, max) ms to read and decode a random 16-frame window of RGB and depth."""
    rng = np.random.default_rng(seed)
    times = []
    with h5py.File(path, "r") as f:
        rgb, codes = f["rgb"], f["depth"]
        index = storage.read_video_index(rgb)  # a reader caches this per take-view
        for i in range(reads + 3):  # the first three warm the handle and the decoder libraries
            start = int(rng.integers(0, num_frames - WINDOW + 1))
            t0 = time.perf_counter()
            storage.read_video_window(rgb, start, start + WINDOW, index=index)
            depth_codec.decode_depth(codes[start : start + WINDOW])
            if i >= 3:
                times.append((time.perf_counter() - t0) * 1e3)
    return float(np.mean(times)), float(np.percentile(times, 95)), float(np.max(times))


def kb(n: float) -> str:
    return f"{n / 1e3:6.2f} KB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--size", default="320x240")
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--denoise", action="store_true")
    parser.add_argument("--frames-cache", type=Path, help="npz of rendered frames: written if absent, else reused")
    parser.add_argument("--crf", type=int, nargs="+", default=[18, 20, 23], help="x264 CRFs to try")
    parser.add_argument("--av1-crf", type=int, nargs="*", default=[30, 35])
    parser.add_argument("--keyframe-interval", type=int, default=16)
    parser.add_argument("--normal-bits", type=int, default=8)
    parser.add_argument("--reads", type=int, default=50)
    args = parser.parse_args()
    width, height = (int(x) for x in args.size.split("x"))

    if args.frames_cache and args.frames_cache.exists():
        with np.load(args.frames_cache) as data:
            fr = {k: data[k] for k in data.files}
        print(f"reusing {len(fr['rgb'])} frames from {args.frames_cache}")
    else:
        fr = render_frames(args.frames, width, height, args.samples, args.denoise)
        if args.frames_cache:
            np.savez(args.frames_cache, **fr)
    n, k = len(fr["rgb"]), args.keyframe_interval
    print(f"{n} frames of {fr['rgb'].shape[2]}x{fr['rgb'].shape[1]}; mask == (parts > 0): "
          f"{np.array_equal(fr['mask'], fr['parts'] > 0)}; depth max {fr['depth'].max():.1f} m, "
          f"{(fr['depth'] > depth_codec.LINEAR_MAX_M).mean():.1%} of pixels beyond 60 m")  # fmt: skip

    # --- RGB codings ---
    print("\nRGB, bytes per frame-view and PSNR against the lossless render:")
    import simplejpeg

    jpeg = [simplejpeg.encode_jpeg(im, quality=90, colorspace="RGB") for im in fr["rgb"]]
    jpeg_rgb = np.stack([simplejpeg.decode_jpeg(b, colorspace="RGB") for b in jpeg])
    print(f"  JPEG q90 (old)            {kb(sum(map(len, jpeg)) / n)}  {psnr(jpeg_rgb, fr['rgb']):5.2f} dB")
    candidates = [video.VideoSettings(codec="h264", crf=c, keyframe_interval=k) for c in args.crf]
    candidates += [video.VideoSettings(codec="h264", crf=c, keyframe_interval=k, bframes=3) for c in args.crf[-1:]]
    candidates += [video.VideoSettings(codec="av1", crf=c, keyframe_interval=k, preset="8") for c in args.av1_crf]
    chosen = None
    for s in candidates:
        t0 = time.perf_counter()
        coded = video.encode_video(fr["rgb"], s)
        enc_ms = (time.perf_counter() - t0) * 1e3 / n
        t0 = time.perf_counter()
        decoded = video.decode_all(coded)
        dec_ms = (time.perf_counter() - t0) * 1e3 / n
        q = psnr(decoded, fr["rgb"])
        print(f"  {s.codec} crf {s.crf:2d} K={k} bframes={s.bframes}  {kb(len(coded.data) / n)}  {q:5.2f} dB  "
              f"encode {enc_ms:5.1f} ms/frame, decode {dec_ms:4.2f} ms/frame")  # fmt: skip
        if s.codec == "h264" and s.bframes == 0 and q >= 34.0 and (chosen is None or s.crf > chosen[0].crf):
            chosen = (s, coded, q)
    if chosen is None:
        chosen = (candidates[0], video.encode_video(fr["rgb"], candidates[0]), 0.0)
    settings, coded, rgb_psnr = chosen
    print(f"  -> new RGB: h264 crf {settings.crf}, K={k} ({rgb_psnr:.2f} dB)")

    # --- errors of the bounded codecs ---
    d = fr["depth"]
    back = depth_codec.decode_depth(depth_codec.encode_depth(d))
    on_mask = fr["mask"]
    print(f"\ndepth error: on the mask max {np.abs(back - d)[on_mask].max() * 1e3:.3f} mm; "
          f"<= 60 m max {np.abs(back - d)[d <= 60].max() * 1e3:.3f} mm; "
          f"beyond 60 m max {np.abs(back - d)[d > 60].max(initial=0) * 1e2:.2f} cm "
          f"(relative {np.abs(back / np.where(d > 0, d, 1) - 1)[d > 60].max(initial=0):.2e})")  # fmt: skip
    nrm = fr["normals"]
    hit = np.linalg.norm(nrm, axis=-1) > 0
    for bits in (8, 16):
        nb = normals_codec.decode_normals(normals_codec.encode_normals(nrm, bits))[hit].astype(np.float64)
        a = nrm[hit].astype(np.float64)
        ang = np.degrees(np.arctan2(np.linalg.norm(np.cross(a, nb), axis=-1), np.sum(a * nb, axis=-1)))
        print(f"normals {bits}-bit octahedral: max {ang.max():.4f} deg, mean {ang.mean():.4f} deg")
    a = nrm[hit].astype(np.float64)
    h = nrm.astype(np.float16).astype(np.float64)[hit]
    ang = np.degrees(np.arctan2(np.linalg.norm(np.cross(a, h), axis=-1), np.sum(a * h, axis=-1)))
    print(f"normals float16 (old): max {ang.max():.4f} deg")

    # --- sizes per modality ---
    with tempfile.TemporaryDirectory() as tmp:
        old_path, new_path = Path(tmp) / "old.h5", Path(tmp) / "new.h5"
        write_old(old_path, fr)
        write_new(new_path, fr, coded, args.normal_bits)
        old, new = stored_bytes(old_path), stored_bytes(new_path)
        new["rgb"] = sum(new.pop(f"rgb/{x}") for x in ("data", *storage.VIDEO_INDEX))
        print("\nbytes per frame-view      old          new")
        for name in old:
            print(f"  {name:22s}  {kb(old[name] / n)}   {kb(new[name] / n)}   {old[name] / max(new[name], 1):5.1f}x")
        surreal = ("rgb", "depth", "parts", "keypoints_2d", "keypoints_visible", "joints_cam")
        so, sn = sum(old[x] for x in surreal) / n, sum(new[x] for x in surreal) / n
        print(f"  RGB+depth+seg+joints    {kb(so)}   {kb(sn)}   (SURREAL {kb(SURREAL_BYTES)}; new "
              f"{'meets' if sn <= SURREAL_BYTES else 'misses'} it)")  # fmt: skip
        print(f"  all modalities          {kb(sum(old.values()) / n)}   {kb(sum(new.values()) / n)}   "
              f"{sum(old.values()) / sum(new.values()):5.1f}x")  # fmt: skip
        if n >= WINDOW:
            mean, p95, worst = time_windows(new_path, n, args.reads)
            print(f"\nrandom {WINDOW}-frame window of RGB + depth, warm handle: mean {mean:.2f} ms, "
                  f"p95 {p95:.2f} ms, max {worst:.2f} ms (target <= 10 ms)")  # fmt: skip


if __name__ == "__main__":
    main()
