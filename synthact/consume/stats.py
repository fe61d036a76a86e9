"""Run statistics: the numbers (``stats.json``) and the matplotlib plots drawn from them.

Why both: a plot is for a person, the JSON is what tests and papers quote, and
every plotted bar is a number in the JSON, so a plot can never say something
the numbers don't. Inputs are plain rows and dicts (clip-table rows, take and
view attributes, per-modality byte counts), so this module reads no files.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display on render nodes
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from synthact.consume.exportio import atomic_output, write_text_atomic
from synthact.labels.tables import SPLIT_ORDER

DURATION_BIN_S = 0.5


def class_histogram(rows: Iterable[Mapping[str, Any]], classes: Sequence[str]) -> dict[str, dict[str, int]]:
    """split -> class -> number of clips (primary label), every class listed."""
    out: dict[str, dict[str, int]] = {}
    for row in rows:
        split = out.setdefault(row["split"], dict.fromkeys(classes, 0))
        split[classes[int(row["label_index"])]] += 1
    return out


def histogram(values: Sequence[float] | np.ndarray, bin_width: float) -> dict[str, list[float]]:
    """Fixed-width bins from 0 (or the minimum if negative): edges and counts."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return {"edges": [], "counts": []}
    lo = min(0.0, float(np.floor(values.min() / bin_width) * bin_width))
    hi = float(np.ceil(values.max() / bin_width) * bin_width) + bin_width
    counts, edges = np.histogram(values, bins=np.arange(lo, hi + bin_width / 2, bin_width))
    return {"edges": [round(float(e), 6) for e in edges], "counts": [int(c) for c in counts]}


def durations(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Clip durations in seconds (end_t - start_t): summary and histogram."""
    values = [float(r["end_t"]) - float(r["start_t"]) for r in rows]
    return {
        "count": len(values),
        "total_s": round(sum(values), 6),
        "mean_s": round(float(np.mean(values)), 6) if values else 0.0,
        "histogram": histogram(values, DURATION_BIN_S),
    }


def camera_stats(views: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Azimuth (10 degree bins), distance and height (0.25 m bins) over every take-view."""
    views = list(views)
    out: dict[str, Any] = {"count": len(views)}
    for key, width in (("azimuth_deg", 10.0), ("distance_m", 0.25), ("height_m", 0.25)):
        vals = [float(v[key]) % 360.0 if key == "azimuth_deg" else float(v[key]) for v in views]
        out[key] = {"histogram": histogram(vals, width), "min": min(vals, default=0.0), "max": max(vals, default=0.0)}
    return out


def people(take: Mapping[str, Any]) -> list[tuple[str, np.ndarray]]:
    """(gender, betas_used) of every person of a take, in body order.

    ``betas_used`` holds one row of 16 per person ((16,) for one); a person's gender
    comes from its ``persons`` entry where the take has one, else the take's ``gender``.
    """
    betas = np.atleast_2d(np.asarray(take["betas_used"], dtype=np.float64))
    entries = take.get("persons") or []
    genders = [str((entries[k] if k < len(entries) else {}).get("gender", take["gender"])) for k in range(len(betas))]
    return list(zip(genders, betas, strict=True))


def body_stats(takes: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Genders and the first two rendered shape coefficients (betas_used[0:2]) of every person of every take."""
    bodies = [body for t in takes for body in people(t)]
    betas = np.array([b[:2] for _, b in bodies]).reshape(-1, 2)
    return {
        "gender": dict(Counter(gender for gender, _ in bodies)),
        "beta0": histogram(betas[:, 0], 0.5),
        "beta1": histogram(betas[:, 1], 0.5),
    }


def person_stats(takes: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """How many takes hold 1, 2, ... persons (``num_persons``; 1 where a take does not say), and persons in all."""
    counts = Counter(int(t.get("num_persons", 1)) for t in takes)
    return {
        "takes_by_persons": {str(n): counts[n] for n in sorted(counts)},
        "persons": sum(n * c for n, c in counts.items()),
    }


def appearance_stats(appearances: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, int]]:
    """How often each HDRI, clothing pattern and sleeve/leg length was used."""
    counters: dict[str, Counter] = {
        k: Counter() for k in ("hdri", "top_pattern", "bottom_pattern", "long_sleeves", "long_legs")
    }
    for a in appearances:
        counters["hdri"][Path(str(a["hdri"])).name] += 1
        # A textured take records no procedural garment, and a cut only where its texture folder gives one.
        counters["top_pattern"][(a.get("top") or {}).get("pattern", "texture")] += 1
        counters["bottom_pattern"][(a.get("bottom") or {}).get("pattern", "texture")] += 1
        for cut in ("long_sleeves", "long_legs"):
            counters[cut]["unknown" if a.get(cut) is None else str(bool(a[cut]))] += 1
    return {k: dict(sorted(c.items())) for k, c in counters.items()}


def volume_stats(num_frames: int, num_views: int, bytes_per_modality: Mapping[str, int]) -> dict[str, Any]:
    """Frames (per take timeline), views, frame-views, and stored bytes per modality."""
    return {
        "frames": int(num_frames),
        "views": int(num_views),
        "frame_views": int(num_frames) * int(num_views),
        "bytes": {k: int(v) for k, v in sorted(bytes_per_modality.items())},
    }


# --------------------------------------------------------------------------- plots


def _save(fig: Figure, path: Path) -> Path:
    with atomic_output(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path


def _bars(ax: Axes, counts: Mapping[str, int], title: str) -> None:
    ax.bar(range(len(counts)), list(counts.values()))
    ax.set_xticks(range(len(counts)), list(counts.keys()), rotation=90, fontsize=6)
    ax.set_title(title)


def _hist(ax: Axes, hist: Mapping[str, list[float]], title: str) -> None:
    edges = hist["edges"]
    if edges:
        ax.bar(edges[:-1], hist["counts"], width=np.diff(edges), align="edge", edgecolor="black")
    ax.set_title(title)


CLASS_ROW_INCHES = 0.17  # one class per row: 8-point names never overlap (BABEL-120 and up)


def class_figure(protocol: str, per_split: Mapping[str, Mapping[str, int]]) -> Figure:
    """Clips per class, one horizontal bar per class and one panel per split, sharing the names.

    Names run down the side, one row each, so the plot stays readable at 120 or
    150 classes; the figure grows with the class count instead of squeezing it.
    """
    splits = sorted(per_split, key=lambda s: (SPLIT_ORDER.get(s, len(SPLIT_ORDER)), s))
    classes = list(per_split[splits[0]]) if splits else []
    height = max(2.0, CLASS_ROW_INCHES * len(classes) + 1.0)
    fig, axes = plt.subplots(
        1, max(len(splits), 1), figsize=(3 + 3 * len(splits), height), sharey=True, squeeze=False, layout="constrained"
    )
    for ax, split in zip(axes[0], splits, strict=False):  # one empty panel when there are no splits
        counts = [per_split[split].get(c, 0) for c in classes]
        ax.barh(range(len(classes)), counts)
        ax.set_yticks(range(len(classes)), classes, fontsize=8)
        ax.set_ylim(len(classes) - 0.5, -0.5)  # the first class at the top
        ax.set_title(split)
        ax.set_xlabel("clips")
    fig.suptitle(f"{protocol}: clips per class")
    return fig


def plot_all(stats: Mapping[str, Any], dest: Path) -> list[Path]:
    """One PNG per topic, drawn from ``stats`` alone."""
    out = []
    for protocol, per_split in stats["classes"].items():
        out.append(_save(class_figure(protocol, per_split), dest / f"classes_{protocol}.png"))
    fig, axes = plt.subplots(1, len(stats["durations"]), figsize=(5 * len(stats["durations"]), 3), squeeze=False)
    for ax, (protocol, d) in zip(axes[0], stats["durations"].items(), strict=True):
        _hist(ax, d["histogram"], f"{protocol}: clip duration (s)")
    out.append(_save(fig, dest / "durations.png"))
    fig, axes = plt.subplots(1, 3, figsize=(15, 3))
    for ax, key in zip(axes, ("azimuth_deg", "distance_m", "height_m"), strict=True):
        _hist(ax, stats["camera"][key]["histogram"], f"camera {key}")
    out.append(_save(fig, dest / "camera.png"))
    fig, axes = plt.subplots(1, 4, figsize=(20, 3))
    _bars(axes[0], stats["persons"]["takes_by_persons"], "takes by persons")
    _bars(axes[1], stats["body"]["gender"], "gender (every person)")
    _hist(axes[2], stats["body"]["beta0"], "betas_used[0]")
    _hist(axes[3], stats["body"]["beta1"], "betas_used[1]")
    out.append(_save(fig, dest / "body.png"))
    fig, axes = plt.subplots(1, len(stats["appearance"]), figsize=(4 * len(stats["appearance"]), 3))
    for ax, (key, counts) in zip(np.atleast_1d(axes), stats["appearance"].items(), strict=True):
        _bars(ax, counts, key)
    out.append(_save(fig, dest / "appearance.png"))
    fig, ax = plt.subplots(figsize=(6, 3))
    _bars(ax, {k: v / 2**20 for k, v in stats["volume"]["bytes"].items()}, "MiB per modality")
    out.append(_save(fig, dest / "modalities.png"))
    return out


def write_stats(dest: str | Path, stats: Mapping[str, Any]) -> list[Path]:
    """``stats.json`` and the plots under ``dest``; returns every file written."""
    dest = Path(dest)
    json_path = dest / "stats.json"
    write_text_atomic(json_path, json.dumps(stats, indent=1, sort_keys=True) + "\n")
    return [json_path, *plot_all(stats, dest)]


def run_stats(
    tables: Mapping[str, tuple[Sequence[Mapping[str, Any]], Sequence[str]]],
    takes: Sequence[Mapping[str, Any]],
    views: Sequence[Mapping[str, Any]],
    bytes_per_modality: Mapping[str, int],
) -> dict[str, Any]:
    """Every statistic of a run.

    ``tables``: protocol -> (clip rows, classes); ``takes``: take attrs with
    ``appearance`` (dict), ``gender``, ``betas_used``, ``num_frames`` and, where the
    take says, ``num_persons`` and ``persons``;
    ``views``: view attrs (one per take-view) with azimuth_deg, distance_m, height_m.
    """
    view_names = {v.get("view") for v in views} - {None}
    return {
        "classes": {p: class_histogram(rows, classes) for p, (rows, classes) in tables.items()},
        "durations": {p: durations(rows) for p, (rows, _) in tables.items()},
        "camera": camera_stats(views),
        "body": body_stats(takes),
        "persons": person_stats(takes),
        "appearance": appearance_stats(t["appearance"] for t in takes),
        "volume": volume_stats(sum(int(t["num_frames"]) for t in takes), len(view_names), bytes_per_modality),
        "takes": len(takes),
    }
