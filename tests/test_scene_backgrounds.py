"""Pictures behind the person: drawn per view, shown where the mask is 0, with the person's shadow, and no depth."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from synthact.scene.appearance import Appearance, sample_appearance
from synthact.scene.backgrounds import backdrops, draw_backgrounds, list_backgrounds
from tests.fixtures.render_scene import HDRIS, make_camera, toy_body, walk

TOP, BOTTOM = (70, 120, 190), (150, 130, 90)  # sRGB of the picture's upper and lower halves


def _picture(path: Path, width: int, height: int) -> None:
    from synthact.scene.textures import write_texture

    image = np.zeros((height, width, 3), np.uint8)
    image[: height // 2], image[height // 2 :] = TOP, BOTTOM
    write_texture(path, image, quality=100)


def test_each_view_draws_from_its_own_folder_or_the_shared_one(tmp_path: Path) -> None:
    (tmp_path / "c1").mkdir()
    for name in ("c1/empty_a.jpg", "c1/empty_b.png", "shared.jpg", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    candidates = list_backgrounds(tmp_path, ["c1", "c2"])
    assert candidates == {"c1": ["c1/empty_a.jpg", "c1/empty_b.png"], "c2": ["shared.jpg"]}
    draws = [draw_backgrounds(seed, candidates) for seed in range(30)]
    assert {d["c1"] for d in draws} == {"c1/empty_a.jpg", "c1/empty_b.png"} and {d["c2"] for d in draws} == {
        "shared.jpg"
    }
    assert draw_backgrounds(7, {"c1": candidates["c1"]})["c1"] == draws[7]["c1"]  # per view, whatever the others
    look = dataclasses.replace(sample_appearance(1, HDRIS), backgrounds=draws[3])
    assert Appearance.from_dict(look.to_dict()) == look and "backgrounds" not in sample_appearance(1, HDRIS).to_dict()
    with pytest.raises(FileNotFoundError, match=r"missing is not a folder"):
        list_backgrounds(tmp_path / "missing", ["c1"])
    (tmp_path / "nothing").mkdir()
    with pytest.raises(FileNotFoundError, match=r"no \.jpg/\.jpeg/\.png pictures for view 'c3'"):
        list_backgrounds(tmp_path / "nothing", ["c3"])
    with pytest.raises(ValueError, match=r"rig\.camera_motion: static"):
        backdrops(str(tmp_path), {"mode": "actor", "camera_motion": "follow"}, ["c1"])
    assert backdrops(str(tmp_path), {"mode": "room", "camera_motion": "auto"}, ["c1"])["c1"] == candidates["c1"]
    assert backdrops("", {"camera_motion": "follow"}, ["c1"]) == {}
    with pytest.raises(ValueError, match=r"render\.scene: outdoor"):
        backdrops(str(tmp_path), {"mode": "room", "camera_motion": "static"}, ["c1"], scene="room")


@pytest.mark.slow
def test_a_picture_shows_behind_the_person_with_its_shadow_and_no_depth(tmp_path: Path) -> None:
    from synthact.render.blender import BlenderScene
    from synthact.render.renderer import RenderSettings

    size = 80
    _picture(tmp_path / "room.jpg", size, size)
    verts, faces, parts = toy_body()
    cam = make_camera((0.0, -3.0, 2.6), (0.0, 0.0, 0.5), 55.0, size, size)
    # A strong sun from behind the camera's right, so the shadow falls on the ground beside the feet.
    look = dataclasses.replace(
        sample_appearance(6, ["studio"]), sun_strength=6.0, sun_elevation_deg=50.0, sun_azimuth_deg=110.0
    )
    look = dataclasses.replace(look, hdri_strength=0.3)
    pictured = dataclasses.replace(look, backgrounds={"c1": "room.jpg"})
    settings = RenderSettings(width=size, height=size, samples=8, denoise=True)
    clip = walk(verts, 1)
    with BlenderScene(settings, faces, parts, backgrounds_dir=tmp_path) as scene:
        plain = scene.render_clip(clip, cam, look, seed=2, view="c1")
        out = scene.render_clip(clip, cam, pictured, seed=2, view="c1")
        other_view = scene.render_clip(clip, cam, pictured, seed=2, view="c2")  # no picture drawn for c2
    np.testing.assert_array_equal(out.mask, plain.mask)
    np.testing.assert_array_equal(out.parts, plain.parts)
    person = out.mask[0]
    np.testing.assert_array_equal(out.depth[0] > 0, person)  # the picture is no surface
    assert (out.normals[0][~person] == 0).all()
    np.testing.assert_array_equal(other_view.depth, plain.depth)
    rgb = out.rgb[0].astype(int)
    # Away from the person and its shadow, the picture as it is, right way up.
    unshaded = ~person & (np.abs(rgb - np.where(np.arange(size)[:, None, None] < size // 2, TOP, BOTTOM)).max(-1) <= 4)
    assert unshaded[: size // 2 - 2].mean() > 0.9 and unshaded[size // 2 + 2 :].mean() > 0.5
    # Under the feet the shadow darkens it.
    rows, cols = np.nonzero(person)
    feet = np.zeros_like(person)
    feet[rows.max() - 8 : rows.max() + 4, max(cols.min() - 12, 0) : cols.max() + 12] = True
    near = feet & ~person
    darker = rgb[near].sum(-1) < 0.8 * sum(BOTTOM)
    assert near.sum() > 30 and darker.sum() >= 10, (near.sum(), darker.sum())
