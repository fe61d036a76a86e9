"""Depth and normals as shards store them since v2: depth quantised to what each pixel
needs and its rows differenced, normals as planar residuals of the codes of (x, y, -z),
both deflated with zlib's run-length strategy; and shards of v1 (the codes themselves)
still read.

Real HDF5 files (h5py's own gzip filter inflates what ``compress_chunk`` wrote) and,
in the slow test, a real Blender render.
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from synthact.codecs import depth, normals, predict, storage
from synthact.codecs.chunks import compress_chunk, decompress_chunk
from synthact.consume.reader import ShardReader
from synthact.shard_format import FORMAT_VERSION, TAKE_IDS, VIEWS_ATTRIBUTE

T, H, W = 6, 40, 56


def scene_depth(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(T, H, W) metres and person mask shaped like a render: sky, a ground plane
    reaching past 60 m, a rounded body at 3-4 m, and sensor-like jitter on it."""
    rng = np.random.default_rng(seed)
    v, u = np.mgrid[0:H, 0:W].astype(np.float64)
    horizon = H * 0.3
    ground = np.where(v > horizon, 1.6 * 40 / np.maximum(v - horizon, 1e-3), 0.0)
    ground = np.minimum(ground, 900.0)
    frames, masks = [], []
    for t in range(T):
        cx = W * (0.3 + 0.4 * t / T)
        r2 = ((u - cx) / (W * 0.12)) ** 2 + ((v - H * 0.55) / (H * 0.35)) ** 2
        person = r2 < 1
        body = 3.0 + 0.4 * t / T - 0.25 * np.sqrt(np.clip(1 - r2, 0, 1)) + rng.normal(0, 0.002, r2.shape)
        frames.append(np.where(person, body, ground))
        masks.append(person)
    return np.stack(frames).astype(np.float32), np.stack(masks)


# --- the difference transform ---------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("axes", [(-2,), (-3, -2), (-2, -1)])
def test_differences_round_trip_every_value(dtype: type, axes: tuple[int, ...]) -> None:
    top = np.iinfo(dtype).max
    codes = np.random.default_rng(1).integers(0, top + 1, (3, 9, 7, 2)).astype(dtype)
    codes[0, 0, 0] = top  # jumps across the whole range wrap and come back
    stored = predict.to_differences(codes, axes)
    assert stored.dtype == np.dtype(dtype) and stored.shape == codes.shape
    np.testing.assert_array_equal(predict.from_differences(stored, axes), codes)


def test_differences_are_small_on_smooth_rows_and_row_0_is_kept() -> None:
    codes = (3000 + 7 * np.arange(5)[:, None] + np.zeros((5, 4), int)).astype(np.uint16)
    codes[3, 1] -= 2
    stored = predict.to_differences(codes, (-2,))
    np.testing.assert_array_equal(stored[0], codes[0])  # what has no row above is stored as it is
    assert set(np.unique(stored[1:])) == {14, 18, 10}  # zigzag: +7 -> 14, +9 -> 18, +5 -> 10
    with pytest.raises(ValueError, match="uint8 or uint16"):
        predict.to_differences(codes.astype(np.int32), (-2,))


# --- depth v2 -------------------------------------------------------------------------


def test_depth_keeps_1_mm_on_the_person_and_the_stated_bound_elsewhere() -> None:
    metres, mask = scene_depth()
    assert (metres > depth.LINEAR_MAX_M).any() and (metres == 0).any() and mask.any()
    stored = depth.encode_stored(metres, mask)
    back = depth.decode_stored(stored, depth.ENCODING).astype(np.float64)
    err = np.abs(back - metres)
    assert err[mask].max() <= depth.MAX_PERSON_ERROR_M + 1e-6
    assert 0.8 * depth.MAX_PERSON_ERROR_M < err[mask].max()  # the step really is 2 mm
    assert (err <= depth.max_error_m(metres, mask) + 1e-6).all()
    assert np.array_equal(back == 0, metres == 0)  # no surface stays no surface
    codes = depth.stored_codes(stored, depth.ENCODING)
    assert (codes[mask] % depth.PERSON_STEP_MM == 0).all()
    far = metres > depth.LINEAR_MAX_M + depth.MAX_LINEAR_ERROR_M
    np.testing.assert_array_equal(codes[far], depth.encode_depth(metres)[far])  # the far band as in v1


def test_background_bound_holds_over_the_millimetre_band() -> None:
    d = np.geomspace(0.0005, 60.0, 300_000).reshape(300, 1000)
    mask = np.zeros(d.shape, bool)
    back = depth.decode_stored(depth.encode_stored(d, mask), depth.ENCODING).astype(np.float64)
    assert (np.abs(back - d) <= depth.MAX_BACKGROUND_RELATIVE_ERROR * d + depth.MAX_LINEAR_ERROR_M + 2e-6).all()
    assert (back > 0).all()  # a surface stays a surface


def test_stored_depth_is_smaller_than_the_codes() -> None:
    metres, mask = scene_depth()
    codes = depth.encode_depth(metres)
    stored = depth.encode_stored(metres, mask)
    before = sum(len(compress_chunk(c, "gzip", 4)) for c in codes)
    after = sum(len(compress_chunk(s, "gzip", 4, runs=True)) for s in stored)
    assert after < 0.9 * before  # a render saves more (benchmarks/read_speed.py): this body is noisier


def test_old_and_unknown_encodings() -> None:
    metres, mask = scene_depth()
    codes = depth.encode_depth(metres)
    np.testing.assert_array_equal(depth.decode_stored(codes, depth.ENCODING_V1), depth.decode_depth(codes))
    with pytest.raises(ValueError, match=r"synthact-depth-mm-log-v9.*reads"):
        depth.decode_stored(codes, "synthact-depth-mm-log-v9")
    with pytest.raises(ValueError, match="expected one of"):
        depth.depth_attrs("synthact-depth-mm-log-v9")
    with pytest.raises(ValueError, match="differ in shape"):
        depth.encode_stored(metres, mask[0])


def test_v2_decodes_from_its_attributes_alone() -> None:
    """What a reader in another language does with docs/FORMAT.md: undo the zigzag, sum down the rows."""
    metres, mask = scene_depth()
    stored = depth.encode_stored(metres, mask)
    attrs = depth.depth_attrs(depth.ENCODING)
    assert attrs["encoding"] == depth.ENCODING and "cumulative sum" in str(attrs["stored"])
    s = stored.astype(np.int64)
    r = (s >> 1) ^ -(s & 1)
    r[:, 0] = s[:, 0]
    codes = np.cumsum(r, axis=1) % 65536
    linear = codes <= attrs["linear_max_code"]
    far = attrs["linear_max_m"] * attrs["far_ratio"] ** (codes - attrs["linear_max_code"])
    np.testing.assert_allclose(np.where(linear, codes / 1000.0, far), depth.decode_stored(stored, depth.ENCODING), 1e-6)


# --- normals v2 -----------------------------------------------------------------------


def _angles_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = a.astype(np.float64), b.astype(np.float64)
    return np.degrees(np.arctan2(np.linalg.norm(np.cross(a, b), axis=-1), np.sum(a * b, axis=-1)))


def scene_normals(seed: int = 0) -> np.ndarray:
    """(T, H, W, 3): a bulging body facing the camera, a flat ground, no surface (sky) above."""
    metres, mask = scene_depth(seed)
    v, u = np.mgrid[0:H, 0:W].astype(np.float64)
    n = np.zeros((T, H, W, 3))
    n[metres > 0] = (0.0, -0.9, -0.2)  # the ground, seen from above
    for t in range(T):
        bulge = np.stack([(u - W * (0.3 + 0.4 * t / T)) / W, (v - H * 0.55) / H, -np.ones_like(u)], -1)
        n[t][mask[t]] = bulge[mask[t]]
    n[:, 0, 0] = (0.0, 0.0, 1.0)  # a back face in the corner that has no neighbour
    return (n / np.maximum(np.linalg.norm(n, axis=-1, keepdims=True), 1e-12)).astype(np.float32)


@pytest.mark.parametrize("bits", [8, 16])
def test_normals_v2_keep_the_stated_angle_and_no_surface(bits: int) -> None:
    n = scene_normals()
    stored = normals.encode_stored(n, bits)
    assert stored.dtype == normals.DTYPES[bits] and stored.shape == (T, H, W, 2)
    back = normals.decode_stored(stored, normals.ENCODING)
    hit = np.linalg.norm(n, axis=-1) > 0
    assert _angles_deg(back[hit], n[hit]).max() <= normals.MAX_ERROR_DEG[bits]
    assert (back[~hit] == 0).all() and not np.signbit(back[~hit]).any()
    flipped = n * np.array([1, 1, -1], np.float32)
    np.testing.assert_array_equal(normals.stored_codes(stored, normals.ENCODING), normals.encode_normals(flipped, bits))


def test_normals_v2_are_smaller_and_v1_still_decodes() -> None:
    n = scene_normals()
    codes = normals.encode_normals(n)
    np.testing.assert_array_equal(normals.decode_stored(codes, normals.ENCODING_V1), normals.decode_normals(codes))
    before = sum(len(compress_chunk(c, "gzip", 4)) for c in codes)
    after = sum(len(compress_chunk(s, "gzip", 4, runs=True)) for s in normals.encode_stored(n))
    assert after < 0.8 * before
    with pytest.raises(ValueError, match="this version reads"):
        normals.decode_stored(codes, "synthact-normals-octahedral-v9")
    assert normals.normals_attrs(8, encoding=normals.ENCODING_V1)["encoding"] == normals.ENCODING_V1
    assert "negate z" in str(normals.normals_attrs(8)["flipped"])


# --- in an HDF5 file --------------------------------------------------------------------


def _write_shard(path: Path, chunks: list[bytes], encoding: str) -> None:
    """A one-take, one-view file in the shard layout whose depth chunks are copied in, as the merge does."""
    with h5py.File(path, "w") as f:
        f.attrs.update(format="synthact-shard", format_version=FORMAT_VERSION)
        f.attrs[VIEWS_ATTRIBUTE.name] = json.dumps(["front"])
        f.create_dataset(TAKE_IDS, data=np.array(["t0"], dtype=h5py.string_dtype()))
        f["takes/t0/frames"] = np.arange(T)
        view = f.create_group("takes/t0/views/front")
        dset = view.create_dataset(
            "depth", shape=(T, H, W), dtype=np.uint16, **storage.image_options((T, H, W), np.uint16, "gzip")
        )
        for i, chunk in enumerate(chunks):
            dset.id.write_direct_chunk((i, 0, 0), chunk)
        dset.attrs.update(depth.depth_attrs(encoding))


@pytest.mark.parametrize("encoding", depth.ENCODINGS)
def test_the_reader_decodes_both_encodings_from_hdf5(tmp_path: Path, encoding: str) -> None:
    metres, mask = scene_depth()
    if encoding == depth.ENCODING:
        arrays = depth.encode_stored(metres, mask)
        chunks = [compress_chunk(a, "gzip", 4, runs=True) for a in arrays]
    else:
        arrays = depth.encode_depth(metres)
        chunks = [compress_chunk(a, "gzip", 4) for a in arrays]
    path = tmp_path / "s.h5"
    _write_shard(path, chunks, encoding)
    with h5py.File(path, "r") as f:  # HDF5's own gzip filter inflates the run-length chunks
        np.testing.assert_array_equal(f["takes/t0/views/front/depth"][()], arrays)
    got = ShardReader(path).read("t0", "front", ["depth"], frames=slice(2, 5))["depth"]
    np.testing.assert_array_equal(got, depth.decode_stored(arrays[2:5], encoding))
    assert (np.abs(got - metres[2:5])[mask[2:5]] <= depth.MAX_PERSON_ERROR_M + 1e-6).all()
    np.testing.assert_array_equal(decompress_chunk(chunks[3], "gzip", np.uint16, (H, W)), arrays[3])


# --- on a real render -----------------------------------------------------------------


@pytest.fixture(scope="module")
def rendered():
    """One tiny Cycles render: the person and the far ground plane in view."""
    from synthact.render.blender import BlenderScene, available_hdris
    from synthact.render.renderer import RenderSettings
    from synthact.scene.appearance import sample_appearance
    from tests.fixtures.render_scene import make_camera, toy_body, walk

    verts, faces, parts = toy_body()
    cam = make_camera((0.0, -4.0, 1.2), (0.0, 0.0, 1.1), 70.0, 64, 48)
    with BlenderScene(RenderSettings(width=64, height=48, samples=2), faces, parts) as scene:
        return scene.render_clip(walk(verts, 6), cam, sample_appearance(3, available_hdris()), seed=1)


@pytest.mark.slow
def test_bounds_hold_on_a_real_render(rendered) -> None:
    out = rendered
    assert out.mask.any() and (out.depth > depth.LINEAR_MAX_M).any()
    stored = depth.encode_stored(out.depth, out.mask)
    back = depth.decode_stored(stored, depth.ENCODING)
    assert np.abs(back - out.depth)[out.mask].max() <= depth.MAX_PERSON_ERROR_M + 2e-6
    assert (np.abs(back - out.depth) <= depth.max_error_m(out.depth, out.mask) + 2e-6).all()
    assert np.array_equal(back == 0, out.depth == 0)
    hit = np.linalg.norm(out.normals, axis=-1) > 0
    back_n = normals.decode_stored(normals.encode_stored(out.normals), normals.ENCODING)
    assert _angles_deg(back_n[hit], out.normals[hit]).max() <= normals.MAX_ERROR_DEG[8]
    assert (back_n[~hit] == 0).all()
