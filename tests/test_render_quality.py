"""Render quality settings: the quality shortcut, the benchmark's scores, and denoising
that never touches the label passes (real Blender, tiny frames)."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.render_quality import parse_candidate, psnr, ssim
from synthact.render.blender import BlenderScene
from synthact.render.renderer import QUALITY, RenderSettings, settings_from_config
from synthact.scene.appearance import sample_appearance
from tests.fixtures.render_scene import HDRIS, make_camera, toy_body, walk


def test_quality_shortcut_fills_only_what_is_not_set() -> None:
    s = settings_from_config({"quality": "draft", "width": 64, "height": 48})
    assert (s.samples, s.denoise, s.max_bounces) == (QUALITY["draft"]["samples"], True, QUALITY["draft"]["max_bounces"])
    s = settings_from_config({"quality": "high", "samples": 3, "denoise": False})
    assert (s.samples, s.denoise, s.adaptive_sampling) == (3, False, QUALITY["high"]["adaptive_sampling"])
    assert settings_from_config({}).samples == QUALITY["standard"]["samples"]
    with pytest.raises(ValueError, match="quality"):
        settings_from_config({"quality": "ultra"})


def test_benchmark_scores_and_tokens() -> None:
    c = parse_candidate("16dnadb4f1.0")
    assert (c.samples, c.denoise, c.adaptive, c.bounces, c.filter_width) == (16, True, True, 4, 1.0)
    assert parse_candidate("4").denoise is False
    with pytest.raises(ValueError, match="candidate"):
        parse_candidate("dn16")
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (24, 32, 3)).astype(np.uint8)
    assert psnr(a, a) == float("inf") and ssim(a, a) == pytest.approx(1.0)
    noisy = np.clip(a + rng.normal(0, 8, a.shape), 0, 255).astype(np.uint8)
    noisier = np.clip(a + rng.normal(0, 32, a.shape), 0, 255).astype(np.uint8)
    assert psnr(a, noisy) > psnr(a, noisier) and ssim(a, noisy) > ssim(a, noisier)
    assert 28 < psnr(a, noisy) < 32  # 20 log10(255 / 8) = 30.1 dB


@pytest.mark.slow
def test_denoising_changes_the_image_but_never_the_labels() -> None:
    verts, faces, parts = toy_body()
    cam = make_camera((1.0, -3.0, 1.3), (0, 0, 0.9), 70.0, 64, 48)
    look = sample_appearance(2, HDRIS)
    out = {}
    for denoise in (False, True):
        settings = RenderSettings(width=64, height=48, samples=2, denoise=denoise)
        with BlenderScene(settings, faces, parts) as scene:
            out[denoise] = scene.render_clip(walk(verts, 2), cam, look, seed=7)
    assert not np.array_equal(out[True].rgb, out[False].rgb)
    for name in ("depth", "mask", "parts", "normals"):
        np.testing.assert_array_equal(getattr(out[True], name), getattr(out[False], name), err_msg=name)


@pytest.mark.slow
def test_ground_patterns_finer_than_a_pixel_fade_to_their_mean() -> None:
    """A 5 mm checker seen from metres away is grey, not speckle; a 1 m checker keeps its squares."""
    import bpy

    from synthact.scene.appearance import Appearance, Surface

    verts, faces, parts = toy_body()
    cam = make_camera((0.0, -6.0, 1.6), (0, 0, 0.6), 60.0, 64, 48)
    base = sample_appearance(5, ["studio"])
    spread = {}
    settings = RenderSettings(width=64, height=48, samples=16, denoise=False, max_bounces=2)
    with BlenderScene(settings, faces, parts) as scene:
        # 0.41 is the checker's mean colour: the fine checker should look like it.
        for scale, pattern in ((200.0, "checker"), (1.0, "checker"), (0.0, "plain")):
            light, dark = ((0.41,) * 3, (0.41,) * 3) if pattern == "plain" else ((0.8,) * 3, (0.02,) * 3)
            ground = Surface(light, dark, pattern, max(scale, 1.0), 0.9)
            look = Appearance(**{**base.__dict__, "ground": ground, "sun_strength": 0.0})
            out = scene.render_clip(verts[None] + (0.0, 30.0, 0.0), cam, look, seed=1)  # body out of view
            floor = out.depth[0] > 0
            spread[scale] = np.percentile(out.rgb[0][floor].mean(-1), 95) - np.percentile(out.rgb[0][floor].mean(-1), 5)
        angle = bpy.data.node_groups["surface_ground"].nodes["pixel_angle"].outputs[0].default_value
    assert angle == pytest.approx(1.0 / cam.K[0, 0], rel=1e-5)  # the driver follows the camera
    # Measured: plain 40.6, fine 40.7; without the filter the fine checker spread 82.
    assert spread[1.0] > 100 and spread[200.0] < 1.2 * spread[0.0], spread
