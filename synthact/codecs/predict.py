"""Integer images <-> differences to their neighbours, folded to small unsigned values.

Why: deflate sees bytes. A smooth depth or normal map stored as its values
spreads each pixel over many byte values; stored as the difference to the
pixel above (or the planar prediction, above + left - above-left), the
surfaces turn into small numbers, and a flat row turns into a run.
After HDF5's shuffle the high bytes of small uint16 differences are all
zero, so deflate spends its bits on the low bytes only.

The arithmetic wraps (modulo 2**16 for uint16, 2**8 for uint8): every
stored array decodes exactly, whatever the jumps at silhouettes. A
difference ``r`` is stored as ``zigzag(r) = 2r`` for ``r >= 0`` and
``-2r - 1`` below, so -1, 1, -2 become 1, 2, 3 and a small negative number
does not fill its high byte with ones. What has no neighbour to predict
from (row 0, for differences down the rows) is stored as it is, so a
dump of the dataset shows real codes there.

Decoding is one cumulative sum per differenced axis (in the codes' own
unsigned type, so it wraps back), which numpy and any array library do
without a per-pixel loop.
"""

from __future__ import annotations

import numpy as np

_SIGNED = {np.dtype(np.uint8): np.int8, np.dtype(np.uint16): np.int16}
_CONTIGUOUS_ROW = 64  # elements after the axis: below this, a per-row add costs more than it saves


def _signed(dtype: np.dtype) -> type:
    if dtype not in _SIGNED:
        raise ValueError(f"differences need uint8 or uint16 codes, got {dtype}")
    return _SIGNED[dtype]


def _zigzag(r: np.ndarray, dtype: np.dtype) -> np.ndarray:
    s: np.ndarray = r.astype(_signed(dtype))
    bits = 8 * dtype.itemsize - 1
    return ((s << 1) ^ (s >> bits)).view(dtype)


def _unzigzag(z: np.ndarray) -> np.ndarray:
    return (z >> 1) ^ (z.dtype.type(0) - (z & 1))


def _first(ndim: int, axes: tuple[int, ...]) -> tuple[slice | int, ...]:
    """Index of the elements first along every differenced axis: their prediction is 0."""
    index: list[slice | int] = [slice(None)] * ndim
    for axis in axes:
        index[axis] = 0
    return tuple(index)


def to_differences(codes: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """Unsigned codes -> zigzag of their differences along ``axes`` in turn.

    The elements first along every axis have nothing to predict from and
    are stored as they are (with ``axes=(-2,)``, row 0 holds the codes).

    ``axes=(-2,)`` on (..., H, W) stores each row's difference to the row
    above; ``(-2, -1)`` then takes those differences' differences along the
    row: the planar predictor ``above + left - above_left``.
    """
    codes = np.asarray(codes)
    dtype = codes.dtype
    _signed(dtype)
    r = codes.astype(np.int32)
    for axis in axes:
        r = np.diff(r, axis=axis, prepend=np.zeros_like(np.take(r, [0], axis=axis)))
    stored = _zigzag(r, dtype)
    first = _first(codes.ndim, axes)
    stored[first] = codes[first]
    return stored


def from_differences(stored: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """Inverse of ``to_differences``: cumulative sums along ``axes`` in reverse order, wrapping."""
    stored = np.asarray(stored)
    _signed(stored.dtype)
    r = _unzigzag(stored)
    first = _first(stored.ndim, axes)
    r[first] = stored[first]
    for axis in reversed(axes):
        _running_sum(r, axis)
    return r


def _running_sum(r: np.ndarray, axis: int) -> None:
    """``r`` <- its cumulative sum along ``axis``, in place, wrapping in its own type.

    Down the rows of an image, one vectorised add per row is about twice as
    fast as ``np.cumsum`` (a 16-frame 320x240 depth window: 2 ms against 3.7),
    as each row is a contiguous block; along a row, whose elements are a
    few bytes apart, ``np.cumsum`` is.
    """
    if int(np.prod(r.shape[axis:][1:])) < _CONTIGUOUS_ROW:
        np.cumsum(r, axis=axis, dtype=r.dtype, out=r)
        return
    rows = np.moveaxis(r, axis, 0)
    for i in range(1, len(rows)):
        np.add(rows[i - 1], rows[i], out=rows[i])
