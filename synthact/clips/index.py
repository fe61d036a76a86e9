"""The ``index`` stage: AMASS motions + BABEL labels -> the clip table.

For every labelled BABEL sequence: find its motion file, pick the frames of the
target rate (BABEL's own subsampling), cut each labelled segment into chunks of
at most ``max_seconds`` and record, per chunk, its labels and where the body
goes. The table is sorted by source file, so a sequence's clips stay together
and a render task loads each motion file once.

Bad inputs either stop the run with a message naming the file (``strict``) or
are skipped and listed in the report (``lenient``). A missing body model is a
configuration problem, not a bad input, and always stops the run.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from synthact.clips.cutting import ChunkLabels, cut_labels
from synthact.clips.records import Clip, make_clip_id, write_clip_table
from synthact.clips.resample import resample_indices
from synthact.clips.trajectory import clip_trajectory, pelvis_rest_joint
from synthact.sources.amass import Motion, MotionError, load_motion, resolve_feat_p
from synthact.sources.babel import BabelSequence, LabelFileError, LabelSegment, load_babel_file
from synthact.sources.babel_categories import category_subset

LENIENT_HINT = "set clips.on_bad_input: lenient to skip bad items and list them in the index report"


@dataclass(frozen=True)
class IndexSettings:
    """The part of the config the index stage reads."""

    amass_root: Path
    babel_dir: Path
    babel_files: tuple[str, ...]
    body_model_dir: Path
    fps: float
    max_frames: int
    min_frames: int
    categories: str
    strict: bool

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "IndexSettings":
        motion, clips = config["motion"], config["clips"]
        fps = float(clips["fps"])
        return cls(
            amass_root=Path(motion["amass_root"]),
            babel_dir=Path(motion["babel_dir"]),
            babel_files=tuple(dict.fromkeys(motion["babel_files"])),  # unique, in order
            body_model_dir=Path(motion["body_model_dir"]),
            fps=fps,
            max_frames=max(1, round(float(clips["max_seconds"]) * fps)),
            min_frames=int(clips["min_frames"]),
            categories=str(clips["categories"]),
            strict=clips["on_bad_input"] == "strict",
        )


@lru_cache(maxsize=None)
def allowed_categories(subset: str) -> frozenset[str] | None:
    """The category names kept, or ``None`` for any name (``'all'``)."""
    return None if subset == "all" else frozenset(category_subset(subset))


@dataclass(frozen=True)
class SkippedItem:
    file: str
    item: str
    reason: str


@dataclass
class IndexReport:
    """What the index stage did: counts and every bad input it skipped."""

    num_clips: int = 0
    num_sequences: int = 0  # labelled sequences whose motion was read
    num_motion_files: int = 0
    sequences_without_labels: int = 0
    chunks_outside_categories: int = 0
    duplicate_clips: int = 0
    clips_per_split: dict[str, int] = field(default_factory=dict)
    clips_per_category: dict[str, int] = field(default_factory=dict)
    skipped: list[SkippedItem] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def write(self, path: Path) -> None:
        """Write as JSON, atomically (temporary name, then rename)."""
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=1, sort_keys=True) + "\n")
        tmp.replace(path)

    def summary(self) -> str:
        splits = ", ".join(f"{s} {n}" for s, n in sorted(self.clips_per_split.items())) or "none"
        return (
            f"index: {self.num_clips} clips ({splits}) from {self.num_sequences} labelled sequences in "
            f"{self.num_motion_files} motion files, {len(self.clips_per_category)} categories; "
            f"{len(self.skipped)} bad inputs skipped"
        )


class _BadInputs:
    """Strict: re-raise with a hint. Lenient: record in the report and go on."""

    def __init__(self, strict: bool, report: IndexReport):
        self.strict = strict
        self.report = report

    def __call__(self, exc: ValueError, file: str, item: str) -> None:
        if self.strict:
            raise type(exc)(f"{exc}\n({LENIENT_HINT})") from exc
        self.report.skipped.append(SkippedItem(file=file, item=item, reason=str(exc)))


class _Progress:
    """A rich bar on a terminal; otherwise a log line to stderr every ~10 s (Slurm logs)."""

    def __init__(self, total: int, label: str):
        self.total, self.label, self.done = total, label, 0
        self.last_log = time.monotonic()
        self.bar = None
        if sys.stderr.isatty() and total > 1:
            from rich.progress import Progress

            self.bar = Progress(transient=True)
            self.task = self.bar.add_task(label, total=total)
            self.bar.start()

    def advance(self) -> None:
        self.done += 1
        if self.bar is not None:
            self.bar.advance(self.task)
        elif time.monotonic() - self.last_log >= 10.0:
            self.last_log = time.monotonic()
            print(f"{self.label}: {self.done}/{self.total}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def read_sequences(settings: IndexSettings, bad: _BadInputs) -> list[BabelSequence]:
    """Every sequence of the configured BABEL files; bad ones go to ``bad``."""
    sequences = []
    for name in settings.babel_files:
        path = settings.babel_dir / name
        try:
            sequences.extend(load_babel_file(path, on_error=lambda sid, exc: bad(exc, str(path), f"sid {sid}")))
        except LabelFileError as exc:
            bad(exc, str(path), "whole file")
    return sequences


def _group_by_motion(sequences: Iterable[BabelSequence]) -> dict[str, list[BabelSequence]]:
    """Labelled sequences per feat_p, so each motion file is read once."""
    groups: dict[str, list[BabelSequence]] = defaultdict(list)
    for sequence in sequences:
        if sequence.segments:
            groups[sequence.feat_p].append(sequence)
    return dict(sorted(groups.items()))


def _by_annotation(segments: Iterable[LabelSegment]) -> list[list[LabelSegment]]:
    """Labels grouped by annotation: overlaps are measured within one annotator's timeline."""
    groups: dict[str, list[LabelSegment]] = defaultdict(list)
    for segment in segments:
        groups[segment.annotation_id].append(segment)
    return list(groups.values())


def choose_primary(categories: tuple[str, ...], allowed: frozenset[str] | None) -> str | None:
    """``act_cat[0]``, or with a category subset the first category in it.

    BABEL emits one sample per category and keeps those in the benchmark, so a
    segment ``['rare thing', 'walk']`` is a BABEL-60 'walk' sample; the clip
    keeps it under 'walk' rather than dropping it.
    """
    return next((c for c in categories if allowed is None or c in allowed), None)


@dataclass(frozen=True)
class _MotionTimeline:
    """A motion resampled to the target rate: what every clip of it shares."""

    motion: Motion
    source: str  # path relative to the AMASS root, as found on disk
    frames: np.ndarray  # (N,) source frame of each target frame
    pelvis_rest: np.ndarray  # (3,) J0(betas)


def _load_timeline(settings: IndexSettings, path: Path) -> _MotionTimeline:
    motion = load_motion(path)
    if motion.fps < 1:
        raise MotionError(f"{path}: frame rate {motion.fps} fps is below 1 fps; cannot resample to {settings.fps:g}")
    return _MotionTimeline(
        motion=motion,
        source=path.relative_to(settings.amass_root).as_posix(),
        frames=resample_indices(motion.num_frames, motion.fps, settings.fps),
        pelvis_rest=pelvis_rest_joint(settings.body_model_dir, motion.gender, motion.betas),
    )


def _make_clip(
    settings: IndexSettings, timeline: _MotionTimeline, sequence: BabelSequence, chunk: ChunkLabels, primary: str
) -> Clip:
    motion = timeline.motion
    source_frames = timeline.frames[chunk.frame_start : chunk.frame_stop]
    path = clip_trajectory(motion.poses[source_frames, :3], motion.trans[source_frames], timeline.pelvis_rest)
    return Clip(
        # Keyed by BABEL's feat_p, not the on-disk path: ids then do not depend
        # on how the AMASS archives were unpacked.
        clip_id=make_clip_id(sequence.feat_p, chunk.label.seg_id, chunk.chunk),
        source=timeline.source,
        sequence_id=sequence.sid,
        split=sequence.split,
        segment_id=chunk.label.seg_id,
        chunk=chunk.chunk,
        fps=settings.fps,
        source_fps=motion.fps,
        frame_start=chunk.frame_start,
        frame_stop=chunk.frame_stop,
        gender=motion.gender,
        primary_category=primary,
        categories=chunk.categories,
        category_overlap=chunk.category_overlap,
        timeline=chunk.timeline,
        path_center=path.path_center,
        path_radius=path.path_radius,
        heading_deg=path.heading_deg,
    )


def clips_for_sequence(
    settings: IndexSettings, timeline: _MotionTimeline, sequence: BabelSequence, report: IndexReport
) -> list[Clip]:
    """Every clip of one labelled sequence on its resampled timeline."""
    allowed = allowed_categories(settings.categories)
    clips = []
    for labels in _by_annotation(sequence.segments):
        chunks = cut_labels(labels, settings.fps, len(timeline.frames), settings.max_frames, settings.min_frames)
        for chunk in chunks:
            primary = choose_primary(chunk.categories, allowed)
            if primary is None:
                report.chunks_outside_categories += 1
                continue
            clips.append(_make_clip(settings, timeline, sequence, chunk, primary))
    return clips


def _clip_order(clip: Clip) -> tuple:
    sid = clip.sequence_id
    return (clip.source, (0, int(sid)) if sid.isdigit() else (1, sid), clip.frame_start, clip.segment_id, clip.chunk)


def _unique(clips: list[Clip], report: IndexReport) -> list[Clip]:
    """Keep the first clip of each id; a label listed twice (say, in two files) is counted once."""
    seen: set[str] = set()
    unique = []
    for clip in clips:
        if clip.clip_id in seen:
            report.duplicate_clips += 1
            continue
        seen.add(clip.clip_id)
        unique.append(clip)
    return unique


def _collect_clips(
    settings: IndexSettings, groups: dict[str, list[BabelSequence]], report: IndexReport, bad: _BadInputs
) -> list[Clip]:
    clips: list[Clip] = []
    progress = _Progress(len(groups), "index: motion files")
    try:
        for feat_p, sequences in groups.items():
            sids = ", ".join(s.sid for s in sequences)
            file = feat_p  # until it is found on disk
            try:
                file = str(resolve_feat_p(settings.amass_root, feat_p))
                timeline = _load_timeline(settings, Path(file))
            except MotionError as exc:
                bad(exc, file, f"sid {sids}")
            else:
                report.num_motion_files += 1
                report.num_sequences += len(sequences)
                for sequence in sequences:
                    clips.extend(clips_for_sequence(settings, timeline, sequence, report))
            progress.advance()
    finally:
        progress.close()
    return clips


def build_index(config: dict[str, Any], out_path: Path, report_path: Path) -> IndexReport:
    """Build the clip table and its report.

    Args:
        config: The validated run config (``motion`` and ``clips`` sections).
        out_path: The clip table (JSON lines), written atomically.
        report_path: The report (JSON), written atomically.

    Returns:
        The report: counts per split and category, and skipped inputs.

    Raises:
        MotionError, LabelError: A bad input with ``on_bad_input: strict``.
        BodyModelError: The body model for a gender is missing or unreadable.
    """
    settings = IndexSettings.from_config(config)
    report = IndexReport(settings={k: str(v) if isinstance(v, Path) else v for k, v in asdict(settings).items()})
    bad = _BadInputs(settings.strict, report)
    sequences = read_sequences(settings, bad)
    report.sequences_without_labels = sum(1 for s in sequences if not s.segments)
    clips = _unique(sorted(_collect_clips(settings, _group_by_motion(sequences), report, bad), key=_clip_order), report)
    report.num_clips = write_clip_table(out_path, clips)
    report.clips_per_split = dict(sorted(Counter(c.split for c in clips).items()))
    report.clips_per_category = dict(sorted(Counter(c.primary_category for c in clips).items()))
    report.write(report_path)
    print(report.summary(), file=sys.stderr)
    return report
