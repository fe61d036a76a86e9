"""Geometry-only rendering: the torch z-buffer against an independent ray caster and Cycles.

The ray caster (``ray_cast`` of test_render_blender) is numpy Möller-Trumbore
through every pixel centre; Cycles is real Blender on the CPU at tiny sizes.
"""

from __future__ import annotations

import numpy as np
import pytest

from synthact.body.skeleton import face_parts
from synthact.render.engines import render_scene
from synthact.render.geometry import GeometryScene, vertex_normals
from synthact.render.renderer import RenderSettings, settings_from_config
from synthact.scene.appearance import sample_appearance
from tests.fixtures.render_scene import HDRIS, boundary, make_camera, ray_cast, toy_body, walk


def _angle_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):  # sky pixels hold zero normals
        cos = np.clip((a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1)), -1, 1)
    return np.degrees(np.arccos(cos))


def test_geometry_matches_ray_casting_without_blender() -> None:
    verts, faces, parts = toy_body()
    clip = walk(verts, 2)
    cams = [
        make_camera((1.2, -3.0, 1.4), (0, 0, 0.9), 90.0, 80, 60, dc=(1.3, -0.7)),
        make_camera((-2.0, -2.5, 0.6), (0, 0, 0.9), 70.0, 80, 60),
    ]
    scene = GeometryScene(RenderSettings(width=80, height=60, engine="GEOMETRY"), faces, parts)
    done: list[int] = []
    out = scene.render_clip(clip, cams, None, progress=done.append)
    assert done == [1, 2] and out.rgb is None
    assert out.depth.dtype == np.float32 and out.parts.dtype == np.uint8 and out.mask.dtype == bool
    face_part = face_parts(faces, parts)
    for k, cam in enumerate(cams):
        depth, hit = ray_cast(clip[k], faces, cam)
        person = hit >= 0
        assert person.sum() > 200
        assert (out.mask[k] != person).sum() <= 2
        both = out.mask[k] & person
        np.testing.assert_array_equal(out.parts[k][both], face_part[hit[both]])
        assert (out.parts[k][~out.mask[k]] == 0).all()
        np.testing.assert_array_equal(out.depth[k] == 0, hit == -2)  # sky: 0
        same = (depth > 0) & (out.mask[k] == person)
        np.testing.assert_allclose(out.depth[k][same], depth[same], rtol=1e-5, atol=1e-5)
        ground = hit == -1
        np.testing.assert_allclose(out.normals[k][ground], np.tile(cam.R[:, 2], (ground.sum(), 1)), atol=1e-6)
        assert (np.linalg.norm(out.normals[k], axis=-1)[hit == -2] == 0).all()


def test_one_camera_serves_every_frame_and_bad_input_is_refused() -> None:
    verts, faces, parts = toy_body()
    cam = make_camera((0.0, -3.0, 1.0), (0, 0, 0.9), 60.0, 48, 36)
    scene = GeometryScene(RenderSettings(width=48, height=36, engine="GEOMETRY"), faces, parts)
    out = scene.render_clip(walk(verts, 3), cam)
    assert out.mask.shape == (3, 36, 48) and out.mask.any()
    with pytest.raises(ValueError, match="cameras for"):
        scene.render_clip(walk(verts, 3), [cam, cam])
    with pytest.raises(ValueError, match="camera is"):
        scene.render_clip(verts[None], make_camera((0, -3, 1), (0, 0, 1), 60.0, 64, 48))
    with pytest.raises(ValueError, match="vertices"):
        scene.render_clip(verts[None, :-1], cam)


def test_vertex_normals_of_a_sphere_point_outwards() -> None:
    import torch

    from tests.fixtures.render_scene import ellipsoid

    v, f = ellipsoid((0, 0, 0), (1, 1, 1), n_lat=24, n_lon=32)
    n = vertex_normals(torch.as_tensor(v), torch.as_tensor(f)).numpy()
    assert np.median(_angle_deg(n, v)) < 1.0


def test_engine_setting_picks_the_renderer() -> None:
    _, faces, parts = toy_body()
    settings = settings_from_config({"engine": "GEOMETRY", "width": 32, "height": 24})
    assert isinstance(render_scene(settings, faces, parts), GeometryScene)
    with pytest.raises(ValueError, match="engine"):
        RenderSettings(engine="EEVEE")


def test_room_walls_and_furniture_are_seen() -> None:
    verts, faces, parts = toy_body()
    origin = (5.0, -2.0)
    settings = RenderSettings(width=64, height=48, engine="GEOMETRY", scene="room")
    cam = make_camera((origin[0] + 2.5, origin[1] + 2.0, 1.6), (*origin, 0.9), 40.0, 64, 48)
    out = GeometryScene(settings, faces, parts).render_clip(verts[None] + (*origin, 0.0), cam, room_origin=origin)
    assert (out.depth > 0).all()  # closed room: no sky anywhere
    assert out.mask.any() and out.depth.max() < 12.0
    # Every box normal is a camera-facing axis of the world.
    world = out.normals[0][~out.mask[0]] @ cam.R
    assert np.allclose(np.abs(world).max(-1), 1.0, atol=1e-6)
    rays = np.stack(np.meshgrid(np.arange(64) + 0.5 - 32, np.arange(48) + 0.5 - 24) + [np.full((48, 64), 40.0)], -1)
    assert ((out.normals[0] * rays).sum(-1) < 0).all()


# --- against Cycles (real Blender, CPU) ---------------------------------------------------


@pytest.fixture(scope="module")
def demo_take(tmp_path_factory):
    """The demo body posed by 3 frames of a demo motion, and one camera per frame."""
    from benchmarks.render_speed import posed_demo_clip
    from synthact.body.skeleton import vertex_parts

    model, posed = posed_demo_clip(tmp_path_factory.mktemp("demo"), frames=3)
    centre = posed.joints[:, 0].mean(axis=0)
    cams = [
        make_camera(centre + (2.2 * np.cos(a), 2.2 * np.sin(a), 0.3), centre - (0, 0, 0.05), 95.0, 96, 120)
        for a in (-1.2, -0.6, 0.3)
    ]
    return posed.vertices, np.asarray(model.faces), vertex_parts(model.lbs_weights), cams, posed.joints


@pytest.mark.slow
@pytest.mark.parametrize("scene_kind", ["outdoor", "room"])
def test_geometry_matches_cycles(demo_take, scene_kind: str) -> None:
    from synthact.render.blender import BlenderScene
    from synthact.render.visibility import keypoint_visibility
    from synthact.scene.cameras import project, to_camera

    verts, faces, parts, cams, joints = demo_take
    origin = tuple(verts[0].mean(0)[:2])
    settings = RenderSettings(width=96, height=120, samples=1, scene=scene_kind, max_bounces=1)
    look = sample_appearance(4, HDRIS, room=scene_kind == "room")
    with BlenderScene(settings, faces, parts) as blender:
        cycles = [blender.render_clip(verts[k : k + 1], cam, look, room_origin=origin) for k, cam in enumerate(cams)]
    geo = GeometryScene(RenderSettings(width=96, height=120, engine="GEOMETRY", scene=scene_kind), faces, parts)
    out = geo.render_clip(verts, cams, look, room_origin=origin)
    for k, ref in enumerate(cycles):
        a, b = out.mask[k], ref.mask[0]
        assert (a & b).sum() / (a | b).sum() >= 0.99, f"frame {k}: mask IoU"
        both = a & b
        assert np.abs(out.depth[k][both] - ref.depth[0][both]).max() <= 1e-3
        assert (out.parts[k][both] == ref.parts[0][both]).mean() >= 0.99
        np.testing.assert_array_equal(out.depth[k] == 0, ref.depth[0] == 0)
        scene_px = (out.depth[k] > 0) & ~a & ~b
        # Ground at grazing angles, 70+ m away: float32 round-off in Cycles (measured 3.4e-4).
        rel = np.abs(out.depth[k][scene_px] - ref.depth[0][scene_px]) / out.depth[k][scene_px]
        assert rel.max() <= 1e-3
        # Normals: Cycles' pass is a mean over samples (here 1, at the pixel centre), so
        # leave out silhouettes, where a pixel's filter sees two surfaces.
        steady = ~boundary(a) & ~boundary(out.depth[k] > 0)
        angle = _angle_deg(out.normals[k], ref.normals[0])
        assert np.percentile(angle[both & steady], 99) < 2.0, f"frame {k}: body normals"
        assert np.percentile(angle[scene_px & steady], 99) < 2.0, f"frame {k}: scene normals"
        # Keypoint visibility, computed by the worker from depth and mask, is the same.
        joints_cam = to_camera(joints[k : k + 1], cams[k])
        uv = project(joints_cam, cams[k].K)
        seen = [
            keypoint_visibility(uv, joints_cam[..., 2], o.depth[i : i + 1], o.mask[i : i + 1], o.parts[i : i + 1])
            for o, i in ((out, k), (ref, 0))
        ]
        assert (seen[0] == seen[1]).mean() >= 0.98 and seen[0].sum() >= 10, f"frame {k}: visibility"


@pytest.mark.slow
def test_the_geometry_engine_builds_a_dataset_without_rgb(tmp_path) -> None:
    """render.engine GEOMETRY through the whole workflow: labels and geometry, no colour."""
    import glob

    from synthact.consume.reader import ShardReader
    from tests.helpers import make_run, snakemake, tiny_config

    config = tiny_config(demo={"sequences": 1}, render={"width": 96, "height": 72, "engine": "GEOMETRY"})
    run = make_run(tmp_path / "run", config)
    snakemake(run)
    (shard,) = glob.glob(str(run / "output" / "shards" / "*.h5"))
    with ShardReader(shard) as reader:
        take = reader.take_ids[0]
        got = reader.read(take, "front")
        assert "rgb" not in got and got["mask"].any(axis=(1, 2)).all()
        assert got["keypoints_visible"].any() and got["depth"].shape[1:] == (72, 96)
        with pytest.raises(KeyError, match="GEOMETRY renders no RGB"):
            reader.read(take, "front", ["rgb"])
