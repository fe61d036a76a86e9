"""The estimates stage: estimator outputs -> AMASS SMPL+H motions + BABEL labels + splits.

It writes where the skeleton fit stage writes (``synthact.fitting.fitted.FittedPaths``
with source ``estimates``), so ``effective_motion`` points the index at it and
nothing downstream knows the motion came from video::

    WORK/fitted/estimates/estimates/<motion>_poses.npz     the motion (AMASS SMPL+H G layout)
    WORK/fitted/estimates/fits/<motion>.json               provenance, gaps, shape fit, timings
    WORK/fitted/estimates/labels/<protocol>/{train,val,test}.json
    WORK/fitted/estimates/fit_report.json
    OUTPUT/splits/<protocol>.json                          NTU / Smarthome: every protocol; CSV: csv.json

A motion is named after its video (the NTU / Smarthome sample name for dataset
labels), with ``_track<id>`` appended when ``tracks: all`` keeps several. With
``tracks: together`` a video is one take of several bodies: body 0 is the video's
motion, body k >= 1 is ``<video>_person<k>`` (``fitted.partner_name``), every file
carries ``present``, all are grounded on one floor, and the video's BABEL entry
names the partners (``synthact.sources.babel.PARTNERS_KEY``). Video
names and track ids come from the estimators' files, so both are checked by
``synthact.safe_names.file_name`` when a file is read, before anything is written:
a track id such as ``x/../../ESCAPED`` makes its file a bad input.

Nothing is dropped without a word: files and folders under ``estimates_dir`` not
taken (links out of it, unreadable folders), tracks without a frame, and label
CSV videos with no estimate are counted in the summary line, listed one a line
in the log, and kept in ``fit_report.json``.

Conversions are cheap (no per-frame optimisation), so every run redoes them all.
"""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from synthact.body.model_files import BodyModelError
from synthact.body.smplh import BodyModel
from synthact.errors import ConfigError
from synthact.fitting.estimates import gvhmr, phalp, slahmr, tram, vibe, wham
from synthact.fitting.estimates.body_shape import (
    SmplhShapeSpace,
    SourceShape,
    find_source_model,
    fit_betas,
    load_source_shape,
)
from synthact.fitting.estimates.conversion import amass_pose, world_motion
from synthact.fitting.estimates.detect import EstimateFile, find_estimate_files
from synthact.fitting.estimates.labels import (
    CsvLabels,
    csv_entry,
    dataset_category,
    dataset_sample,
    read_label_csv,
    sample_name,
)
from synthact.fitting.estimates.records import EmptyTrackError, EstimateError, Track, empty_track
from synthact.fitting.estimates.settings import CSV_PROTOCOL, EstimateSettings, check_estimates_config
from synthact.fitting.estimates.tracks import choose_tracks
from synthact.fitting.export import (
    babel_entry,
    ground_bodies,
    motion_arrays,
    write_json,
    write_label_files,
    write_motion,
)
from synthact.fitting.fitted import FittedPaths, partner_name, split_dataset
from synthact.fitting.skeleton_sources import DATASETS
from synthact.safe_names import UnsafePathError, file_name, walk_inputs
from synthact.sources.babel import PARTNERS_KEY
from synthact.sources.protocols import PROTOCOLS, assign_splits, write_split_files

LENIENT_HINT = "set clips.on_bad_input: lenient to skip bad files and list them in the report"


@dataclass
class EstimatesReport:
    """What the stage did, per motion and overall."""

    settings: dict[str, Any]
    num_files: int = 0
    motions: list[dict[str, Any]] = field(default_factory=list)
    videos: dict[str, dict[str, Any]] = field(default_factory=dict)  # track choice and gaps per video
    unlabelled: list[str] = field(default_factory=list)
    clips_per_split: dict[str, int] = field(default_factory=dict)
    failures: list[dict[str, str]] = field(default_factory=list)
    skipped_inputs: list[dict[str, str]] = field(default_factory=list)  # {"path", "reason"}
    empty_tracks: list[dict[str, str]] = field(default_factory=list)  # {"file", "video", "track", "reason"}
    labels_without_estimate: list[dict[str, Any]] = field(default_factory=list)  # {"video", "lines"}
    shape_fit_seconds_mean: float | None = None

    def summary(self) -> str:
        gaps = sum(len(v["gaps"]) for v in self.videos.values())
        splits = ", ".join(f"{n} {s}" for s, n in self.clips_per_split.items()) or "none"
        counts = f"{len(self.motions)} motions from {self.num_files} files ({len(self.videos)} videos)"
        problems = f"{gaps} gaps, {len(self.unlabelled)} unlabelled, {len(self.failures)} failed"
        dropped = (
            f"{len(self.skipped_inputs)} inputs not taken, {len(self.empty_tracks)} empty tracks, "
            f"{len(self.labels_without_estimate)} labelled videos without an estimate"
        )
        return f"estimates: {counts}, splits: {splits}; {problems}; {dropped}"

    def dropped_lines(self) -> list[str]:
        """One log line per thing the stage did not use, with the reason."""
        lines = [f"estimates: not taken: {entry['path']}: {entry['reason']}" for entry in self.skipped_inputs]
        lines += [
            f"estimates: empty track {entry['track'] or '(the only one)'!r} of {entry['file']}: no frame; skipped"
            for entry in self.empty_tracks
        ]
        csv = self.settings["labels_csv"]
        lines += [
            f"estimates: {csv}: lines {entry['lines']}: video {entry['video']!r} has no estimate; not used"
            for entry in self.labels_without_estimate
        ]
        return lines


def read_file(entry: EstimateFile, settings: EstimateSettings) -> list[Track]:
    """The tracks of one estimator file, by its adapter."""
    readers = {"wham": wham.read, "gvhmr": gvhmr.read, "phalp": phalp.read, "tram": tram.read, "slahmr": slahmr.read}
    if entry.estimator == "vibe":
        return vibe.read(entry.path, settings.vibe_hfov_deg)
    return readers[entry.estimator](entry.path)


class Converter:
    """Turns tracks into SMPL-H motions: holds the SMPL-H body and the estimators' shape spaces."""

    def __init__(self, body_model_dir: str, settings: EstimateSettings):
        try:
            self.body = BodyModel(body_model_dir, "neutral")
        except BodyModelError as exc:
            raise ConfigError(f"motion.body_model_dir: {exc}") from exc
        self.space = SmplhShapeSpace(self.body)
        self.settings = settings
        self._sources: dict[str, Any] = {}

    def source_shape(self, body: str) -> SourceShape:
        if body not in self._sources:
            self._sources[body] = load_source_shape(find_source_model(self.settings.source_models_dir, body), body)
        return self._sources[body]

    def shape(self, track: Track) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
        """SMPL-H betas, the estimator body's pelvis J0, and the shape fit's summary."""
        if track.body == "smplh":  # SLAHMR: already SMPL-H betas
            betas = np.zeros(self.space.num_betas)
            n = min(len(track.betas), len(betas))
            betas[:n] = track.betas[:n]
            return betas, self.space.pelvis(betas), {"method": "given", "seconds": 0.0}
        source = self.source_shape(track.body)
        fit = fit_betas(self.space, source, track.betas, self.settings.shape_fit)
        return fit.betas, source.rest_joints(track.betas)[0], {**fit.summary(), "source_model": str(source.path)}

    def convert(self, track: Track, fps: float) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """The AMASS arrays of one track and what went into them."""
        ((arrays, info),) = self.convert_group([track], fps)
        return arrays, info

    def convert_group(self, tracks: list[Track], fps: float) -> list[tuple[dict[str, np.ndarray], dict[str, Any]]]:
        """The AMASS arrays of the bodies of one take, on one floor, and what went into each.

        A track with ``present`` keeps it in its arrays.
        """
        started = time.perf_counter()
        motions, shapes = [], []
        for track in tracks:
            betas, source_pelvis, shape = self.shape(track)
            motion = world_motion(track, source_pelvis, self.settings.smoothing_s * fps)
            motions.append((*amass_pose(motion, self.space.pelvis(betas)), betas))
            shapes.append(shape)
        present = [np.ones(len(t), bool) if t.present is None else t.present for t in tracks]
        grounded, shift = ground_bodies(self.body, motions, present, "sequence")
        seconds = round((time.perf_counter() - started) / len(tracks), 4)
        converted = []
        for track, (poses, _, betas), trans, shape in zip(tracks, motions, grounded, shapes, strict=True):
            info = {
                "shape_fit": shape,
                "ground_shift_m": shift,
                "frames": len(poses),
                "fps": fps,
                "smoothing_sigma_frames": self.settings.smoothing_s * fps,
                "seconds": seconds,
            }
            converted.append((motion_arrays(poses, trans, betas, "neutral", fps, track.present), info))
        return converted


def run_estimates(config: dict[str, Any]) -> EstimatesReport:
    """Convert every estimator output under ``motion.estimates_dir``; write motions, labels, splits, report.

    Raises:
        ConfigError: a configuration problem (folders, labels, body models).
        EstimateError: a bad estimator file under ``clips.on_bad_input: strict``.
    """
    check_estimates_config(config)
    settings = EstimateSettings.from_config(config)
    strict = config["clips"]["on_bad_input"] == "strict"
    fitted = FittedPaths.from_config(config)
    report = EstimatesReport(settings.as_dict())
    if not settings.estimates_dir.is_dir():
        raise ConfigError(f"motion.estimates_dir: {settings.estimates_dir} is not a folder")
    walk = walk_inputs(settings.estimates_dir)
    try:
        files = find_estimate_files(settings.estimates_dir, settings.estimator, walk)
    except EstimateError as exc:
        raise ConfigError(str(exc)) from exc
    report.skipped_inputs = walk.skipped
    report.num_files = len(files)
    csv_labels = read_label_csv(settings.labels_csv) if settings.labels_csv else None
    converter = Converter(config["motion"]["body_model_dir"], settings)
    by_video = _read_all(files, settings, report, strict)
    if csv_labels is not None:
        report.labels_without_estimate = _labels_without_estimate(csv_labels, by_video)
    entries: dict[str, dict[str, Any]] = {}
    splits: defaultdict[str, list[str]] = defaultdict(list)
    for video, tracks in sorted(by_video.items()):
        try:
            _convert_video(video, tracks, converter, settings, fitted, csv_labels, report, entries, splits)
        except (EstimateError, ValueError) as exc:
            _bad_input(report, strict, tracks[0].file, exc)
    _write_outputs(config, settings, fitted, entries, splits, report, csv_labels)
    return report


def _read_all(
    files: list[EstimateFile], settings: EstimateSettings, report: EstimatesReport, strict: bool
) -> dict[str, list[Track]]:
    by_video: dict[str, list[Track]] = defaultdict(list)
    for entry in files:
        try:
            tracks = _checked_tracks(entry, settings)
        except EstimateError as exc:
            _bad_input(report, strict, entry.path, exc)
            continue
        for track in tracks:
            if len(track):
                by_video[entry.video].append(track)
            else:
                reason = "; ".join(track.notes)
                report.empty_tracks.append(
                    {"file": str(entry.path), "video": entry.video, "track": track.track_id, "reason": reason}
                )
    return by_video


def _checked_tracks(entry: EstimateFile, settings: EstimateSettings) -> list[Track]:
    """The file's tracks, their ids checked as file names; a file of one empty track gives that track."""
    try:
        tracks = read_file(entry, settings)
    except EmptyTrackError as exc:
        return [empty_track(entry.estimator, entry.path, entry.video, "", str(exc))]
    for track in tracks:
        try:
            file_name(track.track_id, "track id", entry.path)
        except UnsafePathError as exc:
            raise EstimateError(str(exc)) from None
    return tracks


def _labels_without_estimate(csv: CsvLabels, by_video: dict[str, list[Track]]) -> list[dict[str, Any]]:
    return [
        {"video": video, "lines": [row.line for row in rows]}
        for video, rows in sorted(csv.rows.items())
        if video not in by_video
    ]


def _convert_video(
    video: str,
    tracks: list[Track],
    converter: Converter,
    settings: EstimateSettings,
    fitted: FittedPaths,
    csv_labels: CsvLabels | None,
    report: EstimatesReport,
    entries: dict[str, dict[str, Any]],
    splits: dict[str, list[str]],
) -> None:
    fps = next((t.fps for t in tracks if t.fps), settings.fps)
    kept, choice = choose_tracks(tracks, settings.tracks, round(settings.max_gap_s * fps))
    choice["gaps"] = [g.report(fps) for g in choice["gaps"]]
    report.videos[video] = {"estimator": tracks[0].estimator, "fps": fps, **choice}
    base = sample_name(settings.labels, video)
    if settings.labels != "csv":
        dataset_sample(settings.labels, video)  # the name must parse before anything is written
    if settings.tracks == "together":
        names = [_motion_name(base, kept[0], settings)] + [partner_name(base, k) for k in range(1, len(kept))]
        takes = [list(zip(names, kept, strict=True))]
    else:
        takes = [[(_motion_name(base, track, settings), track)] for track in kept]  # all checked before any write
    for bodies in takes:
        _write_take(video, bodies, converter, settings, fitted, csv_labels, report, entries, splits, choice, fps)


def _write_take(
    video: str,
    bodies: list[tuple[str, Track]],
    converter: Converter,
    settings: EstimateSettings,
    fitted: FittedPaths,
    csv_labels: CsvLabels | None,
    report: EstimatesReport,
    entries: dict[str, dict[str, Any]],
    splits: dict[str, list[str]],
    choice: dict[str, Any],
    fps: float,
) -> None:
    """The motion files of one take (body 0 last), their sidecars, and body 0's label entry."""
    converted = converter.convert_group([track for _, track in bodies], fps)
    (name, track), (arrays, _) = bodies[0], converted[0]
    feat_p = fitted.feat_p(name)
    entry = _label_entry(settings, csv_labels, video, name, feat_p, len(arrays["poses"]), fps, track)
    if entry is not None and len(bodies) > 1:
        entry[PARTNERS_KEY] = [fitted.feat_p(partner) for partner, _ in bodies[1:]]
    sidecars: list[dict[str, Any]] = []
    for (body_name, body_track), (body_arrays, info) in reversed(list(zip(bodies, converted, strict=True))):
        sidecar = {
            "motion": body_name,
            "feat_p": fitted.feat_p(body_name),
            "provenance": body_track.provenance(),
            **info,
            "gaps": [g for g in choice["gaps"] if g["track"] == body_track.track_id],
        }
        if body_track.present is not None:
            sidecar["present_frames"] = int(body_track.present.sum())
        write_json(fitted.fits_dir / f"{body_name}.json", sidecar)  # sidecar first, the motion last
        write_motion(fitted.motion_dir / f"{body_name}_poses.npz", body_arrays)
        sidecars.insert(0, sidecar)
    report.motions.extend(sidecars)  # in body order
    if entry is None:
        report.unlabelled.append(name)
        return
    entries[name] = entry
    splits[video].append(name)


def _motion_name(base: str, track: Track, settings: EstimateSettings) -> str:
    name = f"{base}_track{track.track_id}" if settings.tracks == "all" else base
    try:
        return file_name(name, "motion name", track.file)
    except UnsafePathError as exc:
        raise EstimateError(str(exc)) from None


def _label_entry(
    settings: EstimateSettings,
    csv_labels: CsvLabels | None,
    video: str,
    name: str,
    feat_p: str,
    frames: int,
    fps: float,
    track: Track,
) -> dict | None:
    if csv_labels is None:
        return babel_entry(name, dataset_category(settings.labels, video), feat_p, frames, fps)
    rows = csv_labels.rows.get(video, [])
    return csv_entry(name, rows, feat_p, frames, fps, start_s=float(track.frame_ids[0]) / fps) if rows else None


def _write_outputs(
    config: dict[str, Any],
    settings: EstimateSettings,
    fitted: FittedPaths,
    entries: dict[str, dict[str, Any]],
    motions_of_video: dict[str, list[str]],
    report: EstimatesReport,
    csv: CsvLabels | None,
) -> None:
    """Label files of the chosen protocol, split files, the report."""
    if csv is not None:
        split_of = {name: csv.split_of(video) for video, names in motions_of_video.items() for name in names}
        splits = {s: sorted(n for n, sp in split_of.items() if sp == s) for s in ("train", "val", "test")}
        write_json(fitted.splits_dir / f"{CSV_PROTOCOL}.json", {CSV_PROTOCOL: splits})
    else:
        dataset_key = split_dataset(config)
        samples = {sample_name(settings.labels, video): names for video, names in motions_of_video.items()}
        protocol = DATASETS[settings.labels].protocols[fitted.protocol]
        by_sample = assign_splits(list(samples), dataset_key)[protocol] if samples else {}
        splits = {s: sorted(n for sample in members for n in samples[sample]) for s, members in by_sample.items()}
        write_split_files(list(samples), fitted.splits_dir, dataset_key)
        if not samples:  # still declare every protocol's file
            for name in PROTOCOLS[dataset_key]:
                write_json(fitted.splits_dir / f"{name}.json", {name: {"train": [], "val": [], "test": []}})
    write_label_files(fitted.labels_dir, splits, entries)
    in_split = {name for names in splits.values() for name in names}
    report.unlabelled += sorted(name for name in entries if name not in in_split)  # outside the protocol
    report.clips_per_split = {split: len(names) for split, names in splits.items()}
    seconds = [m["shape_fit"]["seconds"] for m in report.motions if m["shape_fit"]["method"] != "given"]
    report.shape_fit_seconds_mean = float(np.mean(seconds)) if seconds else None
    write_json(fitted.report, asdict(report))
    for line in report.dropped_lines():
        print(line, file=sys.stderr)
    print(report.summary(), file=sys.stderr)


def _bad_input(report: EstimatesReport, strict: bool, path: Path, exc: BaseException) -> None:
    message = str(exc) if str(path) in str(exc) else f"{path}: {exc}"
    if strict:
        raise EstimateError(f"{message}\n({LENIENT_HINT})") from exc
    report.failures.append({"file": str(path), "reason": message})
