"""Read Blender's multilayer EXR files into numpy, and decode Cycles' passes.

Blender 5.0 writes a multilayer EXR as a *multi-part* file, one part per pass,
with channels named ``<view layer>.<pass>.<channel>`` (for example
``ViewLayer.Depth.Z``, ``ViewLayer.Combined.R``). ``OpenEXR.File.channels()``
shows only the first part, so this reader walks every part.

``decode_frame`` turns the passes into what a dataset stores: an sRGB image,
metric depth, the person mask, part ids and camera-frame normals.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

# EXR stores channels sorted by name (A, B, G, R); these put them back in
# their natural order. Channels not listed keep alphabetical order after them.
NO_HIT_DEPTH = 1e9  # Cycles writes 1e10 to Depth where a ray hits nothing

BODY_PASS_INDEX = 1  # Object Index of body 0; body k has BODY_PASS_INDEX + k
# Object Index of a surface that stands for a background picture (no depth there): above any body's.
PICTURE_PASS_INDEX = 1000

_CHANNEL_ORDER = {name: i for i, name in enumerate("RGBAXYZWUV")}


def _ordered(channels: list[str]) -> list[str]:
    return sorted(channels, key=lambda c: (_CHANNEL_ORDER.get(c, len(_CHANNEL_ORDER)), c))


def read_passes(path: str | Path, strip_layer: bool = True) -> dict[str, np.ndarray]:
    """Read every pass of a (multi-part or single-part) multilayer EXR.

    Args:
        path: The EXR file.
        strip_layer: Drop the view-layer prefix from pass names, so
            ``ViewLayer.Depth`` becomes ``Depth``.

    Returns:
        Pass name → array. One-channel passes are ``(H, W)``; others are
        ``(H, W, C)`` with channels in R, G, B, A or X, Y, Z, W order. Row 0
        is the top of the image. Dtype is what the file stores (float32 for
        Blender's 32-bit output, float16 for half).

    Raises:
        ValueError: Two passes map to the same name after stripping.
    """
    import OpenEXR  # imported here so the package imports without it

    grouped: dict[str, dict[str, np.ndarray]] = {}
    with OpenEXR.File(str(path), separate_channels=True) as exr:
        for part in exr.parts:
            for full_name, channel in part.channels.items():
                layer_pass, _, chan = full_name.rpartition(".")
                grouped.setdefault(layer_pass, {})[chan] = channel.pixels
    out: dict[str, np.ndarray] = {}
    for layer_pass, chans in grouped.items():
        name = layer_pass.split(".", 1)[1] if strip_layer and "." in layer_pass else layer_pass
        if name in out:
            raise ValueError(f"{path}: two passes are both named {name!r}")
        order = _ordered(list(chans))
        if len(order) == 1:
            out[name] = chans[order[0]]
        else:
            out[name] = np.stack([chans[c] for c in order], axis=-1)
    return out


def linear_to_srgb8(linear: np.ndarray) -> np.ndarray:
    """Linear RGB → uint8 sRGB: clip to [0, 1], sRGB OETF, round to nearest."""
    x = np.clip(linear, 0.0, 1.0)
    srgb = np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(x, 1.0 / 2.4) - 0.055)
    return np.rint(srgb * 255.0).astype(np.uint8)


def decode_frame(
    passes: dict[str, np.ndarray], R: np.ndarray, num_persons: int = 1
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Turn one frame's Cycles passes into image and label arrays.

    Args:
        passes: From ``read_passes``: Combined, Depth, Normal (world space),
            Object Index, Material Index.
        R: (3, 3) world → OpenCV camera rotation, for the normals.
        num_persons: The bodies in the scene; body k has Object Index
            ``BODY_PASS_INDEX + k``.

    Returns:
        rgb (H, W, 3) uint8 sRGB; depth (H, W) float32 metres, 0 where no
        surface was hit or the surface stands for a picture
        (``PICTURE_PASS_INDEX``); mask (H, W) bool, any body; parts (H, W) uint8
        material pass index on a body, else 0; normals (H, W, 3) float32
        unit vectors in the OpenCV camera frame, 0 where depth is; instances
        (H, W) uint8, k + 1 on body k, else 0.
    """
    rgb = linear_to_srgb8(passes["Combined"][..., :3])
    z = passes["Depth"]
    index = np.rint(passes["Object Index"]).astype(np.int64)
    hit = (z < NO_HIT_DEPTH) & (index != PICTURE_PASS_INDEX)
    depth = np.where(hit, z, 0.0).astype(np.float32)
    body = index - BODY_PASS_INDEX
    mask = (body >= 0) & (body < num_persons)
    instances = np.where(mask, body + 1, 0).astype(np.uint8)
    parts = np.where(mask, np.rint(passes["Material Index"]), 0).astype(np.uint8)
    # Normal is a mean over samples: renormalise pixels where surfaces mix.
    n = passes["Normal"].astype(np.float32) @ np.asarray(R, np.float32).T
    norm = np.linalg.norm(n, axis=-1, keepdims=True)
    ok = hit[..., None] & (norm > 1e-6)
    normals = np.where(ok, n / np.maximum(norm, 1e-6), 0.0).astype(np.float32)
    return rgb, depth, mask, parts, normals, instances
