"""Unit normals <-> octahedral codes, two unsigned integers per pixel.

Why octahedral: it maps the whole sphere onto a square with nearly uniform
cells, so two numbers carry a direction with a bounded angular error and no
wasted codes (three float16s spend 6 bytes and most of their bits on values
that are never used, like lengths other than 1). The camera-frame normals
of a render can point anywhere (backfaces at silhouettes, interpolated
shading normals), so both hemispheres are kept.

Quantisation: each component u, v in [-1, 1] maps to ``1 .. 2**bits - 1``
(an odd number of levels, so 0.0 is exact), and the pair (0, 0), which no
direction uses, means "no surface". At 8 bits, encoding tries the four
neighbouring codes of every vector and keeps the one that decodes closest
to it ("precise" octahedral encoding), which cuts the worst error of plain
rounding from 0.951 to 0.633 deg (mean 0.315). 16 bits round: 0.0037 deg.
Worst cases over 2 million random directions, checked by
``tests/test_codecs.py`` against ``MAX_ERROR_DEG``.

How a shard stores the codes (``ENCODING``, v2; shards of ``ENCODING_V1``
hold the octahedral codes of the normals themselves and still decode):

- the codes of ``(x, y, -z)``: a surface seen by the camera faces it
  (``z < 0`` in the OpenCV frame), which v1 folds onto the square's four
  corners, one direction split over four far-apart codes; flipped, it lands
  in the square's centre, where neighbouring normals get neighbouring codes;
- stored as their planar prediction residuals (``codecs.predict``, above +
  left - above-left), which deflate with zlib's run-length strategy codes in
  28 % fewer bytes than v1 on a 320x240 render. The angle is unchanged.
"""

from __future__ import annotations

import numpy as np

from synthact.codecs.predict import from_differences, to_differences

ENCODING_V1 = "synthact-normals-octahedral-v1"  # the codes of the normals (shards before v2)
ENCODING = "synthact-normals-octahedral-v2"  # the codes of (x, y, -z), planar residuals
ENCODINGS = (ENCODING_V1, ENCODING)
PLANAR_AXES = (-3, -2)  # (..., H, W, 2): down the rows, then along them
DTYPES = {8: np.uint8, 16: np.uint16}
MAX_ERROR_DEG = {8: 0.64, 16: 0.004}  # the bounds the tests check
MAX_ERROR_ROUNDED_DEG = {8: 0.96, 16: 0.004}  # with precise=False


def _oct_fold(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors (as component arrays; numpy is slow on short last axes) -> (u, v) in [-1, 1]."""
    s = np.abs(x) + np.abs(y) + np.abs(z)
    u, v = x / s, y / s
    lower = z < 0
    fu = np.where(lower, (1 - np.abs(v)) * np.copysign(1, u), u)
    fv = np.where(lower, (1 - np.abs(u)) * np.copysign(1, v), v)
    return fu.astype(x.dtype), fv.astype(x.dtype)


def _oct_unfold(u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(u, v) in [-1, 1] -> unit vector components."""
    z = 1 - np.abs(u) - np.abs(v)
    t = np.maximum(-z, 0)
    x = u - np.copysign(t, u)
    y = v - np.copysign(t, v)
    inv = 1 / np.sqrt(x * x + y * y + z * z)
    return x * inv, y * inv, z * inv


def _levels(bits: int) -> int:
    if bits not in DTYPES:
        raise ValueError(f"normals: bits must be 8 or 16, got {bits}")
    return (1 << bits) - 2  # steps between code 1 (-1.0) and 2**bits - 1 (+1.0)


def encode_normals(normals: np.ndarray, bits: int = 8, precise: bool = True) -> np.ndarray:
    """(..., 3) float normals -> (..., 2) uint codes; zero vectors -> (0, 0).

    Non-zero inputs need not be exactly unit length (they are normalised).
    Works in float32 on the surface pixels only: this runs once per frame
    in the render loop.

    Args:
        bits: 8 or 16 per component.
        precise: At 8 bits, search the four neighbouring codes for the
            closest (``MAX_ERROR_DEG``); False rounds each component, 2x
            faster, with the larger ``MAX_ERROR_ROUNDED_DEG``. 16 bits always
            round (float32 cannot rank neighbours that close).
    """
    steps = _levels(bits)
    n = np.asarray(normals, dtype=np.float32)
    if n.shape[-1:] != (3,):
        raise ValueError(f"normals must be (..., 3), got {n.shape}")
    x, y, z = (np.ascontiguousarray(n[..., i]).ravel() for i in range(3))
    length = np.sqrt(x * x + y * y + z * z)
    hit = length > 1e-6
    x, y, z = x[hit] / length[hit], y[hit] / length[hit], z[hit] / length[hit]
    half = np.float32(steps / 2.0)
    fu, fv = _oct_fold(x, y, z)
    codes = np.zeros((len(hit), 2), DTYPES[bits])
    if not precise or bits == 16:  # at 16 bits float32 cannot rank the neighbours: rounding is best
        codes[hit, 0] = np.rint((fu + 1) * half) + 1
        codes[hit, 1] = np.rint((fv + 1) * half) + 1
        return codes.reshape(*n.shape[:-1], 2)
    bu = np.clip(np.floor((fu + 1) * half), 0, steps - 1)
    bv = np.clip(np.floor((fv + 1) * half), 0, steps - 1)
    best_u, best_v, best_dot = bu, bv, np.full(len(x), -np.inf, np.float32)
    for du, dv in ((0, 0), (0, 1), (1, 0), (1, 1)):
        cu, cv = bu + du, bv + dv
        cx, cy, cz = _oct_unfold(cu / half - 1, cv / half - 1)
        dot = cx * x + cy * y + cz * z
        better = dot > best_dot
        best_u, best_v = np.where(better, cu, best_u), np.where(better, cv, best_v)
        best_dot = np.maximum(dot, best_dot)
    codes[hit, 0], codes[hit, 1] = best_u + 1, best_v + 1
    return codes.reshape(*n.shape[:-1], 2)


def decode_normals(codes: np.ndarray) -> np.ndarray:
    """(..., 2) uint8 / uint16 codes -> (..., 3) float32 unit normals, 0 where (0, 0)."""
    codes = np.asarray(codes)
    bits = {np.dtype(np.uint8): 8, np.dtype(np.uint16): 16}.get(codes.dtype)
    if bits is None or codes.shape[-1:] != (2,):
        raise ValueError(f"normal codes must be (..., 2) uint8 or uint16, got {codes.shape} {codes.dtype}")
    half = np.float32(_levels(bits) / 2.0)
    cu, cv = codes[..., 0].astype(np.float32), codes[..., 1].astype(np.float32)
    x, y, z = _oct_unfold((cu - 1) / half - 1, (cv - 1) / half - 1)
    out = np.stack([x, y, z], axis=-1)
    out[(cu == 0) & (cv == 0)] = 0.0
    return out


def _facing(n: np.ndarray) -> np.ndarray:
    """(x, y, z) -> (x, y, -z); its own inverse; 0 stays +0."""
    out = np.array(n, dtype=np.float32, copy=True)
    out[..., 2] = 0.0 - out[..., 2]
    return out


def encode_stored(normals: np.ndarray, bits: int = 8) -> np.ndarray:
    """(..., H, W, 3) unit normals -> the (..., H, W, 2) codes a shard stores (``ENCODING``)."""
    return to_differences(encode_normals(_facing(normals), bits), PLANAR_AXES)


def stored_codes(stored: np.ndarray, encoding: str) -> np.ndarray:
    """The octahedral codes of a stored (..., H, W, 2) array (of ``(x, y, -z)`` for v2)."""
    if encoding == ENCODING_V1:
        return np.asarray(stored)
    if encoding == ENCODING:
        return from_differences(stored, PLANAR_AXES)
    raise ValueError(f"normals encoding {encoding!r}: this version reads {ENCODINGS}")


def decode_stored(stored: np.ndarray, encoding: str) -> np.ndarray:
    """(..., H, W, 3) float32 unit normals of a stored array, by its dataset's ``encoding`` attribute."""
    normals = decode_normals(stored_codes(stored, encoding))
    if encoding == ENCODING:
        z = normals[..., 2]
        np.negative(z, out=z, where=z != 0)  # in place, and no surface stays +0
    return normals


def normals_attrs(bits: int, precise: bool = True, encoding: str = ENCODING) -> dict[str, object]:
    """Attributes for the stored dataset: enough to decode without this module."""
    if encoding not in ENCODINGS:
        raise ValueError(f"normals encoding {encoding!r}: expected one of {ENCODINGS}")
    attrs: dict[str, object] = {
        "encoding": encoding,
        "bits": bits,
        "max_error_deg": (MAX_ERROR_DEG if precise else MAX_ERROR_ROUNDED_DEG)[bits],
        "decode": "p = (code - 1) * 2 / (2**bits - 2) - 1; z = 1 - |px| - |py|; "
        "if z < 0: (px, py) = (1 - |py|, 1 - |px|) * sign(px, py); normalise (px, py, z); "
        "code (0, 0) = no surface",
    }
    if encoding == ENCODING:
        attrs.update(
            stored="element (0, 0): the codes; elsewhere the zigzag ((r << 1) ^ (r >> bits-1)) of each code "
            "minus above - above_left + left (0 outside the image), modulo 2**bits; codes = cumulative sum "
            "down the rows, then along them, modulo 2**bits, of (s >> 1) ^ -(s & 1) (element (0, 0) as stored)",
            flipped="the codes are of (x, y, -z): negate z after decoding",
        )
    return attrs
