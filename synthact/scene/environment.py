"""The world around the person, without Blender: which HDRIs, where their light comes from.

HDRIs come from the CC0 set bundled with bpy (named by file stem, e.g.
``"forest"``), or from the user's folder ``randomize.hdri_dir`` (named by file
name, e.g. ``"hall_8k.exr"``): every ``.exr`` and ``.hdr`` directly in it, at
any resolution. A take draws one of them, and its appearance names it.

The key light follows the sky. ``key_light`` finds the brightest direction
of the HDRI's upper half (its sun, or the brightest part of an overcast sky),
so the sun lamp that casts the person's shadow shines from where the
background says the light is.

Directions use Blender's equirectangular convention: a pixel column ``u``
(0..1, left to right) looks along azimuth ``pi (1 - 2 u)`` about world Z
(azimuth 0 along +X, counter-clockwise), and a row ``v`` (0 at the top of
the file) along elevation ``pi (1/2 - v)``. Turning the HDRI by ``r`` degrees
about Z (``hdri_rotation_deg``) moves what it shows to azimuth minus ``r``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from synthact import atomic
from synthact.scene.asset_folders import list_asset_folder

HDRI_SUFFIXES = (".exr", ".hdr")
_KEY_GRID = (32, 64)  # the HDRI is averaged down to this many rows and columns first


@dataclass(frozen=True)
class KeyLight:
    """Where an HDRI's light comes from, in its own frame (before any turn).

    Attributes:
        azimuth_deg: Direction about Z the light comes from (0: +X, counter-clockwise).
        elevation_deg: Height above the horizon, degrees.
        share: The brightest cell's fraction of the upper half's radiance (about
            0.003 for an even sky, near 1 for a clear sun).
    """

    azimuth_deg: float
    elevation_deg: float
    share: float


class HdriSet:
    """The HDRIs a run draws from: their names, files and key lights (each read once, when first asked)."""

    def __init__(self, folder: str | Path, names: list[str], bundled: bool):
        """HDRIs ``names`` in ``folder``: bundled ones are named by stem, the user's by file name."""
        self.folder = Path(folder)
        self.names = sorted(names)
        self.bundled = bundled
        self._key_lights: dict[str, KeyLight] = {}

    @classmethod
    def from_config(cls, randomize: Mapping[str, Any], bundled_dir: Path, bundled_names: list[str]) -> HdriSet:
        """The user's ``randomize.hdri_dir`` when set, else the bundled HDRIs (``bundled_names``)."""
        folder = str(randomize.get("hdri_dir", "") or "")
        if folder:
            return cls(folder, list_hdris(folder), bundled=False)
        return cls(bundled_dir, bundled_names, bundled=True)

    def path(self, name: str) -> Path:
        """The file of HDRI ``name``."""
        return self.folder / (f"{name}.exr" if self.bundled else name)

    def key_light(self, name: str) -> KeyLight:
        """HDRI ``name``'s brightest direction (``key_light``), read from its file on first use."""
        if name not in self._key_lights:
            self._key_lights[name] = key_light(read_radiance(self.path(name)))
        return self._key_lights[name]


def list_hdris(folder: str | Path) -> list[str]:
    """File names of the ``.exr`` / ``.hdr`` HDRIs directly in ``folder``, sorted.

    Raises:
        FileNotFoundError: Not a folder, or it holds no HDRI; the message names the key.
    """
    return list_asset_folder(folder, "randomize.hdri_dir", HDRI_SUFFIXES, "environment maps")


def key_light(radiance: np.ndarray) -> KeyLight:
    """The brightest direction of an equirectangular HDRI's upper half.

    Args:
        radiance: (H, W, 3+) linear radiance, row 0 at the top (as stored in the file).

    Returns:
        The direction of the brightest cell after averaging to a 32 x 64 grid
        (so a sun a few pixels wide and a bright overcast region both count),
        each cell weighted by its solid angle.
    """
    image = np.asarray(radiance, np.float64)[..., :3]
    luminance = image @ np.array([0.2126, 0.7152, 0.0722])
    rows, cols = _KEY_GRID
    grid = _block_mean(luminance, rows, cols)
    upper = grid[: rows // 2]
    elevation = (0.5 - (np.arange(rows // 2) + 0.5) / rows) * math.pi
    power = upper * np.cos(elevation)[:, None]
    r, c = np.unravel_index(int(np.argmax(power)), power.shape)
    total = float(power.sum())
    return KeyLight(
        azimuth_deg=round(math.degrees(math.pi * (1.0 - 2.0 * (c + 0.5) / cols)) % 360.0, 3),
        elevation_deg=round(math.degrees(elevation[r]), 3),
        share=round(float(power[r, c]) / total, 6) if total > 0 else 0.0,
    )


def turned(light: KeyLight, rotation_deg: float) -> tuple[float, float]:
    """(azimuth, elevation) in degrees of ``light`` once its HDRI is turned by ``rotation_deg``."""
    return round((light.azimuth_deg - rotation_deg) % 360.0, 3), light.elevation_deg


def sun_azimuth_for(light_azimuth_deg: float) -> float:
    """The scene's ``sun_azimuth_deg`` that makes the sun lamp shine from ``light_azimuth_deg``.

    The lamp is tilted about X, then turned about Z (``blender._apply_appearance``):
    untilted it shines towards +Y, i.e. from azimuth -90 degrees.
    """
    return round((light_azimuth_deg + 90.0) % 360.0, 3)


def _block_mean(image: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Mean of ``image`` over a rows x cols grid of near-equal blocks (any size, even smaller)."""
    h, w = image.shape
    r_edges = np.linspace(0, h, rows + 1)
    c_edges = np.linspace(0, w, cols + 1)
    r_idx = np.minimum((np.arange(h) + 0.5) // (h / rows), rows - 1).astype(int) if h >= rows else None
    c_idx = np.minimum((np.arange(w) + 0.5) // (w / cols), cols - 1).astype(int) if w >= cols else None
    if r_idx is None or c_idx is None:  # a map smaller than the grid: nearest pixel per cell
        rr = np.minimum(((r_edges[:-1] + r_edges[1:]) / 2).astype(int), h - 1)
        cc = np.minimum(((c_edges[:-1] + c_edges[1:]) / 2).astype(int), w - 1)
        return image[np.ix_(rr, cc)]
    sums = np.zeros((rows, cols))
    np.add.at(sums, (r_idx[:, None], c_idx[None, :]), image)
    counts = np.bincount(r_idx, minlength=rows)[:, None] * np.bincount(c_idx, minlength=cols)[None, :]
    return sums / counts


def read_radiance(path: str | Path) -> np.ndarray:
    """(H, W, 3) float32 linear radiance of an ``.exr`` or ``.hdr`` HDRI, row 0 at the top.

    Raises:
        ValueError: Neither a readable EXR nor a Radiance RGBE file; the message names the file.
    """
    path = Path(path)
    try:
        return _read_exr(path) if path.suffix.lower() == ".exr" else _read_rgbe(path.read_bytes())
    except (OSError, ValueError, IndexError, KeyError) as err:
        raise ValueError(f"randomize.hdri_dir: {path} is not a readable {path.suffix} environment map ({err})") from err


def _read_exr(path: Path) -> np.ndarray:
    import OpenEXR  # here, so that the scene package imports without it

    with OpenEXR.File(str(path), separate_channels=True) as exr:
        channels = exr.parts[0].channels
        names = {name.rpartition(".")[2]: name for name in channels}
        if "R" in names:
            return np.stack([channels[names[c]].pixels for c in "RGB"], axis=-1).astype(np.float32)
        if "Y" in names:  # a luminance-only map
            return np.repeat(channels[names["Y"]].pixels[..., None], 3, axis=-1).astype(np.float32)
        raise KeyError(f"no R, G, B or Y channel among {sorted(names)}")


def _read_rgbe(data: bytes) -> np.ndarray:
    """A Radiance picture: flat or new-style run-length-encoded scanlines, -Y H +X W order."""
    header_end = data.index(b"\n\n") + 2
    if not data.startswith((b"#?RADIANCE", b"#?RGBE")):
        raise ValueError("no #?RADIANCE header")
    line_end = data.index(b"\n", header_end)
    size = data[header_end:line_end].split()
    if len(size) != 4 or size[0] != b"-Y" or size[2] != b"+X":
        raise ValueError(f"unsupported orientation {data[header_end:line_end]!r}")
    height, width = int(size[1]), int(size[3])
    body = np.frombuffer(data, np.uint8, offset=line_end + 1)
    rgbe = np.empty((height, width, 4), np.uint8)
    pos = 0
    for row in range(height):
        head = body[pos : pos + 4]
        if 8 <= width < 0x8000 and head[0] == 2 and head[1] == 2 and (int(head[2]) << 8 | int(head[3])) == width:
            pos = _rle_scanline(body, pos + 4, rgbe[row])
        else:
            rgbe[row] = body[pos : pos + 4 * width].reshape(width, 4)
            pos += 4 * width
    exponent = np.where(rgbe[..., 3] > 0, np.ldexp(1.0, rgbe[..., 3].astype(np.int32) - 136), 0.0)
    return (rgbe[..., :3] * exponent[..., None]).astype(np.float32)


def _rle_scanline(body: np.ndarray, pos: int, out: np.ndarray) -> int:
    """Decode one run-length-encoded scanline (each channel in turn) into ``out`` (W, 4)."""
    width = len(out)
    for channel in range(4):
        x = 0
        while x < width:
            count = int(body[pos])
            pos += 1
            if count > 128:  # a run of one value
                count -= 128
                out[x : x + count, channel] = body[pos]
                pos += 1
            else:
                out[x : x + count, channel] = body[pos : pos + count]
                pos += count
            x += count
    return pos


def write_rgbe(path: str | Path, radiance: np.ndarray) -> None:
    """Write (H, W, 3) linear radiance as a flat Radiance ``.hdr`` file (for tests and tools)."""
    image = np.asarray(radiance, np.float64)[..., :3]
    peak = image.max(axis=-1)
    mantissa, exponent = np.frexp(peak)
    scale = np.where(peak > 1e-32, mantissa * 256.0 / np.where(peak > 0, peak, 1.0), 0.0)
    rgbe = np.zeros((*image.shape[:2], 4), np.uint8)
    rgbe[..., :3] = np.clip(image * scale[..., None], 0, 255).astype(np.uint8)
    rgbe[..., 3] = np.where(peak > 1e-32, exponent + 128, 0).astype(np.uint8)
    header = f"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y {image.shape[0]} +X {image.shape[1]}\n".encode()
    atomic.write_bytes(path, header + rgbe.tobytes())
