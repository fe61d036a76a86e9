"""The pipelined render loop: the background thread, the window coder, and a real
Blender render through ``render_windows`` against the serial ``render_clip``."""

from __future__ import annotations

import os
import shutil
import sys
import threading
from pathlib import Path
from types import SimpleNamespace

import h5py
import numpy as np
import pytest

from synthact.codecs.chunks import compress_chunk, decompress_chunk, shuffle_bytes
from synthact.render.encode import StorageSettings, WindowCoder
from synthact.render.pipeline import CODING_NICE, Pipeline


def test_pipeline_runs_jobs_in_order_and_bounds_its_queue():
    done, gate = [], threading.Event()
    with Pipeline(depth=2) as pipeline:
        pipeline.submit(gate.wait)
        for i in range(2):
            pipeline.submit(done.append, i)
        blocker = threading.Thread(target=pipeline.submit, args=(done.append, 2))
        blocker.start()
        blocker.join(0.2)
        assert blocker.is_alive()  # the queue is full: the render loop waits, memory stays bounded
        gate.set()
        blocker.join()
        pipeline.drain()
        assert done == [0, 1, 2]


def test_pipeline_raises_the_first_error_in_the_render_loop():
    def fail() -> None:
        raise ValueError("bad frame")

    pipeline = Pipeline(depth=2)
    pipeline.submit(fail)
    with pytest.raises(ValueError, match="bad frame"):
        pipeline.drain()
    pipeline.close()


@pytest.mark.skipif(sys.platform != "linux", reason="nice is per thread on Linux only")
def test_the_coding_thread_yields_to_the_render_threads():
    def nice_here() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    seen: list[int] = []
    with Pipeline(depth=2) as pipeline:
        pipeline.submit(lambda: seen.append(nice_here()))
        pipeline.drain()
    assert seen == [min(19, nice_here() + CODING_NICE)]  # the caller (the render thread) keeps its own
    with Pipeline(depth=2, nice=0) as pipeline:
        pipeline.submit(lambda: seen.append(nice_here()))
    assert seen[-1] == nice_here()


@pytest.mark.parametrize("compressor", ["gzip", "zstd"])
def test_chunks_are_what_hdf5_filters_decode(tmp_path: Path, compressor: str):
    from synthact.codecs.storage import image_options

    if compressor == "zstd":
        pytest.importorskip("zstandard")
        import hdf5plugin  # noqa: F401  (registers the zstd filter for reading)
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 65535, (24, 32), dtype=np.uint16)
    blob = compress_chunk(frame, compressor, 4)
    assert np.array_equal(decompress_chunk(blob, compressor, frame.dtype, frame.shape), frame)
    assert shuffle_bytes(np.array([0x0102, 0x0304], np.uint16)) == bytes([2, 4, 1, 3])  # low bytes, then high
    with h5py.File(tmp_path / "c.h5", "w") as f:
        options = image_options((3, 24, 32), np.uint16, compressor)
        dset = f.create_dataset("d", shape=(3, 24, 32), dtype=np.uint16, **options)
        dset.id.write_direct_chunk((1, 0, 0), blob)
    with h5py.File(tmp_path / "c.h5") as f:
        assert np.array_equal(f["d"][1], frame)  # HDF5's own shuffle + deflate read it


def test_window_coder_is_deterministic():
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 255, (4, 24, 32, 3), dtype=np.uint8)
    depth = rng.uniform(1, 100, (4, 24, 32)).astype(np.float32)
    normals = rng.standard_normal((4, 24, 32, 3)).astype(np.float32)
    normals /= np.linalg.norm(normals, axis=-1, keepdims=True)
    mask = (depth < 50).astype(np.uint8)

    def code() -> dict:
        coder = WindowCoder(32, 24, StorageSettings())
        for i in range(4):
            coder.add(rgb[i], depth[i], mask[i], mask[i] * 3, normals[i])
        return coder.finish().arrays()

    a, b = code(), code()
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


@pytest.fixture(scope="module")
def demo(tmp_path_factory, demo_body_model_dir):
    from synthact.body.smplh import BodyModel
    from synthact.demo.dataset import write_demo_dataset
    from synthact.sources.amass import iter_motion_files, load_motion

    root = tmp_path_factory.mktemp("demo")
    shutil.copytree(demo_body_model_dir, root / "body_models")  # generated once per session
    write_demo_dataset(root, root / "body_models", num_sequences=1, seed=0)
    motion = load_motion(next(iter_motion_files(root / "amass")))
    return BodyModel(root / "body_models", motion.gender), motion


def test_pipelined_loop_stores_what_the_serial_render_gives(demo, tmp_path):
    """Four frames in two windows through the worker's loop (pose thread, coding thread) match
    the same frames rendered and decoded inline: labels exact, depth to the millimetre."""
    from synthact.body.skeleton import vertex_parts
    from synthact.codecs import depth as depth_codec
    from synthact.codecs.chunks import decompress_chunk
    from synthact.render import blender
    from synthact.render.renderer import RenderSettings
    from synthact.render.visibility import output_joint_parts
    from synthact.render.window_record import WindowRecord
    from synthact.render.worker import PreparedBody, PreparedTake, TakeRenderer, render_windows
    from synthact.scene.appearance import sample_appearance
    from synthact.scene.cameras import Camera, intrinsics, look_at
    from synthact.scene.rig import CameraPath
    from synthact.seeding import derive_seed

    model, motion = demo
    W, H, T = 48, 36, 4
    renderer = TakeRenderer.__new__(TakeRenderer)
    renderer._models = {motion.gender: model}
    renderer.settings = RenderSettings(width=W, height=H, samples=1)
    renderer.scene = blender.BlenderScene(renderer.settings, model.faces, vertex_parts(model.lbs_weights))
    renderer.joint_parts = output_joint_parts(model.lbs_weights)
    renderer.rig, renderer.storage = SimpleNamespace(width=W, height=H), StorageSettings(keyframe_interval=2)
    centre = motion.trans[:T].mean(axis=0) + np.array([0.0, 0.0, 0.2])
    R, t = look_at(centre + np.array([3.5, 0.0, 0.4]), centre)
    path = CameraPath(K=intrinsics(W, H, 55.0), R=np.repeat(R[None], T, 0), t=np.repeat(t[None], T, 0), distance_m=3.5)
    plan = SimpleNamespace(
        take=SimpleNamespace(path_center=(0.0, 0.0), take_id="t0"), view=lambda v: SimpleNamespace(seed=5)
    )
    betas = np.asarray(motion.betas, np.float32)
    body = PreparedBody("demo.npz", motion, np.arange(T), np.ones(T, bool), betas, np.zeros(16, np.float32), 0.0)
    prepared = PreparedTake(
        plan=plan,
        bodies=(body,),
        appearance=sample_appearance(2, ["forest"]),
        cameras=path,
    )
    renderer.prepare = lambda take, view: prepared
    jobs = [(plan, 0, 0, 2, tmp_path / "w0.npz"), (plan, 1, 2, 4, tmp_path / "w1.npz")]
    assert render_windows(renderer, "front", jobs) == T
    for index, (a, b) in enumerate([(0, 2), (2, 4)]):
        (posed,) = renderer.pose_window(prepared, a, b)
        cams = [Camera(K=path.K, R=path.R[i], t=path.t[i], width=W, height=H) for i in range(a, b)]
        serial = renderer.scene.render_clip(
            posed.vertices, cams, prepared.appearance, seed=derive_seed(5, index) % (2**31 - 1)
        )
        window = WindowRecord.read(jobs[index][4])
        images = window.coded.images
        for i in range(b - a):
            stored = decompress_chunk(images["depth"].chunk(i), "gzip", np.uint16, (H, W))
            depth = depth_codec.decode_stored(stored, depth_codec.ENCODING)
            assert np.abs(depth - serial.depth[i])[serial.mask[i]].max() <= depth_codec.MAX_PERSON_ERROR_M + 1e-6
            mask = decompress_chunk(images["mask"].chunk(i), "gzip", np.uint8, (H, W))
            assert np.array_equal(mask, serial.mask[i])
        video = window.coded.video
        assert video is not None and video.keyframe[0] and len(video.pts) == b - a
        assert window.keypoints_visible.any() and window.num_frames == b - a
    assert not list(renderer.scene.scratch.glob("*.exr"))  # every frame's EXR read and deleted
    renderer.scene.close()
