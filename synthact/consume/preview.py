"""Previews a person looks at: per-clip side-by-side mp4s, contact sheets, one run page.

Why: a run is checked by eye before anyone trains on it. A clip preview shows,
side by side, RGB, depth, body parts and the 2D skeleton (COCO-17) of every
person drawn over RGB, each person in its own colour (``PERSON_COLOURS``, in
body order); captions say how many persons the take has; a contact sheet
shows views (rows) x evenly spaced frames (columns); the run page
(``index.html``) links them with the statistics plots.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib import colormaps
from PIL import Image, ImageDraw, ImageFont

from synthact.consume.coco17 import COCO17_EDGES, to_coco17
from synthact.consume.exportio import atomic_output, write_text_atomic
from synthact.consume.video import write_mp4

CAPTION_PX = 16  # even, so frames stay even-sized for yuv420p


def slug(text: str) -> str:
    """A class name as a file name: ``sit down`` -> ``sit-down``."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "unnamed"


def preview_selection(rows: Sequence[Mapping[str, Any]], max_clips: int) -> list[Mapping[str, Any]]:
    """Up to ``max_clips`` rows that show the dataset: one clip of each class in turn
    (classes in index order, as often as it takes), each from a take not shown yet
    where the class has one, so no class and no take fills the page."""
    by_class: dict[int, list[Mapping[str, Any]]] = {}
    for row in rows:
        by_class.setdefault(int(row["label_index"]), []).append(row)
    queues = [by_class[k] for k in sorted(by_class)]
    chosen: list[Mapping[str, Any]] = []
    shown_takes: set[str] = set()
    while len(chosen) < max_clips and any(queues):
        for queue in queues:
            if not queue or len(chosen) == max_clips:
                continue
            row = next((r for r in queue if r["take_id"] not in shown_takes), queue[0])
            queue.remove(row)
            chosen.append(row)
            shown_takes.add(row["take_id"])
    return chosen


def captioned(image: np.ndarray, text: str) -> np.ndarray:
    """``image`` under a black strip that names what it shows (action, take, view)."""
    strip = Image.new("RGB", (image.shape[1], CAPTION_PX))
    ImageDraw.Draw(strip).text((3, 2), text, fill=(255, 255, 255), font=ImageFont.load_default())
    return np.concatenate([np.asarray(strip), image], axis=0)


def colorize_depth(depth_m: np.ndarray) -> np.ndarray:
    """(H, W) metres -> RGB uint8: inverse depth through 'turbo', black where 0.

    The scale is per frame (nearest hit to farthest hit), for looking only.
    """
    hit = depth_m > 0
    out = np.zeros((*depth_m.shape, 3), dtype=np.uint8)
    if hit.any():
        inv = np.zeros_like(depth_m, dtype=np.float64)
        inv[hit] = 1.0 / depth_m[hit]
        lo, hi = inv[hit].min(), inv[hit].max()
        norm = (inv - lo) / (hi - lo) if hi > lo else np.ones_like(inv)
        out[hit] = (colormaps["turbo"](norm[hit])[:, :3] * 255).astype(np.uint8)
    return out


def colorize_parts(parts: np.ndarray) -> np.ndarray:
    """(H, W) part ids -> RGB uint8, a fixed colour per part, background black."""
    tab20 = colormaps["tab20"]
    palette = (tab20(np.arange(tab20.N))[:, :3] * 255).astype(np.uint8)
    out = palette[(parts.astype(np.int64) - 1) % len(palette)]
    out[parts == 0] = 0
    return out


# Person k's limbs, in body order: green, blue, orange, magenta, then again. A hidden limb is drawn darker.
PERSON_COLOURS = ((0, 230, 0), (40, 120, 255), (255, 150, 0), (230, 0, 230))


def person_colour(person: int, visible: bool = True) -> tuple[int, int, int]:
    r, g, b = PERSON_COLOURS[person % len(PERSON_COLOURS)]
    return (r, g, b) if visible else (r * 2 // 5, g * 2 // 5, b * 2 // 5)


def persons_caption(num_persons: int) -> str:
    return f"{num_persons} person" if num_persons == 1 else f"{num_persons} persons"


def draw_skeleton(rgb: np.ndarray, keypoints73: np.ndarray, visible73: np.ndarray) -> np.ndarray:
    """COCO-17 limbs of every person over a copy of ``rgb``, person k in ``person_colour(k)``.

    ``keypoints73`` (P, 73, 2) pixels and ``visible73`` (P, 73), or (73, 2) and (73,)
    for one person. A limb is bright where both ends are visible, dark otherwise; a
    person absent from the frame (NaN keypoints) is not drawn.
    """
    image = Image.fromarray(np.ascontiguousarray(rgb))
    draw = ImageDraw.Draw(image)
    points_all = to_coco17(np.asarray(keypoints73, dtype=np.float64))
    vis_all = to_coco17(np.asarray(visible73)).astype(bool)
    if points_all.ndim == 2:
        points_all, vis_all = points_all[None], vis_all[None]
    width = max(1, rgb.shape[1] // 160)
    for person, (points, vis) in enumerate(zip(points_all, vis_all, strict=True)):
        known = np.isfinite(points).all(axis=1)
        for a, b in COCO17_EDGES:
            if known[a] and known[b]:
                colour = person_colour(person, bool(vis[a] and vis[b]))
                draw.line([tuple(points[a]), tuple(points[b])], fill=colour, width=width)
        for (x, y), v in zip(points[known], vis[known], strict=True):
            draw.ellipse([x - width, y - width, x + width, y + width], fill=(255, 255, 0) if v else (128, 128, 128))
    return np.asarray(image)


def preview_frame(
    rgb: np.ndarray, depth: np.ndarray, parts: np.ndarray, keypoints73: np.ndarray, visible73: np.ndarray
) -> np.ndarray:
    """One frame: RGB | depth | parts | every person's skeleton over RGB, (H, 4W, 3)."""
    tiles = (rgb, colorize_depth(depth), colorize_parts(parts), draw_skeleton(rgb, keypoints73, visible73))
    return np.concatenate(tiles, axis=1)


def write_clip_preview(path: str | Path, arrays: Mapping[str, np.ndarray], fps: float, caption: str = "") -> int:
    """The side-by-side mp4 of one clip-view, under ``caption``; ``arrays`` holds rgb,
    depth, parts, keypoints_2d (T, P, 73, 2), keypoints_visible (T, P, 73) (per frame)."""
    frames = (
        captioned(
            preview_frame(
                arrays["rgb"][t],
                arrays["depth"][t],
                arrays["parts"][t],
                arrays["keypoints_2d"][t],
                arrays["keypoints_visible"][t],
            ),
            caption,
        )
        for t in range(len(arrays["rgb"]))
    )
    return write_mp4(path, frames, fps)


def sheet_frames(num_frames: int, columns: int) -> np.ndarray:
    """Evenly spaced frame indices, first and last included."""
    return np.unique(np.rint(np.linspace(0, num_frames - 1, min(columns, num_frames))).astype(np.int64))


def contact_sheet(
    rgb_by_view: Mapping[str, np.ndarray], columns: int = 6, title: str = ""
) -> tuple[np.ndarray, np.ndarray]:
    """Views (rows, each named) x frames (columns) under ``title`` -> (image, frame indices used)."""
    first = next(iter(rgb_by_view.values()))
    picked = sheet_frames(len(first), columns)
    rows = [captioned(np.concatenate(list(frames[picked]), axis=1), view) for view, frames in rgb_by_view.items()]
    sheet = np.concatenate(rows, axis=0)
    return (captioned(sheet, title) if title else sheet), picked


def write_png(path: str | Path, image: np.ndarray) -> None:
    with atomic_output(path) as tmp:
        Image.fromarray(np.ascontiguousarray(image)).save(tmp, format="PNG")


def write_run_page(
    path: str | Path,
    title: str,
    summary: Mapping[str, object],
    clips: Sequence[Mapping[str, str]],
    plots: Sequence[str],
) -> None:
    """``index.html``: the summary numbers, every plot, and per clip its sheet and preview.

    ``clips``: dicts with ``title``, ``sheet`` and ``preview`` paths relative to the page.
    """
    esc = html.escape
    parts = [
        f"<!doctype html><meta charset='utf-8'><title>{esc(title)}</title>",
        "<style>body{font-family:sans-serif;margin:2em} img,video{max-width:100%} td{padding:0 1em}</style>",
        f"<h1>{esc(title)}</h1><table>",
    ]
    parts += [f"<tr><td>{esc(str(k))}</td><td>{esc(str(v))}</td></tr>" for k, v in summary.items()]
    parts.append("</table><h2>Statistics</h2>")
    parts += [f"<p><img src='{esc(p)}' alt='{esc(p)}'></p>" for p in plots]
    parts.append("<h2>Clips</h2>")
    for clip in clips:
        parts.append(
            f"<h3>{esc(clip['title'])}</h3><p><img src='{esc(clip['sheet'])}'></p>"
            f"<p><video controls muted loop src='{esc(clip['preview'])}'></video></p>"
        )
    write_text_atomic(path, "\n".join(parts) + "\n")
