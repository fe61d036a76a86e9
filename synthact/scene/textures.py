"""Clothing textures in a UV layout: read UV files, list and draw textures, make our own.

A texture is one image that dresses the whole body (skin included), laid out
by a UV map of the body's topology, like SURREAL's textures in the SMPL UV
layout. The UV map comes from ``randomize.uv_file``: an OBJ whose faces
(``f v/vt ...``) are the body model's faces in its order, with ``vt``
coordinates (SMPL's own ``smpl_uv.obj`` is such a file), or an ``.npz`` with
``face_uv`` (F, 3, 2).

The licence-free demo body gets a layout of our own (``cylinder_uv_layout``):
a 4 x 4 atlas, one cell per body part, each part unrolled around its
principal axis. ``generate_textures`` paints procedural textures in that
layout - skin tones, woven fabric, stripes, plaid, dotted prints, shoes - so
the demo and the tests run the same textured code path as SURREAL textures.

A texture paints its own sleeve and leg length. What it paints is recorded
in the take's appearance when the folder says so: ``cuts.json`` beside the
images maps a name to ``{"long_sleeves": bool, "long_legs": bool}``
(``generate_textures`` writes it for its own); without it the appearance says
the cut is unknown rather than guess.

UV convention (Blender's, OBJ's): u right, v up, (0, 0) the bottom-left
corner of the image.
"""

from __future__ import annotations

import colorsys
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from synthact import atomic
from synthact.body.skeleton import PART_NAMES, face_parts
from synthact.scene.asset_folders import list_asset_folder

TEXTURE_SUFFIXES = (".jpg", ".jpeg", ".png")
CUTS_FILE = "cuts.json"  # beside the textures: {name: {"long_sleeves": bool, "long_legs": bool}}


@dataclass(frozen=True)
class TextureCut:
    """The sleeve and leg length a texture paints (a texture also paints the skin they leave bare)."""

    long_sleeves: bool
    long_legs: bool


GRID = 4  # demo atlas: GRID x GRID cells, part p in cell p - 1
_MARGIN = 0.05  # of a cell, on each side
_WRAP = 1.25  # cell width in units of one turn: room for faces across the seam

_SKIN_SRGB = (
    np.array(
        [
            (246, 221, 204),
            (232, 190, 160),
            (214, 164, 128),
            (186, 130, 94),
            (150, 98, 66),
            (112, 72, 48),
            (78, 50, 34),
            (52, 34, 26),
        ],
        float,
    )
    / 255
)


def list_textures(folder: str | Path) -> list[str]:
    """Names of the texture images directly in ``folder``, sorted (so draws do not depend on the OS)."""
    return list_asset_folder(folder, "randomize.textures_dir", TEXTURE_SUFFIXES, "images")


def draw_texture(rng: np.random.Generator, names: Sequence[str]) -> str:
    """One name from ``names`` (sorted first), uniformly."""
    ordered = sorted(names)
    return ordered[int(rng.integers(len(ordered)))]


# --- UV files --------------------------------------------------------------------------


def read_uv_file(path: str | Path, faces: np.ndarray) -> np.ndarray:
    """(F, 3, 2) float32 UVs per face corner, checked against the body's ``faces``.

    Raises:
        ValueError: The file's faces are not the body's (another topology or order).
    """
    path = Path(path)
    faces = np.asarray(faces)
    if path.suffix.lower() == ".npz":
        with np.load(path) as data:
            if "face_uv" not in data:
                raise ValueError(f"randomize.uv_file: {path} has no 'face_uv' array")
            face_uv = np.asarray(data["face_uv"], np.float32)
            if "faces" in data and not np.array_equal(data["faces"], faces):
                raise ValueError(f"randomize.uv_file: {path}: its faces are not the body model's")
    else:
        face_uv = _read_obj_uv(path, faces)
    if face_uv.shape != (len(faces), 3, 2):
        raise ValueError(f"randomize.uv_file: {path} has UVs for {face_uv.shape[0]} faces, the body has {len(faces)}")
    if not np.isfinite(face_uv).all():
        raise ValueError(f"randomize.uv_file: {path} holds NaN or inf UVs")
    return face_uv


def _read_obj_uv(path: Path, faces: np.ndarray) -> np.ndarray:
    vt: list[tuple[float, ...]] = []  # (u, v) of each line; a short line fails at the array below
    fv: list[list[int]] = []
    ft: list[list[int]] = []
    with open(path) as f:
        for number, line in enumerate(f, start=1):
            if line.startswith("vt "):
                vt.append(tuple(float(x) for x in line.split()[1:3]))
            elif line.startswith("f "):
                corners = [c.split("/") for c in line.split()[1:]]
                if len(corners) != 3 or any(len(c) < 2 or not c[1] for c in corners):
                    raise ValueError(f"randomize.uv_file: {path}:{number}: expected a triangle 'f v/vt v/vt v/vt'")
                fv.append([int(c[0]) - 1 for c in corners])
                ft.append([int(c[1]) - 1 for c in corners])
    if not np.array_equal(np.array(fv).reshape(-1, 3), faces):
        raise ValueError(f"randomize.uv_file: {path}: its faces are not the body model's (another topology or order)")
    return np.asarray(vt, np.float32)[np.array(ft)]


def write_uv_obj(path: str | Path, vertices: np.ndarray, faces: np.ndarray, face_uv: np.ndarray) -> None:
    """Write the mesh with its UVs as an OBJ (``f v/vt``), atomically."""
    path = Path(path)
    uv = np.asarray(face_uv, np.float64).reshape(-1, 2)
    lines = [f"v {x:.6f} {y:.6f} {z:.6f}" for x, y, z in np.asarray(vertices, np.float64)]
    lines += [f"vt {u:.6f} {v:.6f}" for u, v in uv]
    for i, (a, b, c) in enumerate(np.asarray(faces) + 1):
        k = 3 * i + 1
        lines.append(f"f {a}/{k} {b}/{k + 1} {c}/{k + 2}")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text("# SynthAct demo body UV layout (one atlas cell per body part)\n" + "\n".join(lines) + "\n")
    os.replace(tmp, path)


# --- the demo layout ---------------------------------------------------------------------


def cell_origin(part: int) -> tuple[float, float]:
    """Bottom-left UV corner of part ``part``'s atlas cell (row 0 at the top of the image)."""
    i = part - 1
    col, row = i % GRID, i // GRID
    return col / GRID, 1.0 - (row + 1) / GRID


def cylinder_uv_layout(vertices: np.ndarray, faces: np.ndarray, vertex_part: np.ndarray) -> np.ndarray:
    """(F, 3, 2) UVs: each part unrolled around its principal axis into its own atlas cell.

    Local u is the turn around the axis (0..1; corners of a face across the
    seam continue past 1, into the cell's spare width), local v the position
    along it. Faces take the cell of their first vertex's part.
    """
    verts = np.asarray(vertices, np.float64)
    faces = np.asarray(faces)
    part_of_face = face_parts(faces, np.asarray(vertex_part))
    out = np.zeros((len(faces), 3, 2))
    for part in np.unique(part_of_face):
        sel = part_of_face == part
        corners = verts[faces[sel]]  # (n, 3, 3)
        points = verts[np.unique(faces[sel])]
        centre = points.mean(0)
        _, _, axes = np.linalg.svd(points - centre, full_matrices=False)
        rel = corners - centre
        along = rel @ axes[0]
        turn = (np.arctan2(rel @ axes[2], rel @ axes[1]) / (2 * np.pi)) % 1.0
        across = turn.max(1, keepdims=True) - turn.min(1, keepdims=True) > 0.5
        turn = np.where(across & (turn < 0.5), turn + 1.0, turn)
        lo, hi = along.min(), along.max()
        v_local = (along - lo) / max(hi - lo, 1e-9)
        u0, v0 = cell_origin(int(part))
        span = (1.0 - 2 * _MARGIN) / GRID
        out[sel, :, 0] = u0 + _MARGIN / GRID + np.minimum(turn, _WRAP) / _WRAP * span
        out[sel, :, 1] = v0 + _MARGIN / GRID + v_local * span
    return out.astype(np.float32)


def _cell_coords(size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per image pixel (row 0 on top): part id (0 in margins), local turn (mod 1) and local v."""
    centres = (np.arange(size) + 0.5) / size
    u, v = np.meshgrid(centres, 1.0 - centres)
    col, row = np.floor(u * GRID).astype(int), np.floor((1.0 - v) * GRID).astype(int)
    part = row * GRID + col + 1
    span = (1.0 - 2 * _MARGIN) / GRID
    lu = (u - col / GRID - _MARGIN / GRID) / span
    lv = (v - (1.0 - (row + 1) / GRID) - _MARGIN / GRID) / span
    # Margins take the nearest cell content, so filtering never pulls in a neighbour.
    lu, lv = np.clip(lu, 0.0, 1.0), np.clip(lv, 0.0, 1.0)
    return part, (lu * _WRAP) % 1.0, lv


# --- procedural textures -----------------------------------------------------------------


def _garments(long_sleeves: bool, long_legs: bool) -> dict[int, str]:
    out = {}
    for p, name in enumerate(PART_NAMES):
        if p == 0:
            continue
        kind = name.split("_", 1)[-1]
        if name in ("head", "neck") or kind == "hand":
            out[p] = "skin"
        elif name == "torso" or kind == "upper_arm":
            out[p] = "top"
        elif kind == "forearm":
            out[p] = "top" if long_sleeves else "skin"
        elif name == "hips" or kind == "thigh":
            out[p] = "bottom"
        elif kind == "shin":
            out[p] = "bottom" if long_legs else "skin"
        else:
            out[p] = "shoes"
    return out


def _cut(rng: np.random.Generator) -> tuple[bool, bool]:
    """(long sleeves, long legs): a texture's second and third draws, after the skin tone."""
    return bool(rng.random() < 0.5), bool(rng.random() < 0.7)


def procedural_cut(seed: int) -> TextureCut:
    """The sleeve and leg length ``procedural_texture(seed)`` paints."""
    rng = np.random.default_rng(seed)
    rng.uniform(0, len(_SKIN_SRGB) - 1)  # the skin tone comes first
    long_sleeves, long_legs = _cut(rng)
    return TextureCut(long_sleeves=long_sleeves, long_legs=long_legs)


def _colour(rng: np.random.Generator) -> np.ndarray:
    if rng.random() < 0.25:
        return np.full(3, rng.uniform(0.08, 0.9))
    return np.array(colorsys.hsv_to_rgb(rng.random(), rng.beta(1.5, 2.0), rng.uniform(0.2, 0.9)))


def _pattern(kind: str, rng: np.random.Generator, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Mix factor in [0, 1] of a pattern over local (turn, v); integer turns keep the seam invisible."""
    if kind == "fabric":  # a weave, fine but wider than a texel at 512 px
        n = int(rng.integers(24, 40))
        return 0.5 + 0.25 * np.sin(2 * np.pi * n * u) * np.sin(2 * np.pi * n * v)
    if kind == "stripes":
        n = int(rng.integers(3, 9))
        return (np.sin(2 * np.pi * n * v) > rng.uniform(-0.5, 0.5)).astype(float)
    if kind == "plaid":
        n, m = int(rng.integers(3, 7)), int(rng.integers(3, 7))
        return 0.5 * ((np.sin(2 * np.pi * n * u) > 0.3).astype(float) + (np.sin(2 * np.pi * m * v) > 0.3))
    if kind == "print":  # dots
        n = int(rng.integers(4, 9))
        d = np.hypot((n * u) % 1.0 - 0.5, (n * v) % 1.0 - 0.5)
        return (d < rng.uniform(0.15, 0.3)).astype(float)
    return np.zeros_like(u)  # plain


def procedural_texture(seed: int, size: int = 512) -> np.ndarray:
    """(size, size, 3) uint8 sRGB texture in the demo layout: skin, a top, a bottom, shoes."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, len(_SKIN_SRGB) - 1)
    i = min(int(x), len(_SKIN_SRGB) - 2)
    skin = _SKIN_SRGB[i] * (i + 1 - x) + _SKIN_SRGB[i + 1] * (x - i)
    garments = _garments(*_cut(rng))
    looks = {}
    for garment in ("top", "bottom"):
        kind = ("plain", "fabric", "stripes", "plaid", "print")[int(rng.integers(5))]
        a = _colour(rng)
        b = a * rng.uniform(0.4, 0.7) if rng.random() < 0.5 else _colour(rng)
        looks[garment] = (kind, a, b, int(rng.integers(2**31)))
    looks["shoes"] = ("plain", np.full(3, rng.uniform(0.05, 0.5)), np.zeros(3), 0)
    part, u, v = _cell_coords(size)
    image = np.zeros((size, size, 3))
    for p, garment in garments.items():
        where = part == p
        if garment == "skin":
            shade = 1.0 + 0.03 * np.sin(2 * np.pi * 7 * u[where]) * np.sin(2 * np.pi * 5 * v[where])
            image[where] = skin * shade[:, None]
            continue
        kind, a, b, pattern_seed = looks[garment]
        f = _pattern(kind, np.random.default_rng(pattern_seed), u[where], v[where])[:, None]
        image[where] = a * (1 - f) + b * f
    return np.rint(np.clip(image, 0, 1) * 255).astype(np.uint8)


def palette_texture(colours: np.ndarray, size: int = 256) -> np.ndarray:
    """(size, size, 3) uint8: every part's cell one flat sRGB colour (``colours`` (17, 3), 0..1)."""
    part, _, _ = _cell_coords(size)
    return np.rint(np.asarray(colours)[part] * 255).astype(np.uint8)


def write_texture(path: str | Path, image: np.ndarray, quality: int = 95) -> None:
    """Write a uint8 RGB image as JPEG, atomically."""
    import simplejpeg

    path = Path(path)
    data = simplejpeg.encode_jpeg(np.ascontiguousarray(image), quality=quality, colorspace="RGB")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def read_texture(path: str | Path) -> np.ndarray:
    """A JPEG texture as (H, W, 3) uint8, row 0 on top."""
    import simplejpeg

    return simplejpeg.decode_jpeg(Path(path).read_bytes(), colorspace="RGB")


def generate_textures(out_dir: str | Path, count: int = 12, seed: int = 0, size: int = 512) -> list[Path]:
    """Write ``count`` procedural textures in the demo layout; names are ``synthact-NNN.jpg``.

    Their cuts go to ``CUTS_FILE`` beside them, so appearances record what they show.
    """
    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    paths, cuts = [], {}
    for k in range(count):
        path = root / f"synthact-{k:03d}.jpg"
        write_texture(path, procedural_texture(seed * 100003 + k, size))
        cuts[path.name] = procedural_cut(seed * 100003 + k)
        paths.append(path)
    write_cuts(root, cuts)
    return paths


def write_cuts(folder: str | Path, cuts: Mapping[str, TextureCut]) -> None:
    """Write ``CUTS_FILE`` in ``folder``: each texture's sleeve and leg length."""
    table = {name: {"long_sleeves": c.long_sleeves, "long_legs": c.long_legs} for name, c in sorted(cuts.items())}
    atomic.write_text(Path(folder) / CUTS_FILE, json.dumps(table, indent=1, sort_keys=True) + "\n")


def read_cuts(folder: str | Path, names: Sequence[str]) -> dict[str, TextureCut | None]:
    """Each of ``names``' cut from the folder's ``CUTS_FILE``; None where it is not described.

    Raises:
        ValueError: The file is not a JSON object of ``{"long_sleeves": bool, "long_legs": bool}``.
    """
    path = Path(folder) / CUTS_FILE
    if not path.is_file():
        return dict.fromkeys(names)
    try:
        table = json.loads(path.read_text())
        known = {
            name: TextureCut(long_sleeves=bool(v["long_sleeves"]), long_legs=bool(v["long_legs"]))
            for name, v in table.items()
        }
    except (ValueError, TypeError, KeyError, AttributeError) as err:
        raise ValueError(
            f"randomize.textures_dir: {path} must map texture names to "
            '{"long_sleeves": true|false, "long_legs": true|false} (or be removed)'
        ) from err
    return {name: known.get(name) for name in names}


def texture_assets(
    randomize: dict, faces: np.ndarray
) -> tuple[np.ndarray | None, Path | None, dict[str, TextureCut | None]]:
    """(face_uv, textures_dir, texture names with their cuts) from the config's ``randomize`` section.

    Both ``textures_dir`` and ``uv_file`` empty: procedural clothing, (None,
    None, {}). One without the other is an error naming the missing key.
    """
    folder, uv_file = str(randomize.get("textures_dir", "") or ""), str(randomize.get("uv_file", "") or "")
    if not folder and not uv_file:
        return None, None, {}
    if not folder or not uv_file:
        missing = "randomize.uv_file" if folder else "randomize.textures_dir"
        raise ValueError(f"{missing} is needed with {'randomize.textures_dir' if folder else 'randomize.uv_file'}")
    if not Path(uv_file).is_file():
        raise FileNotFoundError(f"randomize.uv_file: {uv_file} does not exist")
    return read_uv_file(uv_file, faces), Path(folder), read_cuts(folder, list_textures(folder))
