"""The world around the person: the user's HDRIs, the HDRI's own ground, a sun where the sky is brightest."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest

from synthact.scene.appearance import AppearanceRanges, lit_by_sky, sample_appearance
from synthact.scene.environment import (
    HdriSet,
    KeyLight,
    key_light,
    list_hdris,
    read_radiance,
    sun_azimuth_for,
    turned,
    write_rgbe,
)
from tests.fixtures.render_scene import HDRIS, make_camera, toy_body


def _sky(height: int, width: int, base: tuple[float, float, float] = (0.2, 0.2, 0.2)) -> np.ndarray:
    return np.tile(np.asarray(base, np.float32), (height, width, 1))


def _spot(image: np.ndarray, azimuth_deg: float, elevation_deg: float, value: float) -> np.ndarray:
    """``image`` with a bright disc (about 6 degrees) around (azimuth, elevation), Blender's convention."""
    h, w, _ = image.shape
    u = (1.0 - math.radians(azimuth_deg) / math.pi) / 2.0 % 1.0
    v = 0.5 - math.radians(elevation_deg) / math.pi
    rows, cols = np.mgrid[0:h, 0:w]
    du = np.minimum(np.abs((cols + 0.5) / w - u), 1 - np.abs((cols + 0.5) / w - u)) * 360
    dv = ((rows + 0.5) / h - v) * 180
    out = image.copy()
    out[np.hypot(du, dv) < 3.0] = value
    return out


# --- without Blender -------------------------------------------------------------------------


def test_hdri_folders_are_listed_with_clear_errors(tmp_path: Path) -> None:
    for name in ("b.hdr", "a.exr", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    assert list_hdris(tmp_path) == ["a.exr", "b.hdr"]
    with pytest.raises(FileNotFoundError, match=r"randomize\.hdri_dir: .* is not a folder"):
        list_hdris(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match=r"holds no \.exr/\.hdr"):
        list_hdris(tmp_path / "empty")
    hdris = HdriSet.from_config({"hdri_dir": str(tmp_path)}, Path("/bundled"), ["city"])
    assert hdris.names == ["a.exr", "b.hdr"] and hdris.path("b.hdr") == tmp_path / "b.hdr"
    bundled = HdriSet.from_config({"hdri_dir": ""}, Path("/bundled"), ["forest", "city"])
    assert bundled.names == ["city", "forest"] and bundled.path("city") == Path("/bundled/city.exr")


def test_radiance_files_round_trip_flat_and_run_length_encoded(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    image = np.exp(rng.normal(0, 2, (5, 9, 3))).astype(np.float32)
    write_rgbe(tmp_path / "flat.hdr", image)
    error = np.abs(read_radiance(tmp_path / "flat.hdr") - image)
    assert (error <= image.max(axis=-1, keepdims=True) / 128).all()  # RGBE: 8 bits below the brightest channel
    # One scanline of width 8, each channel a run: R=G=B mantissa 128, exponent 129 -> 1.0.
    header = b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 1 +X 8\n"
    runs = bytes([2, 2, 0, 8]) + bytes([128 + 8, 128]) * 3 + bytes([128 + 8, 129])
    (tmp_path / "rle.hdr").write_bytes(header + runs)
    np.testing.assert_array_equal(read_radiance(tmp_path / "rle.hdr"), np.ones((1, 8, 3), np.float32))
    (tmp_path / "bad.hdr").write_bytes(b"not an image")
    with pytest.raises(ValueError, match=r"bad\.hdr is not a readable \.hdr environment map"):
        read_radiance(tmp_path / "bad.hdr")


@pytest.mark.parametrize("azimuth, elevation", [(0.0, 45.0), (120.0, 20.0), (250.0, 70.0)])
def test_the_key_light_is_the_brightest_direction_of_the_upper_half(azimuth: float, elevation: float) -> None:
    image = _spot(_sky(256, 512), azimuth, elevation, 50.0)
    image[200:, 100:140] = 500.0  # brighter still, but below the horizon: not a light on the person
    light = key_light(image)
    gap = (light.azimuth_deg - azimuth + 180.0) % 360.0 - 180.0
    assert abs(gap) <= 360 / 64 and abs(light.elevation_deg - elevation) <= 180 / 32
    assert light.share > 0.02  # an even sky: about 0.001 a cell
    assert key_light(_sky(16, 32)).share < 0.01  # an even sky has no sun: each cell a small share
    half = key_light(image[::2, ::2])  # the resolution does not matter
    assert abs((half.azimuth_deg - azimuth + 180.0) % 360.0 - 180.0) <= 360 / 64


def test_every_take_is_lit_from_its_turned_sky() -> None:
    light = KeyLight(azimuth_deg=100.0, elevation_deg=35.0, share=0.2)
    ranges = AppearanceRanges()
    for seed in range(20):
        plain = sample_appearance(seed, HDRIS)
        lit = sample_appearance(seed, HDRIS, key_light=lambda name: light, hdri_ground=True)
        assert lit == dataclasses.replace(lit_by_sky(plain, light, ranges), ground=None)
        assert lit.sun_strength >= ranges.sun_strength[0]
        azimuth, _ = turned(light, plain.hdri_rotation_deg)
        assert lit.sun_azimuth_deg == sun_azimuth_for(azimuth) and lit.sun_elevation_deg == 35.0
        indoors = sample_appearance(seed, HDRIS, room=True, key_light=lambda name: light, hdri_ground=True)
        assert indoors == sample_appearance(seed, HDRIS, room=True)  # the room keeps its floor and lights


def test_the_bundled_hdris_have_key_lights() -> None:
    from synthact.render.blender import available_hdris, hdri_dir

    hdris = HdriSet(hdri_dir(), available_hdris(), bundled=True)
    lights = {name: hdris.key_light(name) for name in hdris.names}
    assert all(0 < light.elevation_deg < 90 and 0 < light.share < 1 for light in lights.values())
    assert lights["sunset"].elevation_deg < 30  # its sun is low


# --- rendered ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def user_hdris(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("hdris")
    write_rgbe(folder / "orange.hdr", _sky(32, 64, (0.6, 0.25, 0.05)))
    # A dim sky with a sun at azimuth 60, elevation 40 (before any turn).
    write_rgbe(folder / "sun.hdr", _spot(_sky(128, 256, (0.05, 0.05, 0.05)), 60.0, 40.0, 400.0))
    return folder


@pytest.mark.slow
def test_a_user_hdri_of_one_colour_shows_in_the_background(user_hdris: Path) -> None:
    from synthact.render.blender import BlenderScene
    from synthact.render.exr import linear_to_srgb8
    from synthact.render.renderer import RenderSettings

    verts, faces, parts = toy_body()
    cam = make_camera((0.6, -3.5, 1.1), (0, 0, 1.2), 60.0, 64, 48)  # the horizon crosses the image
    hdris = HdriSet.from_config({"hdri_dir": str(user_hdris)}, Path("/unused"), [])
    look = sample_appearance(4, hdris.names)
    look = dataclasses.replace(look, hdri="orange.hdr", hdri_strength=1.0, sun_strength=0.0)
    with BlenderScene(RenderSettings(width=64, height=48, samples=4), faces, parts, hdri_folder=user_hdris) as scene:
        out = scene.render_clip(verts[None], cam, look)
    sky = out.depth[0] == 0
    assert sky.sum() > 200
    expected = linear_to_srgb8(np.array([0.6, 0.25, 0.05], np.float32))
    np.testing.assert_allclose(np.median(out.rgb[0][sky], axis=0), expected, atol=3)


@pytest.mark.slow
def test_the_hdri_ground_keeps_the_labels_and_takes_the_shadow_from_the_sky(user_hdris: Path) -> None:
    from synthact.render.blender import BlenderScene
    from synthact.render.renderer import RenderSettings

    verts, faces, parts = toy_body()
    size = 96
    cam = make_camera((0.0, -2.2, 3.6), (0.0, 0.0, 0.3), 70.0, size, size)  # from above: the ground around the feet
    hdris = HdriSet.from_config({"hdri_dir": str(user_hdris)}, Path("/unused"), [])
    studio = dataclasses.replace(sample_appearance(2, hdris.names), hdri="sun.hdr", sun_strength=0.0)
    environment = sample_appearance(2, ["sun.hdr"], key_light=hdris.key_light, hdri_ground=True)
    environment = dataclasses.replace(environment, hdri_rotation_deg=30.0)
    environment = lit_by_sky(environment, hdris.key_light("sun.hdr"), AppearanceRanges())
    assert environment.ground is None and environment.sun_strength > 0
    settings = RenderSettings(width=size, height=size, samples=8, denoise=True)
    with BlenderScene(settings, faces, parts, hdri_folder=user_hdris) as scene:
        before = scene.render_clip(verts[None], cam, studio, seed=3)
        after = scene.render_clip(verts[None], cam, environment, seed=3)
    for name in ("mask", "parts", "depth"):  # point samples at pixel centres: exact
        np.testing.assert_array_equal(getattr(after, name), getattr(before, name), err_msg=name)
    # Normals are a mean over the pixel's samples, whose paths the lighting changes on silhouettes.
    np.testing.assert_allclose(after.normals, before.normals, atol=0.01)
    # The shadow lies on the ground opposite the sky's sun: turned by 30 degrees, it shines from 30.
    ground = (after.mask[0] == 0) & (after.depth[0] > 0)
    rows, cols = np.nonzero(ground)
    rays = np.stack(
        [(cols + 0.5 - cam.K[0, 2]) / cam.K[0, 0], (rows + 0.5 - cam.K[1, 2]) / cam.K[1, 1], np.ones_like(rows)]
    )
    world = (cam.R.T @ (rays * after.depth[0][rows, cols]) - (cam.R.T @ cam.t)[:, None]).T
    brightness = after.rgb[0][rows, cols].astype(float).mean(axis=1)
    shade = brightness < 0.6 * np.median(brightness)
    assert shade.sum() > 20
    away = world[shade, :2].mean(axis=0)
    towards = math.degrees(math.atan2(away[1], away[0])) % 360.0
    assert abs((towards - (30.0 + 180.0) + 180.0) % 360.0 - 180.0) < 25.0, towards
