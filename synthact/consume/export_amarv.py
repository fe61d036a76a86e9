"""Export to the layout of the released AMARV, which the authors' loader reads.

The contract (from the authors' ``amarv.py`` at 094b001 and
``babel_label_converter.py``):

- videos: ``videos/<rel>/sequence_<id>[_run<k>]/Videos/RGB_{Front,Left,Back,Right}_Camera_640.mp4``,
  each covering the whole take from t = 0 at constant fps, frame count and
  duration in the mp4 header (PyAV + libx264 write them). ``<rel>`` is the AMASS
  path without ``_poses.npz``; ``<id>`` the BABEL sequence id (the take id when
  there is none); ``_run<k>`` is added, k = repetition, when the run renders each
  sequence more than once (each ``sequence_*`` folder is one render for the loader).
  Body-only depth goes next to it as ``Depth_<View>_Camera_640.mp4``
  (``depth_video``'s hue encoding); the loader ignores it.
- labels: ``labels/{train,val,test}.csv`` (val doubles as test, as BABEL's test
  labels are withheld), no header, 9 comma-separated fields, no quoting:
  ``<rel>, act_cat ids (;), BABEL-150 ids (; -1 if none), act_cat names (;),
  raw-label id (-1 if none), proc_label, t_start, t_stop, duration``. Commas
  and semicolons inside names and labels become spaces. Times are seconds from
  the take's first frame (= the sequence's t with ``render.span: whole``; with
  ``labelled`` spans they are shifted so that they still index the mp4), and
  duration is the take's ``duration_s``. The act_cat ids are the run's own
  ``segments`` class indices (``classes.json``, frequency order), not the
  authors' 272-category numbering, which is not published; the BABEL-150 ids
  are BABEL's own (``sources/babel_categories.py``).
- ``labels/category_index.csv``: ``#``-separated, header ``category#raw_labels``;
  row order is the category id; ``raw_labels`` lists the proc_labels seen with
  the category, comma-joined (the converter splits on ","). A category never
  seen gets its own name as raw label, since pandas reads an empty field as
  NaN and the converter's ``split`` then fails. Raw-label ids are positions in
  the natural-sorted set of all raw labels, as the converter numbers them.

Set the loader's ``DATA.PATH_PREFIX`` to ``DEST/videos`` and
``DATA.PATH_TO_DATA_DIR`` to ``DEST/labels``.

Views: ``front/left/back/right`` (the amarv preset) keep their names. Other rigs
map each view to the nearest of azimuth 0 (Front), 90 (Left), 180 (Back) and
270 (Right) degrees relative to the first view; two views on one quadrant are an
error (pass an explicit mapping then), since the loader knows only four names.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from synthact.consume.depth_video import body_depth, write_depth_mp4
from synthact.consume.exportio import is_complete, progress, remove_partials, write_text_atomic
from synthact.consume.video import EXPORT_VIDEO, ExportVideo, write_mp4
from synthact.safe_names import file_name, normalise_relative
from synthact.sources.babel_categories import BABEL_CATEGORIES

AMARV_VIEWS = ("Front", "Left", "Back", "Right")
_AMARV_OF_OURS = {"front": "Front", "left": "Left", "back": "Back", "right": "Right"}
_BABEL150 = {name: i for i, name in enumerate(BABEL_CATEGORIES)}
SPLIT_FILES = {"train": "train.csv", "val": "val.csv", "test": "test.csv"}


@dataclass(frozen=True)
class AmarvVideo:
    """One mp4 the export writes: a take's view, RGB or depth."""

    take_id: str
    view: str
    kind: str  # "rgb" | "depth"
    relpath: PurePosixPath  # under DEST/videos


def amarv_relative_path(source: str) -> str:
    """``CMU/01/01_01_poses.npz`` -> ``CMU/01/01_01`` (the loader's ``<rel>``)."""
    rel = PurePosixPath(source.replace("\\", "/"))
    name = rel.name
    for suffix in ("_poses.npz", "_stageii.npz"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    else:
        name = rel.stem
    out = str(rel.with_name(name))
    if "," in out or "\n" in out:
        raise ValueError(f"{source}: a comma or newline in the path cannot go in the AMARV CSV")
    if any(part.startswith("sequence_") for part in PurePosixPath(out).parts):
        raise ValueError(f"{source}: a path part starts with 'sequence_', which the AMARV loader globs for")
    return out


def sequence_folder(
    source: str, sequence_id: str | None, take_id: str, repetition: int, num_repetitions: int
) -> PurePosixPath:
    """``<rel>/sequence_<id>[_run<k>]``: one render of one sequence.

    Both parts come from the shard's take attributes, which a shard from elsewhere may hold
    unchecked, so they pass the same name rule as every input: the export stays in DEST.
    """
    where = f"the shard's take {take_id}"
    name = file_name(f"sequence_{sequence_id or take_id}", "sequence id", where)
    if num_repetitions > 1:
        name += f"_run{repetition}"
    return normalise_relative(amarv_relative_path(source), "the export folder") / name


def amarv_view_names(view_azimuths: Mapping[str, float]) -> dict[str, str]:
    """Our view names -> Front/Left/Back/Right (see the module docstring)."""
    if set(view_azimuths) <= set(_AMARV_OF_OURS):
        return {v: _AMARV_OF_OURS[v] for v in view_azimuths}
    first = next(iter(view_azimuths.values()))
    out: dict[str, str] = {}
    for view, azimuth in view_azimuths.items():
        quadrant = round(((azimuth - first) % 360.0) / 90.0) % 4
        out[view] = AMARV_VIEWS[quadrant]
    taken = list(out.values())
    if len(set(taken)) != len(taken):
        raise ValueError(f"views {dict(view_azimuths)} share an AMARV name ({out}); pass an explicit view mapping")
    return out


def video_relpath(folder: PurePosixPath, amarv_view: str, kind: str) -> PurePosixPath:
    prefix = {"rgb": "RGB", "depth": "Depth"}[kind]
    return folder / "Videos" / f"{prefix}_{amarv_view}_Camera_640.mp4"


def plan_videos(
    takes: Sequence[Mapping[str, Any]], view_map: Mapping[str, str], depth: bool = True
) -> list[AmarvVideo]:
    """Every mp4 of the export, in take order. ``takes``: take attrs plus ``take_id``."""
    reps = max((int(t.get("repetition", 0)) for t in takes), default=0) + 1
    kinds = ("rgb", "depth") if depth else ("rgb",)
    out: list[AmarvVideo] = []
    for take in takes:
        folder = sequence_folder(
            take["source"], take.get("sequence_id"), take["take_id"], int(take.get("repetition", 0)), reps
        )
        for view, name in view_map.items():
            out.extend(AmarvVideo(take["take_id"], view, k, video_relpath(folder, name, k)) for k in kinds)
    _check_unique(out)
    return out


def _check_unique(videos: list[AmarvVideo]) -> None:
    seen: dict[PurePosixPath, str] = {}
    for v in videos:
        if v.relpath in seen and seen[v.relpath] != v.take_id:
            raise ValueError(f"takes {seen[v.relpath]} and {v.take_id} both map to {v.relpath}")
        seen[v.relpath] = v.take_id


# --------------------------------------------------------------------------- labels


def clean_field(text: Any) -> str:
    """One CSV field: no comma, semicolon, '#', double quote (pandas would parse it) or
    newline; whitespace collapsed."""
    return " ".join(re.sub(r'[,;#"\r\n]', " ", str(text)).split())


def raw_labels_by_category(rows: Iterable[Mapping[str, Any]], classes: Sequence[str]) -> dict[str, list[str]]:
    """The proc_labels seen with each category, sorted; a category's own name when none."""
    seen: dict[str, set[str]] = {c: set() for c in classes}
    for row in rows:
        label = clean_field(row.get("proc_label") or "")
        for cat in row.get("labels") or []:
            if label and cat in seen:
                seen[cat].add(label)
    return {c: sorted(labels) or [clean_field(c)] for c, labels in seen.items()}


def _natural_key(text: str) -> list[Any]:
    # natsort's default order for these strings: digit runs compare as numbers.
    return [(0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", text) if t]


def raw_label_ids(raw_labels: Mapping[str, list[str]]) -> dict[str, int]:
    """Raw label -> id: its position in the natural-sorted set of all raw labels."""
    every = {label for labels in raw_labels.values() for label in labels}
    return {label: i for i, label in enumerate(sorted(every, key=_natural_key))}


def category_index_csv(classes: Sequence[str], raw_labels: Mapping[str, list[str]]) -> str:
    lines = ["category#raw_labels"] + [f"{clean_field(c)}#{','.join(raw_labels[c])}" for c in classes]
    return "\n".join(lines) + "\n"


def _seconds(value: float) -> str:
    return repr(round(float(value), 6))


def segment_fields(row: Mapping[str, Any], take: Mapping[str, Any], raw_ids: Mapping[str, int]) -> list[str]:
    """The 9 fields of one segment row, times relative to the take's first frame."""
    offset = float(take.get("first_frame", 0)) / float(take["fps"])
    names = list(row.get("labels") or [])
    ids = [str(int(i)) for i in row.get("label_indices") or []]
    if len(ids) != len(names):
        raise ValueError(f"clip {row.get('clip_id')}: {len(names)} labels but {len(ids)} label_indices")
    proc = clean_field(row.get("proc_label") or "")
    return [
        amarv_relative_path(take["source"]),
        ";".join(ids) or "-1",
        ";".join(str(_BABEL150.get(n, -1)) for n in names) or "-1",
        ";".join(clean_field(n) for n in names) or "None",
        str(raw_ids.get(proc, -1)),
        proc or "None",
        _seconds(float(row["start_t"]) - offset),
        _seconds(float(row["end_t"]) - offset),
        _seconds(take["duration_s"]),
    ]


def label_files(
    rows: Sequence[Mapping[str, Any]], takes: Mapping[str, Mapping[str, Any]], classes: Sequence[str]
) -> dict[str, str]:
    """File name -> text of the label CSVs (``segments`` protocol rows)."""
    raw = raw_labels_by_category(rows, classes)
    ids = raw_label_ids(raw)
    by_split: dict[str, list[str]] = {s: [] for s in SPLIT_FILES}
    for row in rows:
        if row["split"] in by_split:
            fields = segment_fields(row, takes[row["take_id"]], ids)
            by_split[row["split"]].append(",".join(fields))
    if not by_split["test"]:
        by_split["test"] = list(by_split["val"])  # BABEL val doubles as test
    files = {SPLIT_FILES[s]: "".join(line + "\n" for line in lines) for s, lines in by_split.items()}
    files["category_index.csv"] = category_index_csv(classes, raw)
    return files


def write_labels(
    dest: str | Path, rows: Sequence[Mapping[str, Any]], takes: Mapping[str, Mapping[str, Any]], classes: Sequence[str]
) -> list[Path]:
    """Write ``DEST/labels/*.csv`` atomically (small: always rewritten)."""
    out = []
    for name, text in label_files(rows, takes, classes).items():
        path = Path(dest) / "labels" / name
        write_text_atomic(path, text)
        out.append(path)
    return out


# --------------------------------------------------------------------------- videos

ReadView = Callable[[str, str, tuple[str, ...]], Mapping[str, np.ndarray]]


def write_video(
    path: Path, kind: str, arrays: Mapping[str, np.ndarray], fps: float, video: ExportVideo = EXPORT_VIDEO
) -> int:
    """Write one take-view's RGB or body-only depth mp4, keyframes every ``video.keyframe_interval``."""
    if kind == "rgb":
        return write_mp4(path, arrays["rgb"], fps, pix_fmt=video.pix_fmt, gop=video.keyframe_interval)
    return write_depth_mp4(path, body_depth(arrays["depth"], arrays["mask"]), fps, gop=video.keyframe_interval)


def export_videos(
    dest: str | Path,
    videos: Sequence[AmarvVideo],
    takes: Mapping[str, Mapping[str, Any]],
    read_view: ReadView,
    show_progress: bool = True,
    video_settings: ExportVideo = EXPORT_VIDEO,
) -> dict[str, int]:
    """Write every planned mp4 not yet complete; ``read_view(take_id, view, modalities)``."""
    root = Path(dest) / "videos"
    if root.exists():
        remove_partials(root)
    counts = {"written": 0, "skipped": 0}
    for video in progress(videos, "amarv videos", enabled=show_progress):
        path = root / video.relpath
        if is_complete(path):
            counts["skipped"] += 1
            continue
        mods = ("rgb",) if video.kind == "rgb" else ("depth", "mask")
        arrays = read_view(video.take_id, video.view, mods)
        write_video(path, video.kind, arrays, float(takes[video.take_id]["fps"]), video_settings)
        counts["written"] += 1
    return counts
