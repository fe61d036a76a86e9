"""The appearance a take records is the one rendered: a texture's own cut, no procedural garments."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from synthact.body.skeleton import PART_NAMES, vertex_parts
from synthact.scene import textures
from synthact.scene.appearance import Appearance, sample_appearance
from tests.fixtures.render_scene import HDRIS, make_camera


@pytest.fixture(scope="module")
def demo_body(demo_neutral_arrays):
    template = np.asarray(demo_neutral_arrays["v_template"], np.float64)
    verts = np.stack([template[:, 0], -template[:, 2], template[:, 1]], axis=-1)  # Y-up template, stood up
    verts[:, 2] -= verts[:, 2].min()
    return verts, np.asarray(demo_neutral_arrays["f"]), vertex_parts(demo_neutral_arrays["weights"])


def test_a_textured_take_records_the_texture_cut_and_no_procedural_garments(tmp_path: Path) -> None:
    textures.generate_textures(tmp_path, count=6, seed=2, size=64)
    cuts = textures.read_cuts(tmp_path, textures.list_textures(tmp_path))
    assert all(cut is not None for cut in cuts.values())
    for seed in range(30):
        look = sample_appearance(seed, HDRIS, textures=cuts)
        assert look.texture is not None
        cut = cuts[look.texture]
        assert cut is not None and (look.long_sleeves, look.long_legs) == (cut.long_sleeves, cut.long_legs)
        assert look.top is look.bottom is look.shoes is look.skin is None
        assert Appearance.from_dict(json.loads(json.dumps(look.to_dict()))) == look
        plain = sample_appearance(seed, HDRIS)
        assert (look.hdri, look.ground, look.sun_strength) == (plain.hdri, plain.ground, plain.sun_strength)


def test_textures_without_a_description_record_an_unknown_cut(tmp_path: Path) -> None:
    textures.generate_textures(tmp_path, count=2, size=64)
    (tmp_path / textures.CUTS_FILE).unlink()
    look = sample_appearance(0, HDRIS, textures=textures.read_cuts(tmp_path, textures.list_textures(tmp_path)))
    assert look.texture is not None and look.long_sleeves is None and look.long_legs is None
    (tmp_path / textures.CUTS_FILE).write_text('["not", "a", "table"]')
    with pytest.raises(ValueError, match=r"cuts\.json must map texture names"):
        textures.read_cuts(tmp_path, ["synthact-000.jpg"])


def _median(rgb: np.ndarray, parts: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    where = np.isin(parts, [PART_NAMES.index(n) for n in names])
    assert where.sum() >= 8, f"{names}: {where.sum()} pixels"
    return np.median(rgb[where].astype(float), axis=0)


def _covered(rgb: np.ndarray, parts: np.ndarray, limb: tuple[str, ...], cloth: tuple[str, ...]) -> bool:
    """Whether the limb's colour is the garment's rather than the skin's (the head's)."""
    colour = _median(rgb, parts, limb)
    to_cloth = np.linalg.norm(colour - _median(rgb, parts, cloth))
    to_skin = np.linalg.norm(colour - _median(rgb, parts, ("head",)))
    return bool(to_cloth < to_skin)


def _contrasting(folder: Path, names: list[str]) -> list[str]:
    """Textures whose top and bottom stand well apart from their skin, so a cut is visible."""
    part, _, _ = textures._cell_coords(64)
    kept = []
    for name in names:
        image = textures.read_texture(folder / name).astype(float)
        skin = np.median(image[part == PART_NAMES.index("head")], axis=0)
        garments = [np.median(image[part == PART_NAMES.index(p)], axis=0) for p in ("torso", "hips")]
        if min(np.linalg.norm(g - skin) for g in garments) > 80:
            kept.append(name)
    return kept


@pytest.mark.slow
def test_the_recorded_cut_is_the_rendered_cut(demo_body, tmp_path: Path) -> None:
    from synthact.render.blender import BlenderScene
    from synthact.render.renderer import RenderSettings

    verts, faces, parts = demo_body
    uv_path = tmp_path / "demo_uv.obj"
    textures.write_uv_obj(uv_path, verts, faces, textures.cylinder_uv_layout(verts, faces, parts))
    folder = tmp_path / "textures"
    textures.generate_textures(folder, count=24, seed=1, size=64)
    cuts = textures.read_cuts(folder, _contrasting(folder, textures.list_textures(folder)))
    # Takes whose texture shows each of the cuts, drawn as the render task draws them.
    looks: dict[tuple[bool | None, bool | None], Appearance] = {}
    for seed in range(200):
        look = sample_appearance(seed, ["studio"], textures=cuts)
        looks.setdefault((look.long_sleeves, look.long_legs), look)
    assert {(True, True), (False, False)} <= set(looks), sorted(looks)
    centre = verts.mean(axis=0)
    cam = make_camera(centre + (0.0, -2.4, 0.1), centre, 120.0, 112, 128)
    settings = RenderSettings(width=112, height=128, samples=4, denoise=True, max_bounces=2)
    with BlenderScene(
        settings, faces, parts, face_uv=textures.read_uv_file(uv_path, faces), textures_dir=folder
    ) as scene:
        for (sleeves, legs), look in sorted(looks.items(), key=str):
            lit = Appearance(**{**look.__dict__, "sun_strength": 0.0, "hdri_strength": 1.0})
            out = scene.render_clip(verts[None].astype(np.float32), cam, lit)
            rgb, part = out.rgb[0], out.parts[0]
            arms = ("left_forearm", "right_forearm")
            assert _covered(rgb, part, arms, ("left_upper_arm", "right_upper_arm", "torso")) == sleeves, look.texture
            shins = ("left_shin", "right_shin")
            assert _covered(rgb, part, shins, ("left_thigh", "right_thigh", "hips")) == legs, look.texture
