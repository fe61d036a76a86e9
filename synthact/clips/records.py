"""The clip record: one row of the clip table that ``index`` writes.

A clip is a contiguous run of frames of one motion sequence, on the resampled
(target fps) timeline, with its labels. Its id depends only on its source, so a
clip's content never depends on which shard it lands in or on run order.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Iterator


def make_clip_id(source: str, segment_id: str, chunk: int) -> str:
    """Stable id from the clip's source identity (file, segment, chunk)."""
    digest = hashlib.sha1(f"{source}|{segment_id}|{chunk}".encode()).hexdigest()
    return f"c{digest[:15]}"


@dataclass(frozen=True)
class LabelSpan:
    """One label active over clip-local frames [start, stop)."""

    category: str
    start: int
    stop: int
    raw_label: str = ""


@dataclass(frozen=True)
class Clip:
    clip_id: str
    source: str  # motion file, relative to the motion root, as found on disk
    sequence_id: str  # BABEL sid, or the file stem without labels
    split: str  # train | val | test | none
    segment_id: str  # BABEL seg_id, or "seq" for a sequence-level label
    chunk: int  # index of this chunk within its segment
    fps: float  # target (resampled) frame rate
    source_fps: float
    frame_start: int  # first frame on the resampled timeline (inclusive)
    frame_stop: int  # last frame on the resampled timeline (exclusive)
    gender: str
    primary_category: str
    categories: tuple[str, ...]  # every category of the clip's segment
    # Fraction of the clip's frames covered by each category of any label that
    # overlaps the clip (BABEL's per-label chunk coverage).
    category_overlap: dict[str, float] = field(default_factory=dict)
    timeline: tuple[LabelSpan, ...] = ()  # every label overlapping the clip
    # Where the body goes (world XY, metres) and where it faces at the first
    # frame (degrees from +X, counter-clockwise): the camera rig needs both.
    path_center: tuple[float, float] = (0.0, 0.0)
    path_radius: float = 0.0
    heading_deg: float = 0.0

    @property
    def num_frames(self) -> int:
        return self.frame_stop - self.frame_start

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Clip":
        data = dict(data)
        data["categories"] = tuple(data["categories"])
        data["timeline"] = tuple(LabelSpan(**span) for span in data.get("timeline", ()))
        data["path_center"] = tuple(data.get("path_center", (0.0, 0.0)))
        return cls(**data)


def write_clip_table(path: str | Path, clips: Iterable[Clip]) -> int:
    """Write clips as JSON lines, atomically. Returns the number written."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    count = 0
    with open(tmp, "w") as f:
        for clip in clips:
            f.write(json.dumps(clip.to_dict(), sort_keys=True) + "\n")
            count += 1
    tmp.replace(path)
    return count


def read_clip_table(path: str | Path) -> Iterator[Clip]:
    with open(path) as f:
        for line_no, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                yield Clip.from_dict(json.loads(line))
            except (ValueError, TypeError, KeyError) as exc:
                raise ValueError(f"{path}:{line_no}: bad clip record: {exc}") from exc
