"""Clip tables: what a label protocol makes of the rendered takes.

A clip is (take, frame range, label or labels, split). One protocol writes two
small files next to the shards, both listed and checksummed in the manifest:

- ``labels/<protocol>/clips.jsonl``: one ``ClipRow`` per line;
- ``labels/<protocol>/classes.json``: the class table (``ClassTable``), names in
  index order, so a training loop reads integer labels without a second lookup.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from synthact import atomic
from synthact.errors import SynthActError

SPLIT_ORDER = {"train": 0, "val": 1, "test": 2}


def make_clip_id(take_id: str, protocol: str, segment_id: str, chunk: int) -> str:
    """Stable id from (take, protocol, segment, chunk)."""
    digest = hashlib.sha1(f"{take_id}|{protocol}|{segment_id}|{chunk}".encode()).hexdigest()
    return f"c{digest[:15]}"


@dataclass(frozen=True)
class ClipRow:
    """One clip of one protocol.

    Frames are given twice: on the sequence's target-fps timeline
    (``frame_start``/``frame_stop``, as BABEL counts them) and as indices into
    the take's arrays in the shard (``take_frame_start``/``take_frame_stop``).
    ``timeline`` lists (category, start, stop) of every label active in the clip,
    clip-local frames; ``category_overlap`` the fraction of the clip each covers.
    """

    clip_id: str
    protocol: str
    take_id: str
    shard: str
    split: str
    repetition: int
    sequence_id: str
    source: str
    segment_id: str
    chunk: int
    frame_start: int
    frame_stop: int
    take_frame_start: int
    take_frame_stop: int
    start_t: float
    end_t: float
    label: str
    label_index: int
    labels: tuple[str, ...]
    label_indices: tuple[int, ...]
    raw_label: str
    proc_label: str
    annotator: str
    category_overlap: dict[str, float] = field(default_factory=dict)
    timeline: tuple[tuple[str, int, int], ...] = ()

    @property
    def num_frames(self) -> int:
        return self.take_frame_stop - self.take_frame_start

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ClipRow:
        return cls(
            **{
                **data,
                "labels": tuple(data["labels"]),
                "label_indices": tuple(data["label_indices"]),
                "timeline": tuple((str(c), int(a), int(b)) for c, a, b in data.get("timeline", ())),
            }
        )


@dataclass(frozen=True)
class ClassTable:
    """A protocol's classes in index order.

    Attributes:
        protocol: The protocol's name.
        classes: Class names; a clip's ``label_index`` indexes this list.
        order: How the order was chosen: ``babel`` (BABEL's frequency order), ``dataset``
            (the source dataset's official order) or ``frequency`` (built from the data:
            most clips first, then by name).
        babel150_index: Each class's index in BABEL-150, -1 if it is none of them.
        counts: split -> class -> number of clips.
    """

    protocol: str
    classes: tuple[str, ...]
    order: str
    babel150_index: tuple[int, ...]
    counts: dict[str, dict[str, int]] = field(default_factory=dict)

    def index(self, name: str) -> int:
        return self.classes.index(name)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ClassTable:
        return cls(**{**data, "classes": tuple(data["classes"]), "babel150_index": tuple(data["babel150_index"])})


def write_protocol(clips_path: Path, classes_path: Path, rows: Iterable[ClipRow], classes: ClassTable) -> int:
    """Write one protocol's clip table and class table, atomically; returns the clip count."""
    count = atomic.write_lines(clips_path, (json.dumps(r.to_dict(), sort_keys=True) for r in rows))
    atomic.write_json(classes_path, classes.to_dict(), indent=1)
    return count


def read_clip_rows(path: str | Path) -> Iterator[ClipRow]:
    with open(path) as f:
        for line_no, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                yield ClipRow.from_dict(json.loads(line))
            except (ValueError, TypeError, KeyError) as exc:
                raise ValueError(f"{path}:{line_no}: bad clip record: {exc}") from exc


def read_class_table(path: str | Path) -> ClassTable:
    try:
        return ClassTable.from_dict(json.loads(Path(path).read_text()))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: unreadable class table ({exc})") from exc


class UnknownSplitError(SynthActError, ValueError):
    """A split name that no clip of the table has; the message lists the ones that exist."""


def split_sizes(rows: Iterable[ClipRow]) -> dict[str, int]:
    """split -> clips, in the order train, val, test, then any other name."""
    sizes = Counter(r.split for r in rows)
    return {s: sizes[s] for s in sorted(sizes, key=lambda s: (SPLIT_ORDER.get(s, len(SPLIT_ORDER)), s))}


def rows_of_split(rows: Iterable[ClipRow], name: str, where: str) -> list[ClipRow]:
    """The rows of split ``name``; an unknown name is refused, naming the splits that exist."""
    rows = list(rows)
    chosen = [r for r in rows if r.split == name]
    if not chosen:
        have = ", ".join(f"{s} ({n} clips)" for s, n in split_sizes(rows).items()) or "none"
        raise UnknownSplitError(f"{where}: no split {name!r}; the splits here are: {have}")
    return chosen
