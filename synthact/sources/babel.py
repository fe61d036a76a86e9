"""Read BABEL label files (dense ``train/val/test.json`` and ``extra_*.json``).

Each sequence becomes a ``BabelSequence`` with its labelled segments in
seconds. Which labels a sequence contributes follows BABEL's own
action-recognition builder: the frame-level annotation when there is one,
otherwise the sequence-level annotation stretched over the whole sequence.
Labels whose ``act_cat`` is null or empty carry no category, so BABEL skips
them and so do we.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from synthact.errors import SynthActError
from synthact.safe_names import UnsafePathError, file_name, normalise_relative
from synthact.text_inputs import TextEncodingError, read_text

# The key of a sequence entry that names the motion files of its take's other bodies
# (feat_p-style paths, in the take's body order from person 1 on). SynthAct's fit stages
# write it; BABEL's own readers ignore keys they do not know.
PARTNERS_KEY = "synthact_partner_feat_p"
TIME_TOLERANCE_S = 0.25  # real labels overshoot ``dur`` slightly (3.834 s in a 3.83 s sequence)
SPLITS = ("train", "val", "test")
_LABEL_KEYS = ("seg_id", "act_cat", "raw_label", "proc_label")
_TIME_KEYS = ("start_t", "end_t")

ErrorHandler = Callable[[str, "LabelError"], None]  # (sid, error)


class LabelError(SynthActError, ValueError):
    """A label file or one of its sequences is malformed (the message says where)."""


class LabelFileError(LabelError):
    """A whole label file is unusable: missing, not JSON, or not a dict of sequences."""


@dataclass(frozen=True)
class LabelSegment:
    """One BABEL label: an action over [start_t, end_t) seconds.

    Attributes:
        seg_id: BABEL's id of the label.
        start_t: Start, seconds (0 for a sequence-level label).
        end_t: End, seconds (the sequence duration for a sequence-level label).
        act_cat: Its action categories, in BABEL's order; ``act_cat[0]`` is primary.
        raw_label: The annotator's free text.
        proc_label: BABEL's processed text.
        annotation_id: ``babel_lid`` of the annotation holding the label. Labels
            of one annotation describe the same timeline; those of different
            annotators (extra files) must not be mixed when measuring overlap.
        whole_sequence: True for a sequence-level (``seq_ann``) label.
        annotator: ``anntr_id`` of the annotation's annotator ("" when absent).
    """

    seg_id: str
    start_t: float
    end_t: float
    act_cat: tuple[str, ...]
    raw_label: str
    proc_label: str
    annotation_id: str = ""
    whole_sequence: bool = False
    annotator: str = ""


@dataclass(frozen=True)
class BabelSequence:
    """One BABEL sequence and the labels it contributes."""

    sid: str
    feat_p: str
    dur: float
    split: str
    label_file: str  # the file it was read from (name only)
    segments: tuple[LabelSegment, ...]
    # Dense files: "frame" when the entry has a frame_ann, else "seq" (BABEL's choice
    # for this sid, which an extra file's entry of the same sid follows).
    annotation_type: str = ""
    # The motion files of the take's other bodies (``PARTNERS_KEY``), relative to the
    # AMASS root like ``feat_p``, in body order from person 1 on; empty for one body.
    partners: tuple[str, ...] = ()


def split_from_filename(path: Path) -> str:
    """``train``/``val``/``test`` from the file name (``extra_train`` is train); else ``none``."""
    tokens = set(re.split(r"[^a-z0-9]+", Path(path).stem.lower()))
    found = [split for split in SPLITS if split in tokens]
    return found[0] if len(found) == 1 else "none"


def load_babel_file(
    path: Path,
    on_error: ErrorHandler | None = None,
    time_tolerance: float = TIME_TOLERANCE_S,
    dense_types: dict[str, str] | None = None,
) -> list[BabelSequence]:
    """Read one BABEL file, dense or extra; sequences sorted by sid.

    Args:
        path: The JSON file.
        on_error: Called with the sid and the error of each malformed
            sequence, which is then skipped, and of each malformed label,
            which alone is skipped (the sequence keeps its good labels).
            ``None`` raises on the first one.
        time_tolerance: Seconds a label may stick out of ``[0, dur]``. A start
            before 0 is clamped to 0; an end past ``dur`` is kept, as BABEL does.
        dense_types: sid -> ``annotation_type`` of the dense files' entries: an
            extra file's entry for such a sid takes the same annotation type.

    Raises:
        LabelFileError: The file is missing, not JSON, or not a dict of sequences.
        LabelError: A sequence is malformed and ``on_error`` is ``None``.
    """
    path = Path(path)
    content = _read_json(path)
    split = split_from_filename(path)
    sequences = []
    for sid in sorted(content, key=_sid_order):
        # Lenient: a bad label is reported and dropped, its sequence's good labels are kept.
        on_label_error = None if on_error is None else (lambda exc, sid=str(sid): on_error(sid, exc))
        try:
            prefer = (dense_types or {}).get(str(sid), "")
            sequences.append(
                _parse_sequence(path, str(sid), content[sid], split, time_tolerance, prefer, on_label_error)
            )
        except LabelError as exc:
            if on_error is None:
                raise
            on_error(str(sid), exc)
    return sequences


def _sid_order(sid: str) -> tuple[int, int | str]:
    """Numeric sids in numeric order, any others after them by name."""
    return (0, int(sid)) if str(sid).isdigit() else (1, str(sid))


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise LabelFileError(f"{path}: label file not found")
    try:
        content = json.loads(read_text(path))
    except TextEncodingError as exc:
        raise LabelFileError(str(exc)) from None
    except (OSError, json.JSONDecodeError) as exc:
        raise LabelFileError(f"{path}: not a readable JSON file ({exc})") from exc
    if not isinstance(content, dict):
        raise LabelFileError(f"{path}: expected a JSON object keyed by sequence id, got {type(content).__name__}")
    return content


def _parse_sequence(
    path: Path,
    sid: str,
    entry: Any,
    split: str,
    tolerance: float,
    prefer: str = "",
    on_label_error: Callable[[LabelError], None] | None = None,
) -> BabelSequence:
    where = f"{path}: sid {sid}"
    try:
        file_name(sid, "sid", path)  # exports name a folder after it (AMARV's sequence_<sid>)
    except UnsafePathError as exc:
        raise LabelError(str(exc)) from None
    if not isinstance(entry, dict):
        raise LabelError(f"{where}: sequence entry is {type(entry).__name__}, expected an object")
    for key in ("feat_p", "dur"):
        if key not in entry:
            raise LabelError(f"{where}: missing key {key!r}")
    feat_p = entry["feat_p"]
    if not isinstance(feat_p, str) or not feat_p:
        raise LabelError(f"{where}: 'feat_p' must be a non-empty string, got {feat_p!r}")
    try:
        normalise_relative(feat_p, "the AMASS root")  # refused here, before any file is looked for
    except UnsafePathError as exc:
        raise LabelError(f"{where}: feat_p {exc}") from None
    partners = _partners(where, entry)
    dur = _number(entry["dur"], f"{where}: 'dur'")
    if dur <= 0:
        raise LabelError(f"{where}: 'dur' is {dur}; a sequence must last longer than 0 s")
    segments = []
    for annotation_id, annotator, label, whole in _chosen_labels(where, entry, prefer):
        try:
            segments.append(_parse_label(where, label, annotation_id, dur, whole, tolerance, annotator))
        except LabelError as exc:
            if on_label_error is None:
                raise
            on_label_error(exc)
    return BabelSequence(
        sid=sid,
        feat_p=feat_p,
        dur=dur,
        split=split,
        label_file=path.name,
        segments=tuple(s for s in segments if s is not None),
        annotation_type="" if _is_extra(entry) else ("frame" if entry.get("frame_ann") is not None else "seq"),
        partners=partners,
    )


def _partners(where: str, entry: dict[str, Any]) -> tuple[str, ...]:
    """The entry's partner motion files, checked like ``feat_p``; none when the key is absent."""
    value = entry.get(PARTNERS_KEY, [])
    if not isinstance(value, list) or not all(isinstance(p, str) and p for p in value):
        raise LabelError(f"{where}: {PARTNERS_KEY!r} must be a list of motion file paths, got {value!r}")
    for partner in value:
        try:
            normalise_relative(partner, "the AMASS root")
        except UnsafePathError as exc:
            raise LabelError(f"{where}: {PARTNERS_KEY} {exc}") from None
    if entry["feat_p"] in value or len(set(value)) < len(value):
        raise LabelError(f"{where}: {PARTNERS_KEY!r} names a motion file twice (or feat_p itself): {value!r}")
    return tuple(value)


def _is_extra(entry: dict[str, Any]) -> bool:
    return "frame_anns" in entry or "seq_anns" in entry


def _chosen_labels(where: str, entry: dict[str, Any], prefer: str = "") -> list[tuple[str, str, Any, bool]]:
    """(annotation id, annotator, raw label, whole-sequence flag) for the labels BABEL would use.

    Dense entries hold one ``frame_ann`` and one ``seq_ann``: a ``frame_ann`` that
    is not null is used even when its label list is empty (then the sequence gives
    no samples, as in BABEL's builder); otherwise the ``seq_ann``. Extra entries hold
    lists ``frame_anns``/``seq_anns`` (one per annotator): they take the type that
    the dense file chose for the same sid (``prefer``), else frame-level labels win.
    """
    if _is_extra(entry):
        frame = [a for a in (entry.get("frame_anns") or []) if _labels_of(where, a)]
        if prefer == "seq" or (prefer != "frame" and not frame):
            annotations, whole = entry.get("seq_anns") or [], True
        else:
            annotations, whole = frame, False
    elif entry.get("frame_ann") is not None:
        annotations, whole = [entry["frame_ann"]], False
    else:
        annotations, whole = ([entry["seq_ann"]] if entry.get("seq_ann") is not None else []), True
    if not isinstance(annotations, list):
        raise LabelError(f"{where}: annotation list is {type(annotations).__name__}, expected a list")
    chosen: list[tuple[str, str, Any, bool]] = []
    for index, annotation in enumerate(annotations):
        annotation_id = str(annotation.get("babel_lid") or index) if isinstance(annotation, dict) else str(index)
        annotator = str(annotation.get("anntr_id") or "") if isinstance(annotation, dict) else ""
        chosen.extend((annotation_id, annotator, label, whole) for label in _labels_of(where, annotation))
    return chosen


def _labels_of(where: str, annotation: Any) -> list[Any]:
    """An annotation's labels; null labels (the test file) mean none."""
    if not isinstance(annotation, dict):
        raise LabelError(f"{where}: annotation is {type(annotation).__name__}, expected an object")
    if "labels" not in annotation:
        raise LabelError(f"{where}: annotation {annotation.get('babel_lid', '?')} is missing key 'labels'")
    labels = annotation["labels"]
    if labels is None:
        return []
    if not isinstance(labels, list):
        raise LabelError(f"{where}: 'labels' is {type(labels).__name__}, expected a list")
    return labels


def _parse_label(
    where: str, label: Any, annotation_id: str, dur: float, whole: bool, tolerance: float, annotator: str = ""
) -> LabelSegment | None:
    """Validate one label; ``None`` for a label without categories (BABEL skips those)."""
    if not isinstance(label, dict):
        raise LabelError(f"{where}: label is {type(label).__name__}, expected an object")
    seg_id = label.get("seg_id")
    where = f"{where}: seg_id {seg_id}"
    required = _LABEL_KEYS if whole else _LABEL_KEYS + _TIME_KEYS
    missing = [k for k in required if k not in label]
    if missing:
        raise LabelError(f"{where}: missing key(s) {missing}")
    if not isinstance(seg_id, str) or not seg_id:
        raise LabelError(f"{where}: 'seg_id' must be a non-empty string")
    categories = _categories(where, label["act_cat"])
    if not categories:
        return None
    start, end = (0.0, dur) if whole else _times(where, label, dur, tolerance)
    return LabelSegment(
        seg_id=seg_id,
        start_t=start,
        end_t=end,
        act_cat=categories,
        raw_label=str(label["raw_label"] or ""),
        proc_label=str(label["proc_label"] or ""),
        annotation_id=annotation_id,
        whole_sequence=whole,
        annotator=annotator,
    )


def _categories(where: str, act_cat: Any) -> tuple[str, ...]:
    if act_cat is None:
        return ()
    if not isinstance(act_cat, list) or not all(isinstance(c, str) and c for c in act_cat):
        raise LabelError(f"{where}: 'act_cat' must be a list of category names, got {act_cat!r}")
    for category in act_cat:
        if any(unicodedata.category(ch) == "Cc" for ch in category):
            # A category becomes a class name: one line of the class tables and of the exports' CSVs.
            raise LabelError(f"{where}: category {category!r} holds a control character (a line break?)")
    return tuple(act_cat)


def _times(where: str, label: dict[str, Any], dur: float, tolerance: float) -> tuple[float, float]:
    """Start and end in seconds, validated; a start before 0 becomes 0, an end past ``dur`` stays.

    BABEL's builder keeps ``end_t`` as given, so a label ending at 3.834 s of a
    3.83 s sequence still reaches the sequence's last frame.
    """
    start = _number(label["start_t"], f"{where}: 'start_t'")
    end = _number(label["end_t"], f"{where}: 'end_t'")
    if end < start:
        raise LabelError(f"{where}: ends before it starts (start_t {start} s, end_t {end} s)")
    if start < -tolerance or end > dur + tolerance:
        raise LabelError(f"{where}: segment [{start}, {end}] s lies outside the sequence [0, {dur}] s")
    return min(max(start, 0.0), dur), max(end, 0.0)


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise LabelError(f"{what} must be a finite number, got {value!r}")
    return float(value)
