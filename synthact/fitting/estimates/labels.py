"""Labels for estimated motion, written in BABEL's dense form so the index reads them unchanged.

Three sources (``motion.estimates_labels``):

- ``ntu``: video names are NTU RGB+D sample names (``S001C001P001R001A001_rgb`` as the
  videos ship, or without ``_rgb``): the class and the splits come from the readers
  and protocols the skeleton fit uses, so a user rebuilds Synthetic NTU from
  estimates of the original videos.
- ``smarthome``: the same for Toyota Smarthome names (``Cook.Cut_p02_r00_v02_c03``).
- a CSV path with the header ``video,start_s,end_s,label`` and an optional ``split``
  column (train, val or test; default train). ``video`` is the estimator's name of
  the video (``<estimates_dir>/<video>/`` of WHAM, GVHMR and VIBE, ``results/demo_<video>.pkl``
  of PHALP, ``results/<video>/`` of TRAM, ``<video>_<iter>_world_results.npz`` of SLAHMR).
  Times are seconds of the video; a motion that starts at video frame f has them
  shifted by f / fps and cut to the motion.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from synthact.fitting.estimates.records import EstimateError
from synthact.fitting.export import babel_entry
from synthact.fitting.skeleton_sources import DATASETS, class_name
from synthact.safe_names import UnsafePathError, file_name
from synthact.sources.ntu import NtuSampleId
from synthact.sources.smarthome import SmarthomeSampleId
from synthact.text_inputs import TextEncodingError, read_text

DATASET_LABELS = ("ntu", "smarthome")
CSV_COLUMNS = ("video", "start_s", "end_s", "label")
SPLITS = ("train", "val", "test")
_NTU_VIDEO_SUFFIX = re.compile(r"_rgb$")


def sample_name(labels: str, video: str) -> str:
    """The dataset sample a video name stands for (NTU videos end in ``_rgb``)."""
    return _NTU_VIDEO_SUFFIX.sub("", video) if labels == "ntu" else video


def dataset_sample(labels: str, video: str) -> NtuSampleId | SmarthomeSampleId:
    """The parsed NTU / Smarthome sample id of ``video``; EstimateError if it is not named like one."""
    name = sample_name(labels, video)
    try:
        return DATASETS[labels].parse(name)
    except ValueError as exc:
        raise EstimateError(
            f"video {video!r}: not named like a {DATASETS[labels].title} sample ({exc}); "
            "name the labels in a CSV (motion.estimates_labels: path/to/labels.csv)"
        ) from exc


def dataset_category(labels: str, video: str) -> str:
    return class_name(dataset_sample(labels, video))


@dataclass(frozen=True)
class CsvLabel:
    start_s: float
    end_s: float
    label: str
    split: str
    line: int


@dataclass
class CsvLabels:
    """The rows of a labels CSV, by video."""

    path: Path
    rows: dict[str, list[CsvLabel]] = field(default_factory=dict)

    def split_of(self, video: str) -> str:
        splits = {row.split for row in self.rows.get(video, [])}
        if len(splits) > 1:
            raise EstimateError(f"{self.path}: video {video!r} has rows in several splits {sorted(splits)}")
        return splits.pop() if splits else "train"


def read_label_csv(path: Path) -> CsvLabels:
    """Parse and check a labels CSV; errors name the file and the line."""
    if not path.is_file():
        raise EstimateError(f"motion.estimates_labels: {path} is not a file")
    try:
        text = read_text(path)
    except TextEncodingError as exc:
        raise EstimateError(f"motion.estimates_labels: {exc}") from None
    with io.StringIO(text, newline="") as handle:
        reader = csv.DictReader(handle)
        header = tuple(name.strip() for name in (reader.fieldnames or ()))
        missing = [c for c in CSV_COLUMNS if c not in header]
        if missing:
            raise EstimateError(
                f"{path}: line 1: missing column(s) {missing}; expected {','.join(CSV_COLUMNS)}[,split]"
            )
        out = CsvLabels(path)
        for line, row in enumerate(reader, start=2):
            row = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
            out.rows.setdefault(row["video"], []).append(_csv_row(path, line, row))
    return out


def _csv_row(path: Path, line: int, row: dict[str, str]) -> CsvLabel:
    where = f"{path}: line {line}"
    if not row["video"] or not row["label"]:
        raise EstimateError(f"{where}: 'video' and 'label' must not be empty")
    try:
        file_name(row["video"], "video", where)
    except UnsafePathError as exc:
        raise EstimateError(str(exc)) from None
    if any(unicodedata.category(ch) == "Cc" for ch in row["label"]):
        # A label becomes a class name, one line of the class tables and of the exports' CSVs.
        raise EstimateError(f"{where}: label {row['label']!r} holds a control character (a line break?)")
    try:
        start, end = float(row["start_s"]), float(row["end_s"])
    except ValueError as exc:
        raise EstimateError(f"{where}: start_s and end_s must be numbers ({exc})") from exc
    if not (0 <= start < end):
        raise EstimateError(f"{where}: needs 0 <= start_s < end_s, got {start}, {end}")
    split = row.get("split") or "train"
    if split not in SPLITS:
        raise EstimateError(f"{where}: split {split!r} is not one of {SPLITS}")
    return CsvLabel(start, end, row["label"], split, line)


def csv_entry(
    name: str, rows: list[CsvLabel], feat_p: str, num_frames: int, fps: float, start_s: float
) -> dict[str, Any] | None:
    """A BABEL dense entry with one frame-level label per CSV row that overlaps the motion.

    Args:
        start_s: the video time of the motion's first frame (its first tracked frame / fps).

    Returns:
        The entry, or None when no row overlaps the motion.
    """
    dur = num_frames / fps
    labels: list[dict[str, Any]] = []
    for row in rows:
        start, end = max(row.start_s - start_s, 0.0), min(row.end_s - start_s, dur)
        if end <= start:
            continue
        digest = hashlib.sha1(f"{name}|{row.line}".encode()).hexdigest()[:8]
        labels.append(
            {
                "act_cat": [row.label],
                "proc_label": row.label,
                "raw_label": row.label,
                "seg_id": f"{name}-{digest}",
                "start_t": round(start, 6),
                "end_t": round(end, 6),
            }
        )
    if not labels:
        return None
    entry = babel_entry(name, labels[0]["act_cat"][0], feat_p, num_frames, fps)
    entry["frame_ann"] = {
        "anntr_id": "synthact-estimates",
        "babel_lid": f"{name}-frames",
        "mul_act": len(labels) > 1,
        "labels": labels,
    }
    entry["seq_ann"]["labels"] = []  # the frame labels say it all
    return entry
