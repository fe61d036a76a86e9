"""The Blender renderer: labels against an independent ray caster, determinism, reuse.

The core guarantee checked here: what Blender renders for a camera (K, R, t)
is what numpy computes by casting a ray through every pixel centre with the
same K, R, t. The test body is a toy "person" of one ellipsoid per body part,
so the check needs no body model. Rendering tests are small (tens of pixels,
2 samples) and marked slow; everything else runs without Blender.
"""

from __future__ import annotations

import dataclasses
import json
import os
import struct
from pathlib import Path

import numpy as np
import pytest

from synthact.body.skeleton import PART_NAMES, face_parts
from synthact.render.blender import (
    BlenderScene,
    available_hdris,
    blender_camera_params,
    hdri_dir,
    write_pc2,
)
from synthact.render.exr import decode_frame, linear_to_srgb8, read_passes
from synthact.render.renderer import RenderSettings, settings_from_config
from synthact.scene.appearance import (
    GARMENTS,
    PATTERNS,
    Appearance,
    garment_of_part,
    sample_appearance,
)
from synthact.scene.cameras import Camera
from tests.fixtures.render_scene import HDRIS, boundary, make_camera, ray_cast, toy_body, walk

# --- appearance (no Blender) -------------------------------------------------------------


def test_sample_appearance_is_a_function_of_the_seed() -> None:
    a = sample_appearance(123, HDRIS)
    assert a == sample_appearance(123, list(reversed(HDRIS)))  # order of names is irrelevant
    draws = {json.dumps(sample_appearance(s, HDRIS).to_dict(), sort_keys=True) for s in range(20)}
    assert len(draws) == 20


def test_appearance_round_trips_through_json() -> None:
    a = sample_appearance(7, HDRIS)
    assert Appearance.from_dict(json.loads(json.dumps(a.to_dict()))) == a


def test_appearance_values_are_in_range() -> None:
    for seed in range(200):
        a = sample_appearance(seed, HDRIS)
        assert a.hdri in HDRIS and 0 <= a.hdri_rotation_deg < 360 and a.hdri_strength > 0
        assert a.sun_strength >= 0 and 0 < a.sun_elevation_deg < 90
        for surface in (a.top, a.bottom, a.shoes, a.ground):
            assert surface.pattern in PATTERNS and surface.scale > 0
            assert 0 <= surface.roughness <= 1
            assert all(0 <= c <= 1 for c in surface.color + surface.color2)
        assert all(0 < c <= 1 for c in a.skin)


def test_garments_follow_sleeve_and_leg_length() -> None:
    a = sample_appearance(1, HDRIS)
    for sleeves in (False, True):
        for legs in (False, True):
            g = garment_of_part(dataclasses.replace(a, long_sleeves=sleeves, long_legs=legs))
            assert len(g) == len(PART_NAMES) and set(g) <= set(GARMENTS)
            part = {n: g[i] for i, n in enumerate(PART_NAMES)}
            assert part["head"] == part["left_hand"] == "skin"
            assert part["torso"] == part["right_upper_arm"] == "top"
            assert part["hips"] == part["left_thigh"] == "bottom"
            assert part["left_foot"] == part["right_foot"] == "shoes"
            assert part["left_forearm"] == ("top" if sleeves else "skin")
            assert part["right_shin"] == ("bottom" if legs else "skin")


# --- pure helpers (no Blender) ---------------------------------------------------------


def test_bundled_hdris_are_found_with_their_licence() -> None:
    assert tuple(available_hdris()) == HDRIS
    assert "CC0" in (hdri_dir() / "license.txt").read_text()


def _blender_projection(lens, shift_x, shift_y, matrix, width, height, points):
    """Pixel coordinates by Blender's own camera model (horizontal sensor fit)."""
    local = (np.linalg.inv(matrix) @ np.c_[points, np.ones(len(points))].T)[:3].T
    scale = lens / 36.0 * width  # pixels per unit of tan(angle)
    x = local[:, 0] / -local[:, 2] * scale - shift_x * width
    y = local[:, 1] / -local[:, 2] * scale - shift_y * width
    return np.c_[width / 2 + x, height / 2 - y]


def test_blender_camera_params_reproduce_the_opencv_projection() -> None:
    rng = np.random.default_rng(0)
    for width, height in ((96, 72), (60, 80)):
        cam = make_camera(
            rng.normal(size=3) * 3 + (0, 0, 2), (0, 0, 1), 70.0, width, height, dc=tuple(rng.uniform(-5, 5, 2))
        )
        points = rng.normal(size=(50, 3)) * 0.5 + (0, 0, 1)
        uvw = (points @ cam.R.T + cam.t) @ cam.K.T
        expected = uvw[:, :2] / uvw[:, 2:]
        got = _blender_projection(*blender_camera_params(cam), width, height, points)
        np.testing.assert_allclose(got, expected, atol=1e-9)


def test_blender_camera_params_reject_what_blender_cannot_model() -> None:
    cam = make_camera((0, -3, 1), (0, 0, 1), 70.0, 64, 48)
    bad_k = [cam.K * [[1, 1, 1], [1, 1.1, 1], [1, 1, 1]], cam.K + [[0, 2, 0], [0, 0, 0], [0, 0, 0]]]
    for K in bad_k:
        with pytest.raises(ValueError):
            blender_camera_params(Camera(K=K, R=cam.R, t=cam.t, width=64, height=48))
    with pytest.raises(ValueError):
        blender_camera_params(Camera(K=cam.K, R=cam.R * 1.1, t=cam.t, width=64, height=48))


def test_write_pc2_layout(tmp_path: Path) -> None:
    verts = np.arange(2 * 3 * 3, dtype=np.float32).reshape(2, 3, 3)
    write_pc2(tmp_path / "a.pc2", verts)
    data = (tmp_path / "a.pc2").read_bytes()
    magic, version, points, _, _, samples = struct.unpack("<12siiffi", data[:32])
    assert (magic, version, points, samples) == (b"POINTCACHE2\0", 1, 3, 2)
    np.testing.assert_array_equal(np.frombuffer(data[32:], "<f4").reshape(2, 3, 3), verts)


def test_face_parts_take_the_majority() -> None:
    parts = np.array([1, 2, 2, 3], np.uint8)
    faces = np.array([[0, 1, 2], [1, 2, 3], [0, 1, 3], [1, 0, 0]])
    np.testing.assert_array_equal(face_parts(faces, parts), [2, 2, 1, 1])


def test_linear_to_srgb8_known_values() -> None:
    got = linear_to_srgb8(np.array([-1.0, 0.0, 0.0031308, 0.2159, 0.5, 1.0, 7.0]))
    np.testing.assert_array_equal(got, [0, 0, 10, 128, 188, 255, 255])


def test_read_passes_walks_every_part(tmp_path: Path) -> None:
    import OpenEXR

    rng = np.random.default_rng(0)
    rgba = {c: rng.random((4, 5)).astype(np.float32) for c in "RGBA"}
    z = rng.random((4, 5)).astype(np.float32)
    parts = [
        OpenEXR.Part({}, {f"ViewLayer.Combined.{c}": a for c, a in rgba.items()}, "Combined"),
        OpenEXR.Part({}, {"ViewLayer.Depth.Z": z}, "ViewLayer.Depth"),
    ]
    with OpenEXR.File(parts) as exr:
        exr.write(str(tmp_path / "multi.exr"))
    passes = read_passes(tmp_path / "multi.exr")
    assert set(passes) == {"Combined", "Depth"}
    np.testing.assert_array_equal(passes["Combined"], np.stack([rgba[c] for c in "RGBA"], -1))
    np.testing.assert_array_equal(passes["Depth"], z)


def test_decode_frame_conventions() -> None:
    R = np.array([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]])  # camera looking along world +Y
    passes = {
        "Combined": np.full((2, 2, 4), 0.5, np.float32),
        "Depth": np.array([[1e10, 2.0], [3.0, 4.0]], np.float32),
        "Normal": np.tile(np.float32([0, 0, 2]), (2, 2, 1)),  # world up, not unit
        "Object Index": np.array([[0, 1], [2, 0]], np.float32),
        "Material Index": np.array([[0, 5], [16, 0]], np.float32),
    }
    rgb, depth, mask, parts, normals, instances = decode_frame(passes, R, num_persons=2)
    assert rgb.dtype == np.uint8 and (rgb == 188).all()
    np.testing.assert_array_equal(depth, [[0, 2], [3, 4]])
    np.testing.assert_array_equal(mask, [[False, True], [True, False]])
    np.testing.assert_array_equal(parts, [[0, 5], [16, 0]])
    np.testing.assert_array_equal(instances, [[0, 1], [2, 0]])  # body k (Object Index 1 + k) is k + 1
    one = decode_frame(passes, R, num_persons=1)
    np.testing.assert_array_equal(one[2], [[False, True], [False, False]])  # no second body in a one-body scene
    np.testing.assert_array_equal(normals[0, 0], 0)  # sky
    np.testing.assert_allclose(normals[1, 1], [0, -1, 0])  # world up is image up (-y)


def test_settings_validation_and_config() -> None:
    s = settings_from_config({"device": "CPU", "width": 64, "height": 48, "jpeg_quality": 90})
    assert (s.width, s.height, s.samples, s.denoise) == (64, 48, 4, True)  # quality: standard
    for bad in ({"engine": "BLENDER_EEVEE"}, {"device": "METAL"}, {"samples": 0}):
        with pytest.raises(ValueError):
            RenderSettings(**bad)


# --- rendering (real Blender, CPU) -------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    "width, height, offset",
    [(96, 72, (0.0, 0.0)), (60, 80, (3.3, -2.7))],
    ids=["landscape-centred", "portrait-off-centre"],
)
def test_labels_match_ray_casting(width: int, height: int, offset: tuple[float, float]) -> None:
    verts, faces, parts = toy_body()
    clip = walk(verts, 3)
    f = 1.2 * max(width, height)
    cam = make_camera((1.2, -3.0, 1.4), (0, 0, 0.9), f, width, height, dc=offset)
    scene = BlenderScene(RenderSettings(width=width, height=height, samples=2), faces, parts)
    with scene:
        out = scene.render_clip(clip, cam, sample_appearance(3, HDRIS), seed=5)
    assert out.rgb.shape == (3, height, width, 3) and out.rgb.dtype == np.uint8
    assert out.depth.dtype == np.float32 and out.parts.dtype == np.uint8
    face_part = face_parts(faces, parts)
    for k in range(3):  # frame k shows vertices[k]: the point cache is not shifted
        depth, hit = ray_cast(clip[k], faces, cam)
        person = hit >= 0
        assert person.sum() > 300
        # Silhouette: identical up to rays that graze an edge within float error.
        assert (out.mask[k] != person).sum() <= 2
        assert not (out.mask[k] != person)[~boundary(person)].any()
        centroid_gap = np.argwhere(out.mask[k]).mean(0) - np.argwhere(person).mean(0)
        assert np.abs(centroid_gap).max() < 0.05
        both = out.mask[k] & person
        np.testing.assert_array_equal(out.parts[k][both], face_part[hit[both]])
        assert (out.parts[k][~out.mask[k]] == 0).all()
        # Depth: metres along the camera axis, 0 on the sky.
        np.testing.assert_array_equal(out.depth[k] == 0, hit == -2)
        surface = depth > 0
        same = surface & (out.mask[k] == person)  # leave out the grazing rays above
        np.testing.assert_allclose(out.depth[k][same], depth[same], rtol=2e-3, atol=1e-3)
        # Normals: unit on surfaces; the ground's is world up, seen in the camera frame.
        length = np.linalg.norm(out.normals[k], axis=-1)
        np.testing.assert_allclose(length[surface], 1.0, atol=1e-3)
        assert (length[~surface] == 0).all()
        ground = (hit == -1) & ~boundary(person) & ~boundary(hit == -2)
        up = np.tile(cam.R[:, 2], (ground.sum(), 1))
        np.testing.assert_allclose(out.normals[k][ground], up, atol=1e-3)
        facing = np.einsum(
            "hwk,hwk->hw",
            out.normals[k],
            np.dstack(
                [
                    *np.meshgrid(np.arange(width) + 0.5 - cam.K[0, 2], np.arange(height) + 0.5 - cam.K[1, 2]),
                    np.full((height, width), cam.K[0, 0]),
                ]
            ),
        )
        assert (facing[person & ~boundary(person)] < 0).mean() > 0.97


@pytest.mark.slow
def test_rendering_is_deterministic_and_the_scene_is_reused() -> None:
    import bpy

    verts, faces, parts = toy_body()
    cam_a = make_camera((0.5, -3.5, 1.2), (0, 0, 0.9), 60.0, 64, 48)
    cam_b = make_camera((-3.0, -1.0, 2.0), (0, 0, 0.8), 50.0, 64, 48, dc=(2.0, 1.0))
    look_a, look_b = sample_appearance(10, HDRIS), sample_appearance(11, HDRIS)
    scene = BlenderScene(RenderSettings(width=64, height=48, samples=2), faces, parts)
    done: list[int] = []
    first = scene.render_clip(walk(verts, 2), cam_a, look_a, progress=done.append, seed=1)
    assert done == [1, 2]
    kinds = ("objects", "meshes", "materials", "node_groups", "worlds", "lights")
    counts = {name: len(getattr(bpy.data, name)) for name in kinds}
    other = scene.render_clip(walk(verts, 3)[::-1], cam_b, look_b, seed=2)
    again = scene.render_clip(walk(verts, 2), cam_a, look_a, seed=1)
    reseeded = scene.render_clip(walk(verts, 2), cam_a, look_a, seed=99)
    for name in ("rgb", "depth", "mask", "parts", "normals"):
        np.testing.assert_array_equal(getattr(again, name), getattr(first, name), err_msg=name)
    assert other.rgb.shape[0] == 3 and not np.array_equal(other.mask[:2], first.mask)
    # Another noise seed changes only the noise, not the labels.
    assert not np.array_equal(reseeded.rgb, first.rgb)
    np.testing.assert_array_equal(reseeded.mask, first.mask)
    np.testing.assert_array_equal(reseeded.depth, first.depth)
    assert counts == {name: len(getattr(bpy.data, name)) for name in kinds}
    hdri_images = [im for im in bpy.data.images if im.type == "IMAGE"]
    assert len(hdri_images) <= 2  # one per HDRI used so far, loaded once
    assert list(scene.scratch.iterdir()) == []  # EXR and point-cache files are deleted
    # The image is a lit scene: varied colours, the sky brighter than black.
    assert 20 < first.rgb.mean() < 235 and first.rgb.std() > 10
    assert first.rgb[first.depth == 0].mean() > 20
    scene.close()
    assert not scene.scratch.exists()


@pytest.mark.slow
def test_a_newer_scene_replaces_the_older_one() -> None:
    verts, faces, parts = toy_body()
    old = BlenderScene(RenderSettings(width=32, height=24, samples=1), faces, parts)
    new = BlenderScene(RenderSettings(width=32, height=24, samples=1), faces, parts)
    cam = make_camera((0, -4, 1), (0, 0, 1), 30.0, 32, 24)
    with pytest.raises(RuntimeError, match="newer"):
        old.render_clip(verts[None], cam, sample_appearance(0, HDRIS))
    with pytest.raises(ValueError, match="camera is"):
        wide = make_camera((0, -4, 1), (0, 0, 1), 30.0, 64, 48)
        new.render_clip(verts[None], wide, sample_appearance(0, HDRIS))
    with pytest.raises(ValueError, match="vertices"):
        new.render_clip(verts[None, :-1], cam, sample_appearance(0, HDRIS))
    out = new.render_clip(verts[None], cam, sample_appearance(0, HDRIS))
    assert out.mask.any()
    # A point cache read one frame off is an error, not a silently wrong clip.
    import bpy

    bpy.data.objects["body"].modifiers["animation"].frame_start = 0.0
    with pytest.raises(RuntimeError, match="Mesh Cache"):
        new.render_clip(walk(verts, 2), cam, sample_appearance(0, HDRIS))
    old.close()
    new.close()


@pytest.mark.slow
def test_missing_gpu_is_a_clear_error() -> None:
    _, faces, parts = toy_body()
    try:
        scene = BlenderScene(RenderSettings(width=32, height=24, device="CUDA"), faces, parts)
    except RuntimeError as err:
        assert "CUDA" in str(err)
    else:
        scene.close()
        pytest.skip("this machine has a CUDA device")


@pytest.mark.slow
def test_demo_body_renders_with_its_parts() -> None:
    demo = pytest.importorskip("synthact.demo.body_model")
    from synthact.body.skeleton import vertex_parts

    model = demo.build_demo_body_models()["neutral"]
    template = np.asarray(model["v_template"], np.float32)
    # The Y-up template stood up in the Z-up world, (x, y, z) -> (x, -z, y): it faces -Y.
    verts = np.stack([template[:, 0], -template[:, 2], template[:, 1]], axis=-1)
    verts[:, 2] -= verts[:, 2].min()
    centre = verts.mean(axis=0)
    cam = make_camera(centre + (0.0, -3.0, 0.2), centre, 80.0, 64, 96)  # the whole T-pose
    settings = RenderSettings(width=64, height=96, samples=1)
    with BlenderScene(settings, model["f"], vertex_parts(model["weights"])) as scene:
        out = scene.render_clip(verts[None], cam, sample_appearance(0, HDRIS))
    mask = out.mask[0]
    assert 200 < mask.sum() < 0.5 * mask.size
    assert len(np.unique(out.parts[0][mask])) >= 12  # seen from the front
    # Every vertex projects onto the silhouette (or next to it: fingers are thin).
    uvw = (verts @ cam.R.T + cam.t) @ cam.K.T
    col, row = np.floor(uvw[:, :2] / uvw[:, 2:]).astype(int).T
    near = mask | boundary(mask)
    assert near[row, col].mean() > 0.99


def test_stale_scratch_of_dead_processes_is_swept(tmp_path):
    from synthact.render.blender import SCRATCH_PREFIX, _sweep_stale_scratch

    dead = tmp_path / f"{SCRATCH_PREFIX}999999999-abc"
    alive = tmp_path / f"{SCRATCH_PREFIX}{os.getpid()}-def"
    other = tmp_path / "someone-else"
    for folder in (dead, alive, other):
        folder.mkdir()
        (folder / "frame.exr").write_bytes(b"x")
    _sweep_stale_scratch(tmp_path)
    assert not dead.exists() and alive.exists() and other.exists()
