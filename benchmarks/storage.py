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

from synthact.codecs import depth as depth_codec
from synthact.codecs import normals as normals_codec
from synthact.codecs import storage, video

SURREAL_BYTES = 14.8e3
WINDOW = 16


def render_frames(frames: int, width: int, height: int, samples: int, denoise: bool) -> dict[str, np.ndarray]:
    """A demo motion rendered by the real renderer, with its joints projected."""
    from render_speed import camera_for, posed_demo_clip

    from synthact.body.skeleton import vertex_parts
    from synthact.render import blender
    from synthact.render.renderer import RenderSettings
    from synthact.render.visibility import keypoint_visibility
    from synthact.scene.appearance import sample_appearance
    from synthact.scene.cameras import project, to_camera

    with tempfile.TemporaryDirectory() as tmp:
        model, posed = posed_demo_clip(Path(tmp), frames)
    settings = RenderSettings(width=width, height=height, samples=samples, denoise=denoise)
    camera = camera_for(posed, width, height)
    started = time.perf_counter()
    with blender.BlenderScene(settings, model.faces, vertex_parts(model.lbs_weights)) as scene:
        out = scene.render_clip(posed.vertices, camera, sample_appearance(1, blender.available_hdris()), seed=0)
    print(
        f"rendered {len(posed.vertices)} frames at {width}x{height}, {samples} samples"
        f"{' + denoise' if denoise else ''}: {time.perf_counter() - started:.1f} s"
    )
    joints_cam = to_camera(posed.joints, camera).astype(np.float32)
    uv = project(joints_cam.astype(np.float64), camera.K).astype(np.float32)
    visible = keypoint_visibility(uv, joints_cam[..., 2], out.depth, out.mask, out.parts)
    return {
        "rgb": out.rgb,
        "depth": out.depth,
        "mask": out.mask,
        "parts": out.parts,
        "normals": out.normals,
        "keypoints_2d": uv,
        "keypoints_visible": visible,
        "joints_cam": joints_cam,
    }


def stored_bytes(path: Path) -> dict[str, int]:
    """Bytes each dataset occupies in the file (after filters), by name.

    A variable-length dataset's storage holds only 16-byte heap references;
    its blobs (in the global heap) are added.
    """
    sizes: dict[str, int] = {}

    def visit(name: str, obj) -> None:
        if isinstance(obj, h5py.Dataset):
            sizes[name] = obj.id.get_storage_size()
            if h5py.check_vlen_dtype(obj.dtype) is not None:
                sizes[name] += sum(len(blob) for blob in obj[()])

    with h5py.File(path, "r") as f:
        f.visititems(visit)
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
            f.create_dataset(
                name,
                data=fr[name].astype(dtype),
                compression="gzip",
                compression_opts=4,
                shuffle=True,
                chunks=(1, *fr[name].shape[1:]),
            )
        for name in ("keypoints_2d", "keypoints_visible", "joints_cam"):
            f.create_dataset(name, data=fr[name], compression="gzip", compression_opts=4, shuffle=True)


def write_new(
    path: Path, fr: dict[str, np.ndarray], coded: video.EncodedVideo, normal_bits: int, compressor: str
) -> None:
    def image(f: h5py.File, name: str, data: np.ndarray) -> None:
        f.create_dataset(name, data=data, **storage.image_options(data.shape, data.dtype, compressor))

    with h5py.File(path, "w") as f:
        storage.write_video(f.create_group("rgb"), coded)
        image(f, "depth", depth_codec.encode_depth(fr["depth"]))
        image(f, "normals", normals_codec.encode_normals(fr["normals"], normal_bits))
        image(f, "mask", fr["mask"].astype(np.uint8))
        image(f, "parts", fr["parts"])
        for name in ("keypoints_2d", "keypoints_visible", "joints_cam"):
            f.create_dataset(name, data=fr[name], compression="gzip", compression_opts=4, shuffle=True)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))


def time_windows(
    path: Path, num_frames: int, reads: int, what: tuple[str, ...] = ("rgb", "depth"), seed: int = 0
) -> tuple[float, float, float]:
    """(mean wall, p95 wall, mean CPU) ms to read and decode random 16-frame windows.

    CPU time (this process) is the cost on an idle core; wall time includes
    waiting for a core on a shared machine.
    """
    import hdf5plugin  # noqa: F401  (registers the zstd filter)

    rng = np.random.default_rng(seed)
    wall, cpu = [], []
    with h5py.File(path, "r") as f:
        index = storage.read_video_index(f["rgb"])  # a reader caches this per take-view
        for i in range(reads + 3):  # the first three warm the handle and the decoder libraries
            start = int(rng.integers(0, num_frames - WINDOW + 1))
            t0, c0 = time.perf_counter(), time.process_time()
            if "rgb" in what:
                storage.read_video_window(f["rgb"], start, start + WINDOW, index=index)
            if "depth" in what:
                depth_codec.decode_depth(f["depth"][start : start + WINDOW])
            if i >= 3:
                wall.append((time.perf_counter() - t0) * 1e3)
                cpu.append((time.process_time() - c0) * 1e3)
    return float(np.mean(wall)), float(np.percentile(wall, 95)), float(np.mean(cpu))


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
    parser.add_argument("--keyframe-interval", type=int, default=video.VideoSettings().keyframe_interval)
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
    print(
        f"{n} frames of {fr['rgb'].shape[2]}x{fr['rgb'].shape[1]}; mask == (parts > 0): "
        f"{np.array_equal(fr['mask'], fr['parts'] > 0)}; depth max {fr['depth'].max():.1f} m, "
        f"{(fr['depth'] > depth_codec.LINEAR_MAX_M).mean():.1%} of pixels beyond 60 m"
    )

    # --- RGB codings ---
    print("\nRGB per frame-view, PSNR against the lossless render, CPU ms (encode / frame; 16-frame window):")
    import simplejpeg

    jpeg = [simplejpeg.encode_jpeg(im, quality=90, colorspace="RGB") for im in fr["rgb"]]
    jpeg_rgb = np.stack([simplejpeg.decode_jpeg(b, colorspace="RGB") for b in jpeg])
    print(f"  {'JPEG q90 (old)':42s}{kb(sum(map(len, jpeg)) / n)}  {psnr(jpeg_rgb, fr['rgb']):5.2f} dB")
    V = video.VideoSettings
    candidates = [V(crf=c, keyframe_interval=k) for c in args.crf]  # the default settings, but the CRF
    candidates += [
        V(crf=23, keyframe_interval=16),
        V(crf=23, keyframe_interval=16, tune=""),
        V(crf=23, keyframe_interval=k, tune=""),
        V(crf=23, keyframe_interval=k, bframes=3, tune=""),
        V(crf=23, keyframe_interval=k, pix_fmt="yuv444p"),
        V(codec="jpeg", keyframe_interval=1),
    ]
    candidates += [V(codec="av1", crf=c, keyframe_interval=k, preset="8") for c in args.av1_crf]
    rng = np.random.default_rng(0)
    starts = rng.integers(0, n - WINDOW + 1, size=20) if n >= WINDOW else []
    for s in candidates:
        c0 = time.process_time()
        coded = video.encode_video(fr["rgb"], s)
        enc_ms = (time.process_time() - c0) * 1e3 / n
        q = psnr(video.decode_all(coded), fr["rgb"])
        c0 = time.process_time()
        for a in starts:
            video.decode_window(coded.data, coded.offsets, coded.pts, coded.keyframe, s.codec, int(a), int(a) + WINDOW)
        win_ms = (time.process_time() - c0) * 1e3 / max(len(starts), 1)
        name = f"{s.codec} crf {s.crf} K={s.keyframe_interval} {s.pix_fmt} b{s.bframes} {s.tune or '-'}"
        print(f"  {name:42s}{kb(len(coded.data) / n)}  {q:5.2f} dB  encode {enc_ms:5.1f}  window {win_ms:5.1f}")
    settings = V(keyframe_interval=k)  # the default
    coded = video.encode_video(fr["rgb"], settings)
    rgb_psnr = psnr(video.decode_all(coded), fr["rgb"])
    print(
        f"  -> default: {settings.codec} crf {settings.crf}, K={k}, {settings.pix_fmt}, tune {settings.tune} "
        f"({kb(len(coded.data) / n)}, {rgb_psnr:.2f} dB)"
    )

    # --- errors of the bounded codecs ---
    d = fr["depth"]
    back = depth_codec.decode_depth(depth_codec.encode_depth(d))
    on_mask = fr["mask"]
    print(
        f"\ndepth error: on the mask max {np.abs(back - d)[on_mask].max() * 1e3:.3f} mm; "
        f"<= 60 m max {np.abs(back - d)[d <= 60].max() * 1e3:.3f} mm; "
        f"beyond 60 m max {np.abs(back - d)[d > 60].max(initial=0) * 1e2:.2f} cm "
        f"(relative {np.abs(back / np.where(d > 0, d, 1) - 1)[d > 60].max(initial=0):.2e})"
    )
    nrm = fr["normals"]
    hit = np.linalg.norm(nrm, axis=-1) > 0
    a = nrm[hit].astype(np.float64)
    for bits in (8, 16):
        nb = normals_codec.decode_normals(normals_codec.encode_normals(nrm, bits))[hit].astype(np.float64)
        ang = np.degrees(np.arctan2(np.linalg.norm(np.cross(a, nb), axis=-1), np.sum(a * nb, axis=-1)))
        print(f"normals {bits}-bit octahedral: max {ang.max():.4f} deg, mean {ang.mean():.4f} deg")
    h = nrm.astype(np.float16).astype(np.float64)[hit]
    ang = np.degrees(np.arctan2(np.linalg.norm(np.cross(a, h), axis=-1), np.sum(a * h, axis=-1)))
    print(f"normals float16 (old): max {ang.max():.4f} deg")

    # --- sizes per modality ---
    with tempfile.TemporaryDirectory() as tmp:
        old_path = Path(tmp) / "old.h5"
        write_old(old_path, fr)
        old = stored_bytes(old_path)
        new = {}
        for comp in storage.COMPRESSORS:
            new_path = Path(tmp) / f"new-{comp}.h5"
            write_new(new_path, fr, coded, args.normal_bits, comp)
            sizes = stored_bytes(new_path)
            sizes["rgb"] = sum(sizes.pop(f"rgb/{x}") for x in ("data", *storage.VIDEO_INDEX))
            new[comp] = sizes
        print("\nbytes per frame-view      old          new, gzip    new, zstd")
        for name in old:
            print(f"  {name:22s}  {kb(old[name] / n)}   {kb(new['gzip'][name] / n)}   {kb(new['zstd'][name] / n)}")
        surreal = ("rgb", "depth", "parts", "keypoints_2d", "keypoints_visible", "joints_cam")
        so = sum(old[x] for x in surreal) / n
        sn = {c: sum(new[c][x] for x in surreal) / n for c in new}
        print(
            f"  RGB+depth+seg+joints    {kb(so)}   {kb(sn['gzip'])}   {kb(sn['zstd'])}   (SURREAL {kb(SURREAL_BYTES)})"
        )
        total = {c: sum(v.values()) / n for c, v in new.items()}
        print(f"  all modalities          {kb(sum(old.values()) / n)}   {kb(total['gzip'])}   {kb(total['zstd'])}")
        if n >= WINDOW:
            print(f"\nrandom {WINDOW}-frame window, warm handle (target RGB + depth <= 10 ms):")
            for comp in storage.COMPRESSORS:
                for what in (("rgb",), ("depth",), ("rgb", "depth")):
                    mean, p95, cpu = time_windows(Path(tmp) / f"new-{comp}.h5", n, args.reads, what)
                    print(
                        f"  {'+'.join(what):10s} {comp}: CPU {cpu:5.2f} ms; wall mean {mean:5.2f} ms, p95 {p95:5.2f} ms"
                    )


if __name__ == "__main__":
    main()
