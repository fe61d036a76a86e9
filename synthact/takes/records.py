"""The take record: one row of the take table that ``index`` writes.

A take is one motion sequence x one repetition, rendered once from every view
over its spans of frames on the target-fps timeline. Its id depends only on the
sequence's identity and the repetition, so a take's content never depends on its
shard or on run order. The source labels travel with the take as given (BABEL's
segments in seconds); label protocols are tables computed afterwards
(``synthact.labels``), so relabelling never re-renders.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from synthact import atomic


def make_take_id(sequence_key: str, repetition: int) -> str:
    """Stable id from the sequence's identity (BABEL's feat_p) and the repetition."""
    digest = hashlib.sha1(f"{sequence_key}|{repetition}".encode()).hexdigest()
    return f"t{digest[:15]}"


@dataclass(frozen=True)
class SourceLabel:
    """One label of the source, as given (BABEL: a segment of a frame or sequence annotation).

    Attributes:
        seg_id: BABEL's id of the label.
        start_t, end_t: Seconds. ``end_t`` may lie past the sequence's duration, as in
            BABEL's files; the labels stage cuts it to the frames that exist.
        act_cat: Action categories in BABEL's order; ``act_cat[0]`` is primary.
        raw_label, proc_label: The annotator's text and BABEL's processed text.
        annotation_id: ``babel_lid`` of the annotation holding it.
        annotator: ``anntr_id`` of its annotator ("" when absent).
        whole_sequence: A sequence-level (``seq_ann``) label.
        label_file: The file it came from (``train.json``, ``extra_train.json``...).
    """

    seg_id: str
    start_t: float
    end_t: float
    act_cat: tuple[str, ...]
    raw_label: str
    proc_label: str
    annotation_id: str
    annotator: str
    whole_sequence: bool
    label_file: str

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SourceLabel:
        return cls(**{**data, "act_cat": tuple(data["act_cat"])})


@dataclass(frozen=True)
class Take:
    """One take: a sequence x repetition, its frames and its source labels.

    Attributes:
        take_id: ``make_take_id(sequence_key, repetition)``.
        sequence_key: BABEL's ``feat_p`` (ids do not depend on how AMASS was unpacked).
        source: The motion file, relative to the motion root, as found on disk.
        sequence_id: BABEL's sid (the first one, when several sids share a file).
        split: train | val | test | none.
        repetition: 0-based; each repetition draws its own appearance and cameras.
        fps: Target frame rate; ``source_fps`` the motion file's.
        num_sequence_frames: Length of the whole sequence on the target timeline.
        duration_s: The sequence's duration as the labels give it (BABEL ``dur``).
        spans: ``[start, stop)`` ranges of target-timeline frames rendered, in order.
        gender: Body model gender of the motion.
        labels: The source labels, as given.
        path_center, path_radius, heading_deg: Mean pelvis XY over the take's frames,
            how far the pelvis gets from it, and where the body faces at the first frame.
        capture_setup, capture_replication: The source's own capture ids where its name
            carries them (NTU RGB+D: ``S...``/``R...``), for rigs that mirror its cameras.
        partners: The motion files of the take's other bodies, relative to the motion
            root like ``source``, in the source's body order: person 0 is ``source``,
            person k is ``partners[k - 1]``. Every body shares the take's timeline
            (same frame rate and length); empty for a one-person take.
    """

    take_id: str
    sequence_key: str
    source: str
    sequence_id: str
    split: str
    repetition: int
    fps: float
    source_fps: float
    num_sequence_frames: int
    duration_s: float
    spans: tuple[tuple[int, int], ...]
    gender: str
    labels: tuple[SourceLabel, ...] = ()
    path_center: tuple[float, float] = (0.0, 0.0)
    path_radius: float = 0.0
    heading_deg: float = 0.0
    capture_setup: int | None = None
    capture_replication: int | None = None
    partners: tuple[str, ...] = ()

    @property
    def num_persons(self) -> int:
        return 1 + len(self.partners)

    @property
    def num_frames(self) -> int:
        return sum(stop - start for start, stop in self.spans)

    def frames(self) -> np.ndarray:
        """(num_frames,) target-timeline frame of each take frame."""
        if not self.spans:
            return np.zeros(0, np.int64)
        return np.concatenate([np.arange(a, b, dtype=np.int64) for a, b in self.spans])

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Take:
        return cls(
            **{
                **data,
                "spans": tuple((int(a), int(b)) for a, b in data["spans"]),
                "labels": tuple(SourceLabel.from_dict(label) for label in data.get("labels", ())),
                "path_center": tuple(data.get("path_center", (0.0, 0.0))),
                "partners": tuple(data.get("partners", ())),
            }
        )


def write_take_table(path: str | Path, takes: Iterable[Take]) -> int:
    """Write takes as JSON lines, atomically. Returns the number written."""
    return atomic.write_lines(path, (json.dumps(take.to_dict(), sort_keys=True) for take in takes))


def read_take_table(path: str | Path) -> Iterator[Take]:
    with open(path) as f:
        for line_no, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                yield Take.from_dict(json.loads(line))
            except (ValueError, TypeError, KeyError) as exc:
                raise ValueError(f"{path}:{line_no}: bad take record: {exc}") from exc
