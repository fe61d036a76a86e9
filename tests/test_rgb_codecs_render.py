"""Every ``render.rgb_codec`` value codes a real Blender render and reads back through the shard reader.

One tiny take (6 frames, 64x48, 1 sample) is rendered once per module; each codec
the config schema allows then codes it in two windows with the render task's own
``WindowCoder`` (its settings from ``StorageSettings``, as the render loop builds
them), the windows are joined and stored as the merge stores them, and
``ShardReader`` reads them back.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml

from synthact.codecs.storage import write_video
from synthact.codecs.video import concat_videos
from synthact.consume.reader import ShardReader
from synthact.consume.video import psnr
from synthact.render.encode import StorageSettings, WindowCoder
from synthact.shard_format import FORMAT_VERSION, TAKE_IDS, VIEWS_ATTRIBUTE

W, H, T, WINDOW = 64, 48, 6, 4
SCHEMA = Path(__file__).resolve().parents[1] / "synthact" / "schemas" / "config.schema.yaml"
CODECS = yaml.safe_load(SCHEMA.read_text())["properties"]["render"]["properties"]["rgb_codec"]["enum"]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory, demo_body_model_dir):
    """One real render of a demo motion: (T, H, W, 3) RGB, and the depth, mask, parts and normals beside it."""
    from synthact.body.skeleton import vertex_parts
    from synthact.body.smplh import BodyModel
    from synthact.demo.dataset import write_demo_dataset
    from synthact.render import blender
    from synthact.render.renderer import RenderSettings
    from synthact.scene.appearance import sample_appearance
    from synthact.scene.cameras import Camera, intrinsics, look_at
    from synthact.sources.amass import iter_motion_files, load_motion

    root = tmp_path_factory.mktemp("codec_render")
    shutil.copytree(demo_body_model_dir, root / "body_models")
    write_demo_dataset(root, root / "body_models", num_sequences=1, seed=0)
    motion = load_motion(next(iter_motion_files(root / "amass")))
    model = BodyModel(root / "body_models", motion.gender)
    posed = model.pose(motion.poses[:T], motion.trans[:T], np.asarray(motion.betas, np.float32))
    centre = motion.trans[:T].mean(axis=0) + np.array([0.0, 0.0, 0.2])
    R, t = look_at(centre + np.array([3.0, 0.0, 0.4]), centre)
    camera = Camera(K=intrinsics(W, H, 55.0), R=R, t=t, width=W, height=H)
    scene = blender.BlenderScene(
        RenderSettings(width=W, height=H, samples=1), model.faces, vertex_parts(model.lbs_weights)
    )
    try:
        clip = scene.render_clip(posed.vertices, [camera] * T, sample_appearance(2, ["forest"]), seed=3)
    finally:
        scene.close()
    assert clip is not None and clip.rgb is not None
    return clip


def store(path: Path, clip, settings: StorageSettings) -> None:
    """The take-view as the merge stores it: windows coded apart by the render task's coder, joined."""
    parts = []
    for start in range(0, T, WINDOW):
        coder = WindowCoder(W, H, settings)
        for i in range(start, min(start + WINDOW, T)):
            coder.add(clip.rgb[i], clip.depth[i], clip.mask[i], clip.parts[i], clip.normals[i])
        coded = coder.finish().video
        assert coded is not None and coded.keyframe[0]
        parts.append(coded)
    with h5py.File(path, "w") as f:
        f.attrs.update(format="synthact-shard", format_version=FORMAT_VERSION)
        f.attrs[VIEWS_ATTRIBUTE.name] = json.dumps(["front"])
        f.create_dataset(TAKE_IDS, data=np.array(["t0"], dtype=h5py.string_dtype()))
        f["takes/t0/frames"] = np.arange(T)
        write_video(f.create_group("takes/t0/views/front/rgb"), concat_videos(parts))


@pytest.mark.slow
@pytest.mark.parametrize("codec", CODECS)
def test_each_rgb_codec_stores_a_render_that_reads_back(rendered, tmp_path, codec):
    settings = StorageSettings(rgb_codec=codec, keyframe_interval=2)
    store(tmp_path / "s.h5", rendered, settings)
    with ShardReader(tmp_path / "s.h5") as reader:
        rgb = reader.read("t0", "front", ["rgb"])["rgb"]
        assert rgb.shape == (T, H, W, 3)
        # 1 sample per pixel is mostly noise, which no codec keeps: the bound is what
        # the codecs reach on it, far above a wrong or shifted frame (under 12 dB)
        assert psnr(rgb, rendered.rgb) > 20.0, codec
        np.testing.assert_array_equal(reader.read("t0", "front", ["rgb"], slice(1, 6, 2))["rgb"], rgb[1:6:2])
        with h5py.File(tmp_path / "s.h5", "r") as f:
            stored = json.loads(f["takes/t0/views/front/rgb"].attrs["settings"])
        assert stored["codec"] == codec and stored["preset"] == settings.video().preset
