"""Depth in metres <-> uint16 codes: exact to the millimetre where it matters.

Why not plain uint16 millimetres: that stops at 65.535 m, and the ground
plane of the outdoor scene reaches 131 m (the camera's far clip is 1000 m).
Why not uint32 millimetres: twice the raw size for pixels that are nowhere
near the person. So the 16-bit code space has two bands:

- code 0: no surface (sky), decodes to 0.0, as in ``RenderedClip.depth``;
- codes 1 .. 60000: ``code`` millimetres, i.e. 0.001 .. 60.000 m, rounded to
  the nearest millimetre (error <= 0.5 mm, the person is always in here);
- codes 60001 .. 65535: a geometric band from 60 m to ``FAR_MAX_M`` = 1000 m
  (the far clip), ``d = 60 m * RATIO ** (code - 60000)``; nearest code in log
  space, so the relative error is <= (RATIO - 1) / 2 = 0.0254 % (3.3 cm at
  131 m);
- depth > 1000 m cannot be rendered (far clip); it is clamped to code 65535.

Decoding is one table lookup (``depth_table()[codes]``), so a reader in any
language needs only the formula above; the shard stores it as attributes
(``depth_attrs(encoding)``).

How a shard stores the codes (``ENCODING``, v2; shards of ``ENCODING_V1``
hold the codes themselves and still decode):

- quantised for what each pixel needs: on the person mask in 2 mm steps
  (even codes: within 1 mm, the bound the dataset states); off the mask in
  the millimetre band on a geometric grid of ratio ``BACKGROUND_RATIO``
  (within 0.05 % + 0.5 mm: nothing finer is promised off the person, and the
  grid lets deflate find the background's runs); the far band as before;
- stored as each row's difference to the row above (``codecs.predict``),
  which turns the smooth body into small numbers and the ground, constant
  along a row, into one value per row.

Measured on a 320x240 demo render (``benchmarks/read_speed.py``): 5,962 bytes
per frame as plain codes, 3,678 stored this way.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from synthact.codecs.predict import from_differences, to_differences

ENCODING_V1 = "synthact-depth-mm-log-v1"  # the codes themselves (shards before v2)
ENCODING = "synthact-depth-mm-log-v2"  # quantised on and off the mask, rows differenced
ENCODINGS = (ENCODING_V1, ENCODING)
LINEAR_MAX_CODE = 60000  # last millimetre code: 60.000 m
FAR_MAX_M = 1000.0  # the renderer's camera clip_end
FAR_CODES = 65535 - LINEAR_MAX_CODE  # codes above LINEAR_MAX_CODE
LINEAR_MAX_M = LINEAR_MAX_CODE / 1000.0
RATIO = (FAR_MAX_M / LINEAR_MAX_M) ** (1.0 / FAR_CODES)
MAX_LINEAR_ERROR_M = 0.0005
MAX_FAR_RELATIVE_ERROR = (RATIO - 1.0) / 2.0
PERSON_STEP_MM = 2
MAX_PERSON_ERROR_M = PERSON_STEP_MM / 2000.0
BACKGROUND_RATIO = 1.001
MAX_BACKGROUND_RELATIVE_ERROR = float(np.sqrt(BACKGROUND_RATIO)) - 1.0  # then rounded to the millimetre
ROW_AXES = (-2,)  # (..., H, W): each row minus the row above


def encode_depth(depth_m: np.ndarray) -> np.ndarray:
    """uint16 codes of float depth in metres (0 = no surface stays 0).

    Raises:
        ValueError: on NaN, inf or negative depth (a renderer bug, not data).
    """
    d = np.asarray(depth_m, dtype=np.float64)
    if not np.isfinite(d).all() or (d < 0).any():
        raise ValueError("depth must be finite and >= 0 (0 = no surface)")
    codes = np.rint(d * 1000.0)
    far = d > LINEAR_MAX_M + MAX_LINEAR_ERROR_M
    if far.any():
        steps = np.rint(np.log(np.minimum(d[far], FAR_MAX_M) / LINEAR_MAX_M) / np.log(RATIO))
        codes[far] = LINEAR_MAX_CODE + np.maximum(steps, 0)  # step 0 = 60.000 m is nearest
    # A depth in (0, 0.5 mm) is a surface, not "no surface": keep it at 1 mm.
    codes[(d > 0) & (codes == 0)] = 1
    return codes.astype(np.uint16)


@lru_cache(maxsize=1)
def depth_table() -> np.ndarray:
    """(65536,) float32 metres of every code; read-only."""
    codes = np.arange(65536, dtype=np.float64)
    far = codes > LINEAR_MAX_CODE
    table = _millimetres(np.arange(65536, dtype=np.uint16))
    table[far] = (LINEAR_MAX_M * RATIO ** (codes[far] - LINEAR_MAX_CODE)).astype(np.float32)
    table.flags.writeable = False
    return table


def _millimetres(codes: np.ndarray) -> np.ndarray:
    """float32 ``codes / 1000``, correctly rounded (one IEEE division of exact values)."""
    return codes.astype(np.float32) / np.float32(1000.0)


def decode_depth(codes: np.ndarray) -> np.ndarray:
    """float32 metres of uint16 codes (0 = no surface); equal to ``depth_table()[codes]``.

    The millimetre band is one vectorised division, about 8x faster than the
    table lookup (numpy widens a uint16 index to int64 first); only the rare
    far pixels go through the table.
    """
    codes = np.asarray(codes)
    if codes.dtype != np.uint16:
        raise ValueError(f"depth codes must be uint16, got {codes.dtype}")
    depth = _millimetres(codes)
    far = codes > LINEAR_MAX_CODE
    if far.any():
        depth[far] = depth_table()[codes[far]]
    return depth


def quantise_codes(depth_m: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``encode_depth``'s codes, coarsened where nothing finer is needed: 2 mm steps on ``mask``
    (the person), a geometric grid of ratio ``BACKGROUND_RATIO`` off it, up to 60 m."""
    codes = encode_depth(depth_m)
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != codes.shape:
        raise ValueError(f"depth {codes.shape} and mask {mask.shape} differ in shape")
    d = np.asarray(depth_m, dtype=np.float64)
    near = (codes > 0) & (codes <= LINEAR_MAX_CODE)
    person, background = near & mask, near & ~mask
    steps = np.rint(d[person] * (1000.0 / PERSON_STEP_MM))
    codes[person] = np.clip(steps * PERSON_STEP_MM, PERSON_STEP_MM, LINEAR_MAX_CODE)
    log_step = np.log(BACKGROUND_RATIO)
    grid = np.exp(np.rint(np.log(d[background]) / log_step) * log_step)
    codes[background] = np.clip(np.rint(grid * 1000.0), 1, LINEAR_MAX_CODE)
    return codes


def max_error_m(depth_m: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The bound ``ENCODING`` keeps at each pixel, in metres, before float32 rounding (0 where no surface)."""
    d = np.asarray(depth_m, dtype=np.float64)
    bound = np.where(mask, MAX_PERSON_ERROR_M, MAX_BACKGROUND_RELATIVE_ERROR * d + MAX_LINEAR_ERROR_M)
    far = d > LINEAR_MAX_M + MAX_LINEAR_ERROR_M  # coded as in v1, on the mask or off it
    bound = np.where(far, MAX_FAR_RELATIVE_ERROR * d, bound)
    return np.where(d > 0, bound, 0.0)


def encode_stored(depth_m: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(..., H, W) float metres and person mask -> the uint16 array a shard stores (``ENCODING``)."""
    return to_differences(quantise_codes(depth_m, mask), ROW_AXES)


def stored_codes(stored: np.ndarray, encoding: str) -> np.ndarray:
    """The uint16 codes of a stored (..., H, W) array of either encoding."""
    if encoding == ENCODING_V1:
        return np.asarray(stored)
    if encoding == ENCODING:
        return from_differences(stored, ROW_AXES)
    raise ValueError(f"depth encoding {encoding!r}: this version reads {ENCODINGS}")


def decode_stored(stored: np.ndarray, encoding: str) -> np.ndarray:
    """float32 metres of a stored (..., H, W) array, by its dataset's ``encoding`` attribute."""
    return decode_depth(stored_codes(stored, encoding))


def depth_attrs(encoding: str) -> dict[str, object]:
    """Attributes for the stored dataset: enough to decode without this module."""
    attrs: dict[str, object] = {
        "encoding": encoding,
        "units": "code 0: no surface; 1..linear_max_code: millimetres; above: "
        "linear_max_m * far_ratio ** (code - linear_max_code) metres",
        "linear_max_code": LINEAR_MAX_CODE,
        "linear_max_m": LINEAR_MAX_M,
        "far_ratio": RATIO,
        "far_max_m": FAR_MAX_M,
    }
    if encoding == ENCODING:
        attrs.update(
            stored="row 0: the codes; below: zigzag of each code minus the code above it, modulo 2**16; "
            "codes = cumulative sum down the rows, modulo 2**16, of row 0 and (s >> 1) ^ -(s & 1) below",
            person_step_mm=PERSON_STEP_MM,
            background_ratio=BACKGROUND_RATIO,
        )
    elif encoding != ENCODING_V1:
        raise ValueError(f"depth encoding {encoding!r}: expected one of {ENCODINGS}")
    return attrs
