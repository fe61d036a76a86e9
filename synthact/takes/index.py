"""The ``index`` stage: AMASS motions + BABEL labels -> the take table.

For every sequence of the configured BABEL files: find its motion file, pick
the frames of the target rate (BABEL's own subsampling), choose the span to
render (the whole sequence, or the union of its labelled segments), and write
one take per repetition with the source labels as given. No label protocol is
applied here: chunks, segments and category subsets are the ``labels`` stage's
business, so changing them never re-renders.

A sequence whose BABEL entry names partner motion files (a fitted two-person
sample, or every track of a video) becomes a take of several bodies: each partner
file must load and share body 0's frame count and frame rate, and the take's path
centre and radius cover every body's pelvis over the frames it is present.

The table is sorted by source file, so a render task loads each motion once.
Bad inputs either stop the run with a message naming the file (``strict``) or
are skipped and listed in the report (``lenient``). A missing body model is a
configuration problem, not a bad input, and always stops the run.
"""

from __future__ import annotations

import re
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from synthact import atomic
from synthact.config_sections import ClipsSection, MotionSection, RenderSection
from synthact.progress import Progress
from synthact.sources.amass import Motion, MotionError, load_motion, resolve_feat_p
from synthact.sources.babel import BabelSequence, LabelError, LabelFileError, LabelSegment, load_babel_file
from synthact.sources.ntu import NtuNameError, parse_ntu_name
from synthact.takes.records import SourceLabel, Take, make_take_id, write_take_table
from synthact.takes.resample import resample_indices
from synthact.takes.timeline import take_spans
from synthact.takes.trajectory import BodyPath, group_trajectory, pelvis_rest_joint

LENIENT_HINT = "set clips.on_bad_input: lenient to skip bad items and list them in the index report"
_NTU_NAME = re.compile(r"S\d{3}C\d{3}P\d{3}R\d{3}A\d{3}")


@dataclass(frozen=True)
class IndexSettings:
    """The part of the config the index stage reads (``synthact.stages`` lists the same keys)."""

    amass_root: Path
    babel_dir: Path
    babel_files: tuple[str, ...]
    body_model_dir: Path
    fps: float
    strict: bool
    span: str
    merge_gap_s: float
    repetitions: int

    @classmethod
    def from_sections(cls, motion: MotionSection, clips: ClipsSection, render: RenderSection) -> IndexSettings:
        return cls(
            amass_root=Path(motion.amass_root),
            babel_dir=Path(motion.babel_dir),
            babel_files=tuple(dict.fromkeys(motion.babel_files)),  # unique, in order
            body_model_dir=Path(motion.body_model_dir),
            fps=float(clips.fps),
            strict=clips.strict,
            span=render.span,
            merge_gap_s=float(render.span_merge_gap_s),
            repetitions=render.repetitions,
        )

    @property
    def merge_gap_frames(self) -> int:
        return round(self.merge_gap_s * self.fps)


@dataclass(frozen=True)
class SkippedItem:
    file: str
    item: str
    reason: str


@dataclass
class IndexReport:
    """What the index stage did: counts, notes on what it changed, every bad input it skipped."""

    num_takes: int = 0
    num_frames: int = 0  # frames to render per view, all takes
    num_sequences: int = 0  # sequences whose motion was read
    num_motion_files: int = 0
    sequences_without_labels: int = 0
    takes_per_split: dict[str, int] = field(default_factory=dict)
    frames_per_split: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    skipped: list[SkippedItem] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def write(self, path: Path) -> None:
        atomic.write_json(path, self.to_dict(), indent=1)

    def summary(self) -> str:
        splits = ", ".join(f"{s} {n}" for s, n in sorted(self.takes_per_split.items())) or "none"
        return (
            f"index: {self.num_takes} takes ({splits}), {self.num_frames} frames per view, from "
            f"{self.num_sequences} sequences in {self.num_motion_files} motion files; "
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


def read_sequences(settings: IndexSettings, bad: _BadInputs) -> list[BabelSequence]:
    """Every sequence of the configured BABEL files; bad ones go to ``bad``.

    Dense files are read first: an extra file's entry for a sid of a dense file
    takes the annotation type (frame or sequence) that the dense file chose.
    """
    names = sorted(settings.babel_files, key=lambda n: n.startswith("extra"))
    dense_types: dict[str, str] = {}
    sequences = []
    for name in names:
        path = settings.babel_dir / name
        try:
            # load_babel_file calls on_error before it returns, so the lambda sees this iteration's path.
            on_error = lambda sid, exc: bad(exc, str(path), f"sid {sid}")  # noqa: B023, E731
            found = load_babel_file(path, on_error=on_error, dense_types=dense_types)
        except LabelFileError as exc:
            bad(exc, str(path), "whole file")
            continue
        dense_types.update({s.sid: s.annotation_type for s in found if s.annotation_type})
        sequences.extend(found)
    return sequences


def group_by_motion(sequences: Iterable[BabelSequence]) -> dict[str, list[BabelSequence]]:
    """Labelled sequences per feat_p (dense and extra entries together), so each motion is read once.

    A sequence without a single usable label (BABEL's test file withholds them)
    would give no clip to any protocol, so it is not rendered.
    """
    groups: dict[str, list[BabelSequence]] = defaultdict(list)
    for sequence in sequences:
        groups[sequence.feat_p].append(sequence)
    return dict(sorted((k, v) for k, v in groups.items() if any(s.segments for s in v)))


def source_label(segment: LabelSegment, label_file: str) -> SourceLabel:
    return SourceLabel(
        seg_id=segment.seg_id,
        start_t=segment.start_t,
        end_t=segment.end_t,
        act_cat=segment.act_cat,
        raw_label=segment.raw_label,
        proc_label=segment.proc_label,
        annotation_id=segment.annotation_id,
        annotator=segment.annotator,
        whole_sequence=segment.whole_sequence,
        label_file=label_file,
    )


def _sequence_labels(sequences: list[BabelSequence]) -> tuple[SourceLabel, ...]:
    """Every label of the sequence; one listed again (say, in a second file) is kept once, the first."""
    labels: dict[tuple, SourceLabel] = {}
    for sequence in sequences:
        for segment in sequence.segments:
            key = (segment.annotation_id, segment.seg_id, segment.start_t, segment.end_t, segment.act_cat)
            labels.setdefault(key, source_label(segment, sequence.label_file))
    return tuple(labels.values())


@dataclass(frozen=True)
class _Body:
    """One body's motion file, as found on disk."""

    motion: Motion
    source: str  # path relative to the AMASS root
    pelvis_rest: np.ndarray  # (3,) J0(betas)

    def path(self, source_frames: np.ndarray) -> BodyPath:
        return body_path(self.motion, self.pelvis_rest, source_frames)


def body_path(motion: Motion, pelvis_rest: np.ndarray, source_frames: np.ndarray) -> BodyPath:
    """A motion's pelvis path over ``source_frames``, with the frames it is present in."""
    present = None if motion.present is None else motion.present[source_frames]
    return BodyPath(motion.trans[source_frames], pelvis_rest, present)


@dataclass(frozen=True)
class _Timeline:
    """A motion resampled to the target rate: what every take of it shares."""

    motion: Motion
    source: str  # path relative to the AMASS root, as found on disk
    frames: np.ndarray  # (N,) source frame of each target frame
    pelvis_rest: np.ndarray  # (3,) J0(betas)
    partners: tuple[_Body, ...] = ()  # the take's other bodies, in body order


def _load_body(settings: IndexSettings, path: Path) -> _Body:
    motion = load_motion(path)
    source = path.relative_to(settings.amass_root).as_posix()
    return _Body(motion, source, pelvis_rest_joint(settings.body_model_dir, motion.gender, motion.betas))


def _load_timeline(settings: IndexSettings, path: Path, partners: tuple[str, ...] = ()) -> _Timeline:
    """Body 0's motion on the target timeline, and its partners' motions checked against it."""
    body = _load_body(settings, path)
    motion = body.motion
    if motion.fps < 1:
        raise MotionError(f"{path}: frame rate {motion.fps} fps is below 1 fps; cannot resample to {settings.fps:g}")
    return _Timeline(
        motion=motion,
        source=body.source,
        frames=resample_indices(motion.num_frames, motion.fps, settings.fps),
        pelvis_rest=body.pelvis_rest,
        partners=tuple(_load_partner(settings, feat_p, body) for feat_p in partners),
    )


def _load_partner(settings: IndexSettings, feat_p: str, first: _Body) -> _Body:
    """A partner's motion, which must share body 0's timeline (frame count and rate)."""
    path = resolve_feat_p(settings.amass_root, feat_p)
    partner = _load_body(settings, path)
    same = partner.motion.num_frames == first.motion.num_frames and abs(partner.motion.fps - first.motion.fps) < 1e-6
    if not same:
        raise MotionError(
            f"{path}: a partner of {first.source} has {partner.motion.num_frames} frames at "
            f"{partner.motion.fps:g} fps, but {first.source} has {first.motion.num_frames} at "
            f"{first.motion.fps:g}; every body of a take shares its timeline: refit or reconvert the sample"
        )
    return partner


def partners_of(feat_p: str, sequences: list[BabelSequence]) -> tuple[str, ...]:
    """The partner files the sequences of one motion name; entries that name none do not count.

    Raises:
        LabelError: Two entries of the motion name different partners.
    """
    named = {s.partners for s in sequences if s.partners}
    if len(named) > 1:
        raise LabelError(f"feat_p {feat_p!r}: its label entries name different partner files: {sorted(named)}")
    return next(iter(named), ())


def _notes_for(feat_p: str, timeline: _Timeline, labels: tuple[SourceLabel, ...], fps: float) -> list[str]:
    """What a user should know about one sequence: things SynthAct had to adapt."""
    notes = []
    num_frames = len(timeline.frames)
    if num_frames < 2:
        notes.append(f"{feat_p}: only {num_frames} frame(s) at {fps:g} fps: its take is a still")
    length_s = timeline.motion.num_frames / timeline.motion.fps
    longer = [label.seg_id for label in labels if label.end_t > length_s + 1.0 / fps]
    if longer:
        notes.append(
            f"{feat_p}: {len(longer)} label(s) end after the motion's {length_s:.3f} s "
            f"(e.g. seg_id {longer[0]}); their clips stop at the motion's last frame"
        )
    return notes


def capture_ids(*names: str) -> tuple[int | None, int | None]:
    """(setup, replication) of an NTU RGB+D sample named in ``names``, else (None, None)."""
    for text in names:
        match = _NTU_NAME.search(text)
        if match:
            try:
                sample = parse_ntu_name(match.group(0))
            except NtuNameError:  # e.g. camera 4: not a real NTU name
                return None, None
            return sample.setup, sample.replication
    return None, None


def takes_for_sequence(
    settings: IndexSettings, feat_p: str, timeline: _Timeline, sequences: list[BabelSequence]
) -> list[Take]:
    """Every repetition of one sequence, over the span that is rendered."""
    first = sequences[0]
    labels = _sequence_labels(sequences)
    spans = take_spans(labels, settings.fps, len(timeline.frames), settings.span, settings.merge_gap_frames)
    if not spans:
        return []
    motion = timeline.motion
    take_frames = np.concatenate([np.arange(a, b) for a, b in spans])
    source_frames = timeline.frames[take_frames]
    bodies = [body_path(motion, timeline.pelvis_rest, source_frames)]
    bodies += [partner.path(source_frames) for partner in timeline.partners]
    path = group_trajectory(motion.poses[source_frames, :3], bodies)
    setup, replication = capture_ids(timeline.source, first.sid)
    return [
        Take(
            take_id=make_take_id(feat_p, repetition),
            sequence_key=feat_p,
            source=timeline.source,
            sequence_id=first.sid,
            split=first.split,
            repetition=repetition,
            fps=settings.fps,
            source_fps=motion.fps,
            num_sequence_frames=len(timeline.frames),
            duration_s=first.dur,
            spans=tuple(spans),
            gender=motion.gender,
            labels=labels,
            path_center=path.path_center,
            path_radius=path.path_radius,
            heading_deg=path.heading_deg,
            capture_setup=setup,
            capture_replication=replication,
            partners=tuple(partner.source for partner in timeline.partners),
        )
        for repetition in range(settings.repetitions)
    ]


def _collect_takes(
    settings: IndexSettings, groups: dict[str, list[BabelSequence]], report: IndexReport, bad: _BadInputs
) -> list[Take]:
    takes: list[Take] = []
    with Progress(len(groups), "index: motion files") as progress:
        for feat_p, sequences in groups.items():
            sids = ", ".join(dict.fromkeys(s.sid for s in sequences))
            file = feat_p  # until it is found on disk
            try:
                partners = partners_of(feat_p, sequences)
                file = str(resolve_feat_p(settings.amass_root, feat_p))
                timeline = _load_timeline(settings, Path(file), partners)
            except (MotionError, LabelError) as exc:
                bad(exc, file, f"sid {sids}")
            else:
                report.num_motion_files += 1
                report.num_sequences += len({s.sid for s in sequences})
                found = takes_for_sequence(settings, feat_p, timeline, sequences)
                report.notes.extend(_notes_for(feat_p, timeline, found[0].labels if found else (), settings.fps))
                takes.extend(found)
            progress.advance()
    return takes


def build_index(settings: IndexSettings, out_path: Path, report_path: Path) -> IndexReport:
    """Build the take table and its report.

    Args:
        settings: What the index reads of the config (``motion``, ``clips`` and ``render`` spans).
        out_path: The take table (JSON lines), written atomically.
        report_path: The report (JSON), written atomically.

    Returns:
        The report: counts per split, notes, and skipped inputs.

    Raises:
        MotionError, LabelError: A bad input with ``on_bad_input: strict``.
        BodyModelError: The body model for a gender is missing or unreadable.
    """
    report = IndexReport(settings={k: str(v) if isinstance(v, Path) else v for k, v in asdict(settings).items()})
    bad = _BadInputs(settings.strict, report)
    sequences = read_sequences(settings, bad)
    report.sequences_without_labels = len({s.feat_p for s in sequences} - {s.feat_p for s in sequences if s.segments})
    takes = sorted(_collect_takes(settings, group_by_motion(sequences), report, bad), key=_take_order)
    report.num_takes = write_take_table(out_path, takes)
    report.num_frames = sum(t.num_frames for t in takes)
    report.takes_per_split = dict(sorted(Counter(t.split for t in takes).items()))
    report.frames_per_split = {s: sum(t.num_frames for t in takes if t.split == s) for s in report.takes_per_split}
    report.write(report_path)
    for note in report.notes:
        print(f"index: note: {note}", file=sys.stderr)
    print(report.summary(), file=sys.stderr)
    return report


def _take_order(take: Take) -> tuple:
    sid = take.sequence_id
    return (take.source, (0, int(sid)) if sid.isdigit() else (1, sid), take.repetition)
