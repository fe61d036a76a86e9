"""Image quality per second of render time: Cycles settings against a high-sample reference.

Renders the same demo frames (demo body, a demo motion, one camera, one
appearance) with each candidate setting and scores the RGB against a
reference rendered with many samples and no denoiser: PSNR (dB) and SSIM
(7x7 uniform window on each sRGB channel, as scikit-image's default), with
the steady-state seconds per frame. Candidates vary samples, OpenImageDenoise
(albedo + normal guides), adaptive sampling, light bounces and filter width.

    .venv/bin/python benchmarks/render_quality.py                     # tiny: 64x48, 2 frames
    .venv/bin/python benchmarks/render_quality.py --size 320x240 --frames 4 --reference-samples 2048

Each candidate is a token ``S[dn][ad][bB][fF]``: samples, then ``dn``
(denoise), ``ad`` (adaptive), ``b4`` (max bounces 4), ``f1.0`` (filter
width), ``pfast`` / ``pnone`` (OIDN's guide prefilter; default accurate).
The reference keeps every other setting at its default (12 bounces, 1.5 px
filter), so bounce and filter candidates are scored on what they change.
``--json`` writes the rows too. Wall-clock on a shared machine: compare rows
of one run, not runs.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.render_speed import camera_for, posed_demo_clip

DEFAULT_CANDIDATES = ("1", "4", "16", "1dn", "2dn", "4dn", "8dn", "16dn", "4dnb4", "16dnb6", "16dnad", "4dnf1.0", "64")
_TOKEN = re.compile(r"^(\d+)(dn)?(ad)?(?:b(\d+))?(?:f([\d.]+))?(?:p(fast|none))?$")


@dataclass(frozen=True)
class Candidate:
    """One Cycles setting to score."""

    name: str
    samples: int
    denoise: bool = False
    adaptive: bool = False
    bounces: int = 12
    filter_width: float = 1.5
    prefilter: str = "ACCURATE"


def parse_candidate(token: str) -> Candidate:
    """``16dnadb4f1.0`` → Candidate(16 samples, denoise, adaptive, 4 bounces, 1.0 px filter)."""
    match = _TOKEN.match(token)
    if not match:
        raise ValueError(f"candidate {token!r}: expected SAMPLES[dn][ad][bBOUNCES][fWIDTH], e.g. 16dnb4")
    samples, dn, ad, bounces, width, prefilter = match.groups()
    return Candidate(
        token,
        int(samples),
        bool(dn),
        bool(ad),
        int(bounces or 12),
        float(width or 1.5),
        (prefilter or "accurate").upper(),
    )


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio of two uint8 images, dB."""
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))


def _box(x: np.ndarray, size: int) -> np.ndarray:
    """Mean over size x size windows (valid region only), per channel."""
    c = np.cumsum(np.cumsum(np.pad(x, ((1, 0), (1, 0), (0, 0))), 0), 1)
    s = c[size:, size:] - c[:-size, size:] - c[size:, :-size] + c[:-size, :-size]
    return s / size**2


def ssim(a: np.ndarray, b: np.ndarray, size: int = 7) -> float:
    """Mean SSIM of two uint8 RGB images (Wang et al. 2004, uniform window, per channel)."""
    x, y = a.astype(np.float64), b.astype(np.float64)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mx, my = _box(x, size), _box(y, size)
    n = size * size
    vx = (_box(x * x, size) - mx * mx) * n / (n - 1)
    vy = (_box(y * y, size) - my * my) * n / (n - 1)
    cov = (_box(x * y, size) - mx * my) * n / (n - 1)
    s = ((2 * mx * my + c1) * (2 * cov + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
    return float(s.mean())


def _cpu_seconds() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def render(candidate: Candidate, model, posed, camera, appearance, width: int, height: int, threads: int):
    """(rgb frames, wall seconds, CPU seconds per frame after the first) for one setting.

    CPU seconds (all of Blender's threads) stay meaningful on a shared machine.
    """
    from synthact.body.skeleton import vertex_parts
    from synthact.render import blender
    from synthact.render.renderer import RenderSettings

    settings = RenderSettings(
        width=width,
        height=height,
        samples=candidate.samples,
        denoise=candidate.denoise,
        adaptive_sampling=candidate.adaptive,
        max_bounces=candidate.bounces,
        filter_width=candidate.filter_width,
        threads=threads,
        denoise_prefilter=candidate.prefilter,
    )
    with blender.BlenderScene(settings, model.faces, vertex_parts(model.lbs_weights)) as scene:
        scene.render_clip(posed.vertices[:1], camera, appearance, seed=3)  # warm-up: kernels, HDRI maps
        started, cpu = time.perf_counter(), _cpu_seconds()
        out = scene.render_clip(posed.vertices, camera, appearance, seed=3)
        seconds = (time.perf_counter() - started) / len(posed.vertices)
        cpu_seconds = (_cpu_seconds() - cpu) / len(posed.vertices)
    return out.rgb, seconds, cpu_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="64x48", help="WIDTHxHEIGHT (default 64x48: a quick look)")
    parser.add_argument("--frames", type=int, default=2)
    parser.add_argument("--reference-samples", type=int, default=512)
    parser.add_argument("--candidates", nargs="+", default=list(DEFAULT_CANDIDATES))
    parser.add_argument("--appearance-seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=0, help="Cycles threads (0: all cores)")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    parser.add_argument("--reference-cache", type=Path, help="npz to reuse the reference from (written when missing)")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    candidates = [parse_candidate(t) for t in args.candidates]

    from synthact.render import blender
    from synthact.scene.appearance import sample_appearance

    with tempfile.TemporaryDirectory() as tmp:
        model, posed = posed_demo_clip(Path(tmp), args.frames)
    camera = camera_for(posed, width, height)
    appearance = sample_appearance(args.appearance_seed, blender.available_hdris())
    cache = args.reference_cache
    key = f"{width}x{height}x{args.frames}x{args.reference_samples}x{args.appearance_seed}"
    if cache is not None and cache.is_file() and str(np.load(cache)["key"]) == key:
        reference, ref_s, ref_cpu = np.load(cache)["rgb"], float("nan"), float("nan")
    else:
        reference, ref_s, ref_cpu = render(
            Candidate("reference", args.reference_samples),
            model,
            posed,
            camera,
            appearance,
            width,
            height,
            args.threads,
        )
        if cache is not None:
            np.savez(cache, rgb=reference, key=key)
    print(f"reference: {args.reference_samples} samples, {ref_s:.2f} s/frame ({ref_cpu:.2f} CPU s) at {width}x{height}")
    print("| setting | samples | denoise | adaptive | bounces | filter | s/frame | CPU s/frame | PSNR dB | SSIM |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    rows = []
    for c in candidates:
        rgb, seconds, cpu_seconds = render(c, model, posed, camera, appearance, width, height, args.threads)
        p = float(np.mean([psnr(a, b) for a, b in zip(rgb, reference, strict=True)]))
        s = float(np.mean([ssim(a, b) for a, b in zip(rgb, reference, strict=True)]))
        rows.append(
            {**c.__dict__, "seconds_per_frame": seconds, "cpu_seconds_per_frame": cpu_seconds, "psnr_db": p, "ssim": s}
        )
        print(
            f"| {c.name} | {c.samples} | {'on' if c.denoise else 'off'} | {'on' if c.adaptive else 'off'} | "
            f"{c.bounces} | {c.filter_width} | {seconds:.3f} | {cpu_seconds:.3f} | {p:.2f} | {s:.4f} |",
            flush=True,
        )
    if args.json:
        tmp_path = args.json.with_name(f".{args.json.name}.tmp")
        tmp_path.write_text(json.dumps({"size": [width, height], "frames": args.frames, "rows": rows}, indent=1))
        tmp_path.replace(args.json)


if __name__ == "__main__":
    main()
