"""Clothing textures: UV files, the demo atlas, procedural textures, and Blender rendering them."""

from __future__ import annotations

import colorsys
from pathlib import Path

import numpy as np
import pytest

from synthact.body.skeleton import PART_NAMES, vertex_parts
from synthact.scene import textures
from synthact.scene.appearance import Appearance, dress, sample_appearance
from tests.fixtures.render_scene import HDRIS, make_camera


@pytest.fixture(scope="module")
def demo_body(demo_neutral_arrays):
    model = demo_neutral_arrays
    template = np.asarray(model["v_template"], np.float64)
    verts = np.stack([template[:, 0], -template[:, 2], template[:, 1]], axis=-1)  # stand it up, Z-up
    verts[:, 2] -= verts[:, 2].min()
    return verts, np.asarray(model["f"]), vertex_parts(model["weights"])


def test_uv_layout_puts_every_part_in_its_cell(demo_body, tmp_path: Path) -> None:
    from synthact.body.skeleton import face_parts

    verts, faces, parts = demo_body
    uv = textures.cylinder_uv_layout(verts, faces, parts)
    assert uv.shape == (len(faces), 3, 2) and uv.dtype == np.float32
    fp = face_parts(faces, parts)
    for p in np.unique(fp):
        u0, v0 = textures.cell_origin(int(p))
        cell = uv[fp == p]
        assert (cell[..., 0] >= u0).all() and (cell[..., 0] <= u0 + 1 / textures.GRID).all()
        assert (cell[..., 1] >= v0).all() and (cell[..., 1] <= v0 + 1 / textures.GRID).all()
    # No face spans its cell: the seam is handled, so no texture is smeared across a face.
    assert (np.ptp(uv[..., 0], axis=1) < 0.5 / textures.GRID).all()
    path = tmp_path / "demo_uv.obj"
    textures.write_uv_obj(path, verts, faces, uv)
    np.testing.assert_allclose(textures.read_uv_file(path, faces), uv, atol=1e-6)
    np.savez(tmp_path / "uv.npz", face_uv=uv, faces=faces)
    np.testing.assert_array_equal(textures.read_uv_file(tmp_path / "uv.npz", faces), uv)
    with pytest.raises(ValueError, match="not the body model's"):
        textures.read_uv_file(path, faces[::-1])


def test_textures_are_listed_drawn_and_named_in_the_appearance(tmp_path: Path) -> None:
    paths = textures.generate_textures(tmp_path, count=5, seed=3, size=128)
    names = textures.list_textures(tmp_path)
    assert names == sorted(p.name for p in paths)
    image = textures.read_texture(paths[0])
    assert image.shape == (128, 128, 3) and image.std() > 10
    assert not np.array_equal(image, textures.read_texture(paths[1]))
    base = sample_appearance(11, HDRIS)
    looks = [sample_appearance(s, HDRIS, textures=names) for s in range(40)]
    assert {a.texture for a in looks} == set(names)
    dressed = sample_appearance(11, HDRIS, textures=list(reversed(names)))
    assert dressed.texture in names and dressed.to_dict()["texture"] == dressed.texture
    assert Appearance.from_dict(dressed.to_dict()) == dressed
    assert dressed == dress(base, names, dressed.texture)  # other draws unchanged
    assert "texture" not in base.to_dict()
    with pytest.raises(FileNotFoundError, match="textures_dir"):
        textures.list_textures(tmp_path / "missing")


def _hue(rgb: np.ndarray) -> float:
    return colorsys.rgb_to_hsv(*(rgb / 255.0))[0]


@pytest.mark.slow
def test_the_rendered_body_follows_the_texture_per_part(demo_body, tmp_path: Path) -> None:
    from synthact.render.blender import BlenderScene
    from synthact.render.renderer import RenderSettings

    verts, faces, parts = demo_body
    uv_path = tmp_path / "demo_uv.obj"
    textures.write_uv_obj(uv_path, verts, faces, textures.cylinder_uv_layout(verts, faces, parts))
    face_uv = textures.read_uv_file(uv_path, faces)
    # Every part its own saturated hue, 16 hues round the colour wheel.
    hues = (np.arange(len(PART_NAMES)) * 7 % 16) / 16.0
    palette = np.array([colorsys.hsv_to_rgb(h, 0.9, 0.9) for h in hues])
    textures.write_texture(tmp_path / "palette.jpg", textures.palette_texture(palette))
    look = sample_appearance(0, ["studio"], textures=textures.list_textures(tmp_path))
    look = Appearance(**{**look.__dict__, "sun_strength": 0.0})
    assert look.texture == "palette.jpg"
    centre = verts.mean(axis=0)
    cam = make_camera(centre + (0.0, -2.6, 0.1), centre, 110.0, 96, 128)
    settings = RenderSettings(width=96, height=128, samples=8, denoise=True, max_bounces=2)
    with BlenderScene(settings, faces, parts, face_uv=face_uv, textures_dir=tmp_path) as scene:
        out = scene.render_clip(verts[None].astype(np.float32), cam, look)
    seen = 0
    for p in range(1, len(PART_NAMES)):
        where = out.parts[0] == p
        if where.sum() < 12:
            continue
        seen += 1
        colour = np.median(out.rgb[0][where].astype(float), axis=0)
        gap = [min(abs(_hue(colour) - h), 1 - abs(_hue(colour) - h)) for h in hues[1:]]
        assert int(np.argmin(gap)) + 1 == p, f"{PART_NAMES[p]}: rendered hue {_hue(colour):.3f}, texture {hues[p]:.3f}"
    assert seen >= 10


def test_texture_assets_from_the_config(demo_body, tmp_path: Path) -> None:
    verts, faces, parts = demo_body
    assert textures.texture_assets({}, faces) == (None, None, {})
    textures.generate_textures(tmp_path / "tex", count=2, size=64)
    uv_path = tmp_path / "uv.obj"
    textures.write_uv_obj(uv_path, verts, faces, textures.cylinder_uv_layout(verts, faces, parts))
    face_uv, folder, names = textures.texture_assets(
        {"textures_dir": str(tmp_path / "tex"), "uv_file": str(uv_path)}, faces
    )
    assert face_uv.shape == (len(faces), 3, 2) and folder == tmp_path / "tex" and len(names) == 2
    with pytest.raises(ValueError, match=r"randomize\.uv_file is needed"):
        textures.texture_assets({"textures_dir": str(tmp_path / "tex")}, faces)
    with pytest.raises(FileNotFoundError, match="uv_file"):
        textures.texture_assets({"textures_dir": str(tmp_path / "tex"), "uv_file": str(tmp_path / "no.obj")}, faces)


def test_demo_appearance_assets_are_written(tmp_path: Path) -> None:
    from synthact.demo.body_model import write_demo_appearance

    uv_path, folder = write_demo_appearance(tmp_path, count=3, size=64)
    assert uv_path.is_file() and len(textures.list_textures(folder)) == 3


def test_body_mass_offset_moves_beta_1_within_bounds(demo_neutral_arrays) -> None:
    from synthact.scene.appearance import BODY_MASS_BETA, body_mass_offset

    draws = np.array([body_mass_offset(np.random.default_rng(s), (-2.0, 2.0), 16) for s in range(100)])
    assert (np.delete(draws, BODY_MASS_BETA, axis=1) == 0).all()
    assert -2 <= draws[:, BODY_MASS_BETA].min() < -1 and 1 < draws[:, BODY_MASS_BETA].max() <= 2
    assert (body_mass_offset(np.random.default_rng(0), (0, 0), 16) == 0).all()
    with pytest.raises(ValueError, match="body_mass_range"):
        body_mass_offset(np.random.default_rng(0), (-4, 1), 16)
    # On the demo body, +2 on beta 1 widens the trunk and keeps the stature.
    model = demo_neutral_arrays
    v0 = np.asarray(model["v_template"])
    heavy = v0 + np.asarray(model["shapedirs"]) @ body_mass_offset(np.random.default_rng(0), (2, 2), 16)
    assert abs(np.ptp(heavy[:, 1]) - np.ptp(v0[:, 1])) < 0.01  # Y-up template: height
    waist = np.abs(v0[:, 1] - 1.0) < 0.03
    assert np.ptp(heavy[waist, 0]) > np.ptp(v0[waist, 0]) + 0.02
