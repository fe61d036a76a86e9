"""Codec round trips on real encoders (x264, SVT-AV1, libjpeg) and real HDF5.

The images are synthetic but shaped like renders: a moving textured person
over a ground plane with a sky, so the video codecs see motion, edges and
smooth gradients, and depth has a far band beyond 60 m.
"""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from synthact.codecs import depth, normals, storage, video

# --- depth --------------------------------------------------------------------------


def test_depth_is_exact_to_the_millimetre_up_to_60_m() -> None:
    rng = np.random.default_rng(0)
    d = np.concatenate([rng.uniform(0.0005, 60.0, 200_000), [0.0005, 0.001, 1.2345, 59.9999, 60.0, 60.0004]])
    back = depth.decode_depth(depth.encode_depth(d))
    assert np.abs(back - d).max() <= 0.0005 + 2e-6  # float32 spacing at 60 m: 3.8 um


def test_depth_far_band_has_the_stated_relative_error_and_clamps() -> None:
    d = np.geomspace(60.0006, 1000.0, 100_000)
    back = depth.decode_depth(depth.encode_depth(d)).astype(np.float64)
    assert np.abs(back / d - 1).max() <= depth.MAX_FAR_RELATIVE_ERROR + 1e-6
    assert abs(float(depth.decode_depth(depth.encode_depth(np.array([131.0])))[0]) - 131.0) < 0.034
    codes = depth.encode_depth(np.array([1000.0, 5000.0, 1e9]))
    assert (codes == 65535).all()  # beyond the far clip: clamped to 1000 m
    assert depth.decode_depth(codes)[0] == pytest.approx(1000.0, rel=1e-6)


def test_depth_codes_are_monotonic_and_zero_means_no_surface() -> None:
    table = depth.depth_table()
    assert table[0] == 0 and (np.diff(table) > 0).all()
    assert table[1] == pytest.approx(0.001) and table[60000] == pytest.approx(60.0)
    assert depth.encode_depth(np.array([0.0, 1e-5]))[0] == 0
    assert depth.encode_depth(np.array([0.0, 1e-5]))[1] == 1  # a surface stays a surface


def test_depth_decode_equals_the_table_for_every_code() -> None:
    codes = np.arange(65536, dtype=np.uint16)
    np.testing.assert_array_equal(depth.decode_depth(codes), depth.depth_table())
    assert depth.decode_depth(codes.reshape(256, 256)).shape == (256, 256)


def test_depth_rejects_what_is_not_a_depth() -> None:
    for bad in (np.nan, np.inf, -0.1):
        with pytest.raises(ValueError, match="finite"):
            depth.encode_depth(np.array([1.0, bad]))
    with pytest.raises(ValueError, match="uint16"):
        depth.decode_depth(np.zeros(3, np.int32))


def test_depth_attrs_decode_without_the_module() -> None:
    a = depth.depth_attrs(depth.ENCODING_V1)
    codes = np.array([1, 60000, 60001, 65535])
    metres = np.where(
        codes <= a["linear_max_code"],
        codes / 1000.0,
        a["linear_max_m"] * a["far_ratio"] ** (codes - a["linear_max_code"]),
    )
    assert np.allclose(metres, depth.decode_depth(codes.astype(np.uint16)), rtol=1e-6)


# --- normals ------------------------------------------------------------------------


def _angles_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angles by atan2, which stays accurate near 0 where arccos does not."""
    return np.degrees(np.arctan2(np.linalg.norm(np.cross(a, b), axis=-1), np.sum(a * b, axis=-1)))


@pytest.mark.parametrize(("bits", "precise"), [(8, True), (8, False), (16, True)])
def test_normals_are_within_the_stated_error(bits: int, precise: bool) -> None:
    rng = np.random.default_rng(bits)
    n = rng.normal(size=(2_000_000, 3))
    n /= np.linalg.norm(n, axis=-1, keepdims=True)
    axes = np.concatenate([np.eye(3), -np.eye(3)])  # the folds' edges and corners
    n = np.concatenate([n, axes])
    codes = normals.encode_normals(n, bits, precise=precise)
    assert codes.dtype == normals.DTYPES[bits] and codes.shape == (len(n), 2)
    err = _angles_deg(normals.decode_normals(codes).astype(np.float64), n)
    bound = (normals.MAX_ERROR_DEG if precise else normals.MAX_ERROR_ROUNDED_DEG)[bits]
    assert 0.8 * bound < err.max() <= bound  # the stated bound holds, and is tight
    assert (codes != 0).any(axis=-1).all()  # no direction takes the "no surface" code


def test_normals_zero_means_no_surface_and_shape_is_kept() -> None:
    n = np.zeros((2, 3, 4, 3), np.float32)
    n[0, 1, 2] = (0.0, 0.0, -1.0)  # facing the camera
    codes = normals.encode_normals(n)
    assert codes.shape == (2, 3, 4, 2)
    back = normals.decode_normals(codes)
    assert (back[n.any(-1) == 0] == 0).all()
    assert np.allclose(back[0, 1, 2], (0, 0, -1), atol=1e-6)


def test_normals_reject_bad_input() -> None:
    with pytest.raises(ValueError, match="8 or 16"):
        normals.encode_normals(np.ones((2, 3)), bits=10)
    with pytest.raises(ValueError, match=r"\(\.\.\., 2\)"):
        normals.decode_normals(np.zeros((4, 3), np.uint8))


# --- RGB video ----------------------------------------------------------------------


def synthetic_frames(num: int, height: int = 96, width: int = 128) -> np.ndarray:
    """A textured ellipse walking over a graded ground under a sky gradient."""
    v, u = np.mgrid[0:height, 0:width].astype(np.float32)
    sky = np.stack([120 + 40 * v / height, 160 + 30 * v / height, np.full_like(v, 230)], -1)
    ground = np.stack([90 + 20 * np.sin(u / 9) * (v / height), 110 + 30 * v / height, 70 + 0 * u], -1)
    base = np.where((v > height * 0.45)[..., None], ground, sky)
    frames = []
    for t in range(num):
        cx, cy = width * (0.2 + 0.6 * t / max(num - 1, 1)), height * (0.5 + 0.05 * np.sin(t / 3))
        inside = ((u - cx) / (width * 0.08)) ** 2 + ((v - cy) / (height * 0.3)) ** 2 < 1
        shade = 30 * np.sin(u / 2 + t) * np.cos(v / 3)  # a luminance texture, as cloth folds give
        cloth = np.stack([190 + shade, 70 + shade, 60 + shade], -1)
        frames.append(np.where(inside[..., None], cloth, base))
    return np.clip(np.rint(frames), 0, 255).astype(np.uint8)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / mse))


# (settings, PSNR these synthetic frames must reach). Their red cloth texture
# is hard on 4:2:0 chroma: the colour conversion alone caps 4:2:0 at 35.4 dB.
CODEC_CASES = [
    (video.VideoSettings(codec="h264", keyframe_interval=8, pix_fmt="yuv444p"), 36.0),
    (video.VideoSettings(codec="h264", keyframe_interval=8, bframes=2), 32.0),
    (video.VideoSettings(codec="av1", keyframe_interval=8, crf=30, preset="10"), 32.0),
    (video.VideoSettings(codec="jpeg"), 34.0),
]
CASE_IDS = [f"{s.codec}-{s.pix_fmt}-b{s.bframes}" for s, _ in CODEC_CASES]


@pytest.fixture(scope="module")
def frames() -> np.ndarray:
    return synthetic_frames(30)


@pytest.mark.parametrize(("settings", "min_psnr"), CODEC_CASES, ids=CASE_IDS)
def test_video_round_trip_quality_and_index(frames: np.ndarray, settings: video.VideoSettings, min_psnr: float) -> None:
    coded = video.encode_video(frames, settings)
    assert coded.num_frames == len(frames) and coded.offsets[-1] == len(coded.data)
    assert sorted(coded.pts) == list(range(len(frames)))
    k = settings.keyframe_interval if settings.codec != "jpeg" else 1
    assert np.flatnonzero(coded.keyframe).tolist() == [i for i in range(len(frames)) if coded.pts[i] % k == 0]
    decoded = video.decode_all(coded)
    assert decoded.shape == frames.shape
    assert psnr(decoded, frames) >= min_psnr


@pytest.mark.parametrize("settings", [s for s, _ in CODEC_CASES], ids=CASE_IDS)
def test_every_window_decodes_as_the_full_stream(frames: np.ndarray, settings: video.VideoSettings) -> None:
    coded = video.encode_video(frames, settings)
    full = video.decode_all(coded)
    k = settings.keyframe_interval if settings.codec != "jpeg" else 1
    for start in range(0, len(frames) - 1, 3):
        stop = min(start + 7, len(frames))
        window = video.decode_window(coded.data, coded.offsets, coded.pts, coded.keyframe, coded.codec, start, stop)
        assert np.array_equal(window, full[start:stop])
        plan = video.plan_window(coded.offsets, coded.pts, coded.keyframe, start, stop)
        assert plan.first_frame > start - k  # at most K - 1 frames before the window
        assert plan.byte_stop - plan.byte_start < len(coded.data) or start < k


@pytest.mark.parametrize("settings", [s for s, _ in CODEC_CASES], ids=CASE_IDS)
def test_video_is_deterministic(frames: np.ndarray, settings: video.VideoSettings) -> None:
    a = video.encode_video(frames, settings)
    b = video.encode_video(frames, settings)
    assert a.data.tobytes() == b.data.tobytes()
    assert np.array_equal(a.offsets, b.offsets) and np.array_equal(a.pts, b.pts)
    other = video.encode_video(frames[::-1], settings)
    assert other.data.tobytes() != a.data.tobytes()


def test_windows_coded_apart_concatenate_into_one_stream(frames: np.ndarray) -> None:
    s = video.VideoSettings(keyframe_interval=8)
    parts = [video.encode_video(frames[i : i + 16], s) for i in range(0, len(frames), 16)]
    joined = video.concat_videos(parts)
    whole = video.decode_all(joined)
    assert np.array_equal(whole, np.concatenate([video.decode_all(p) for p in parts]))
    window = video.decode_window(joined.data, joined.offsets, joined.pts, joined.keyframe, "h264", 14, 20)
    assert np.array_equal(window, whole[14:20])


class _RecordingBytes:
    """A bitstream that records which byte ranges a decoder asks for."""

    def __init__(self, data: np.ndarray):
        self.data, self.reads = data, []

    def __getitem__(self, key: slice) -> np.ndarray:
        self.reads.append((key.start, key.stop))
        return self.data[key]


def test_a_window_reads_only_its_own_bytes(frames: np.ndarray) -> None:
    coded = video.encode_video(frames, video.VideoSettings(keyframe_interval=8))
    data = _RecordingBytes(coded.data)
    video.decode_window(data, coded.offsets, coded.pts, coded.keyframe, "h264", 17, 21)
    assert data.reads == [(int(coded.offsets[16]), int(coded.offsets[21]))]  # keyframe 16 to frame 20


def test_video_group_round_trips_through_hdf5(tmp_path, frames: np.ndarray) -> None:
    coded = video.encode_video(frames, video.VideoSettings(keyframe_interval=8))
    with h5py.File(tmp_path / "v.h5", "w") as f:
        storage.write_video(f.create_group("rgb"), coded)
    with h5py.File(tmp_path / "v.h5", "r") as f:
        assert f["rgb/data"].dtype == np.uint8 and f["rgb"].attrs["codec"] == "h264"
        got = storage.read_video_window(f["rgb"], 17, 25)
        index = storage.read_video_index(f["rgb"])
        again = storage.read_video_window(f["rgb"], 0, 30, index=index)
    full = video.decode_all(coded)
    assert np.array_equal(got, full[17:25]) and np.array_equal(again, full)


def test_video_rejects_bad_input(frames: np.ndarray) -> None:
    with pytest.raises(ValueError, match="codec"):
        video.VideoSettings(codec="mpeg2")
    with pytest.raises(ValueError, match="yuv420p only"):
        video.VideoSettings(codec="av1", pix_fmt="yuv444p")
    enc = video.VideoEncoder(128, 96)
    with pytest.raises(ValueError, match=r"\(96, 128, 3\) uint8"):
        enc.add(frames[0, :, :64])
    coded = video.encode_video(frames[:5])
    with pytest.raises(ValueError, match="outside"):
        video.decode_window(coded.data, coded.offsets, coded.pts, coded.keyframe, "h264", 3, 9)


# --- lossless images in HDF5 --------------------------------------------------------


@pytest.mark.parametrize("compressor", storage.COMPRESSORS)
def test_lossless_images_round_trip_through_hdf5(tmp_path, compressor: str) -> None:
    rng = np.random.default_rng(1)
    parts = rng.integers(0, 17, size=(6, 24, 32), dtype=np.uint8)
    codes = depth.encode_depth(rng.uniform(0, 140, size=(6, 24, 32)))
    with h5py.File(tmp_path / "l.h5", "w") as f:
        f.create_dataset("parts", data=parts, **storage.image_options(parts.shape, parts.dtype, compressor))
        f.create_dataset("depth", data=codes, **storage.image_options(codes.shape, codes.dtype, compressor))
    with h5py.File(tmp_path / "l.h5", "r") as f:
        assert f["depth"].chunks == (1, 24, 32) and f["depth"].shuffle and not f["parts"].shuffle
        filters = f["parts"]._filters
        assert ("gzip" in filters) if compressor == "gzip" else ("32015" in filters)  # 32015: zstd
        assert np.array_equal(f["parts"][2:5], parts[2:5]) and np.array_equal(f["depth"][()], codes)


def test_unknown_compressor_is_refused() -> None:
    with pytest.raises(ValueError, match="compressor 'lzma'"):
        storage.image_options((2, 3, 4), np.uint8, "lzma")


# --- on a real render ---------------------------------------------------------------


@pytest.mark.slow
def test_codecs_on_a_real_render() -> None:
    """Blender's own frames through every codec: the bounds hold on real data."""
    from synthact.render.blender import BlenderScene, available_hdris
    from synthact.render.renderer import RenderSettings
    from synthact.scene.appearance import sample_appearance
    from tests.fixtures.render_scene import make_camera, toy_body, walk

    verts, faces, parts = toy_body()
    cam = make_camera((0.0, -4.0, 1.2), (0.0, 0.0, 1.1), 70.0, 64, 48)  # the horizon in view
    with BlenderScene(RenderSettings(width=64, height=48, samples=2), faces, parts) as scene:
        out = scene.render_clip(walk(verts, 10), cam, sample_appearance(3, available_hdris()), seed=1)
    assert out.mask.any() and (out.depth > depth.LINEAR_MAX_M).any()  # the person and the far ground
    back = depth.decode_depth(depth.encode_depth(out.depth))
    assert np.abs(back - out.depth)[out.mask].max() <= 0.0005 + 2e-6
    assert np.array_equal(back == 0, out.depth == 0)
    hit = np.linalg.norm(out.normals, axis=-1) > 0
    n8 = normals.decode_normals(normals.encode_normals(out.normals))
    assert _angles_deg(n8[hit].astype(np.float64), out.normals[hit].astype(np.float64)).max() <= 0.64
    assert (n8[~hit] == 0).all()
    coded = video.encode_video(out.rgb)
    assert coded.data.tobytes() == video.encode_video(out.rgb).data.tobytes()
    full = video.decode_all(coded)
    assert np.array_equal(
        video.decode_window(coded.data, coded.offsets, coded.pts, coded.keyframe, "h264", 3, 10), full[3:10]
    )
