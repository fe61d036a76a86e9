"""The ``fit`` stage: NTU RGB+D / Toyota Smarthome skeletons -> AMASS motions + BABEL labels.

Synthetic NTU RGB+D and Synthetic Smarthome are recomputed from the original
datasets' own 3D skeletons. With ``motion.source: ntu`` or ``smarthome`` this
stage reads every skeleton file under ``motion.skeleton_dir``, places it in the
Z-up world, fits the neutral SMPL-H body to it (``fit_smplh``) and writes::

    WORK/fitted/<source>/<source>/<sample>_poses.npz   AMASS SMPL+H layout (the motion; body 0)
    WORK/fitted/<source>/<source>/<sample>_person1_poses.npz   body 1 of a two-person sample
    WORK/fitted/<source>/fits/<sample>.json            the sample's fit errors (per body) and settings
    WORK/fitted/<source>/labels/<protocol>/{train,val,test}.json   BABEL dense labels
    WORK/fitted/<source>/fit_report.json               per-sample errors, failures, counts
    OUTPUT/splits/<protocol>.json                      every protocol's split lists

``effective_motion`` then points the index at those files (``amass_root`` is
``WORK/fitted``, so a clip's ``source`` is ``<source>/<source>/<sample>_poses.npz``
and its ``sequence_id`` is the sample name, which encodes setup, camera,
performer, replication and action). Nothing downstream knows the clips were fitted.

Which samples: every file under ``skeleton_dir`` (``ntu_classes: 60`` keeps NTU
RGB+D 60's S001-S017 / A1-A60 only). Every sample is fitted whatever the protocol;
the chosen protocol only decides which label file (split) a sample goes to, and
samples outside it (e.g. Smarthome's cross-view protocols use 19 of 31 classes) get
no label, so the index leaves them out. Files without any body (NTU's "missing
skeletons") are skipped and listed; other bad files follow ``clips.on_bad_input``.

NTU's two-person actions are fitted as two bodies in the file's body order
(``skeleton_sources``), both on one floor; the sample's BABEL entry names body 1's
file under ``synthact.sources.babel.PARTNERS_KEY``, and the index makes it the
take's partner. Both files carry ``present`` (False where the file lacks the body).
A two-person class whose file holds one body is fitted as one and listed in the
report (``two_person_one_body``); so are samples whose fitted pelvises come within
``worker.CLOSE_PELVIS_M`` of each other (``close_pelvis_samples``).

Resume: a sample whose npz exists, with a sidecar recording the same fit settings
and body model (and, for a two-person class, the partner files it wrote, all on
disk), is not fitted again. All are written atomically, body 0's npz last.
"""

from __future__ import annotations

import multiprocessing
import sys
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from synthact.body.model_files import BodyModelError, find_smplh_file
from synthact.errors import ConfigError, SynthActError
from synthact.fitting.estimates.settings import check_estimates_config
from synthact.fitting.export import LABEL_FILES, babel_entry, file_digest, write_json, write_label_files
from synthact.fitting.fitted import ESTIMATES_SOURCE, FittedPaths, protocol_of, split_dataset
from synthact.fitting.skeleton_sources import (
    DATASETS,
    SkeletonDataset,
    class_name,
    in_ntu60,
    require_dataset_protocols,
    sample_fields,
)
from synthact.sources.ntu import NtuSampleId
from synthact.sources.protocols import PROTOCOLS, assign_splits, write_split_files
from synthact.sources.smarthome import UnlistedActivityError

if TYPE_CHECKING:  # the worker imports torch; the workflow imports this module at parse time
    from synthact.fitting.estimates.stage import EstimatesReport
    from synthact.fitting.worker import SampleTask

SKELETON_SOURCES = tuple(DATASETS)
LENIENT_HINT = "set clips.on_bad_input: lenient to skip bad files and list them in the fit report"
FIT_FORMAT = 1  # bump when the fit or its outputs change: older fits are then redone
_FIT_OPTION_KEYS = ("shape_iterations", "global_iterations", "body_iterations", "joint_accel_weight", "robust_sigma")


class FitStageError(SynthActError, ValueError):
    """A skeleton file could not be read or fitted (strict mode); the message names it."""


# --------------------------------------------------------------------------- configuration


def check_skeleton_config(config: dict[str, Any]) -> None:
    """Cross-field checks for ``motion.source`` ntu / smarthome; raises ConfigError naming the key."""
    motion, source = config["motion"], config["motion"]["source"]
    if source not in SKELETON_SOURCES:
        return
    if not motion["skeleton_dir"]:
        raise ConfigError(f"motion.skeleton_dir: required when motion.source is {source} (the skeleton files' folder)")
    dataset = DATASETS[source]
    require_dataset_protocols(config, f"motion.source {source}", dataset.title)
    if config["demo"]["enabled"]:
        raise ConfigError(
            f"demo.enabled is true, but motion.source {source} reads no demo data; set demo.enabled: false "
            "and point motion.body_model_dir at an SMPL-H model folder"
        )
    protocol = protocol_of(config)
    if protocol not in dataset.protocols:
        choices = ", ".join(sorted(dataset.protocols))
        raise ConfigError(f"motion.protocol: {protocol} is not a protocol of {dataset.title}; choose one of {choices}")
    if dataset.protocols[protocol] not in PROTOCOLS[split_dataset(config)]:
        raise ConfigError(f"motion.protocol: {protocol} is an NTU RGB+D 120 protocol; set motion.ntu_classes: 120")


def effective_motion(config: dict[str, Any]) -> dict[str, Any]:
    """The ``motion`` section the index and the renderer read.

    For ``source: amass`` it is the config's own. For a skeleton source the motion
    and label paths are replaced by the fit stage's outputs (after checking the
    config), so the standard index reads the fitted dataset unchanged. Idempotent.
    """
    motion = config["motion"]
    if motion.get("source", "amass") == "amass":
        return motion
    if motion["source"] == ESTIMATES_SOURCE:
        check_estimates_config(config)
    else:
        check_skeleton_config(config)
    fitted = FittedPaths.from_config(config)
    paths = {"amass_root": str(fitted.root), "babel_dir": str(fitted.labels_dir), "babel_files": list(LABEL_FILES)}
    return {**motion, **paths}


def fit_outputs(config: dict[str, Any]) -> dict[str, list[str]]:
    """The fit stage's declared outputs: label files, report, and every protocol's split file.

    The motion files are deliberately not declared: Snakemake would delete them
    before a rerun, and they are what makes the stage resumable.
    """
    fitted = FittedPaths.from_config(config)
    dataset = split_dataset(config)
    protocols = PROTOCOLS.get(dataset, [fitted.protocol])  # CSV labels: one split file
    return {
        "labels": [str(fitted.labels_dir / name) for name in LABEL_FILES],
        "report": [str(fitted.report)],
        "splits": [str(fitted.splits_dir / f"{name}.json") for name in protocols],
    }


# --------------------------------------------------------------------------- the report


@dataclass
class FitReport:
    """What the fit stage did: per-sample errors, failures and counts."""

    source: str
    protocol: str
    settings: dict[str, Any]
    num_files: int = 0
    fitted: int = 0  # fitted in this run
    resumed: int = 0  # fitted by an earlier run with the same settings
    missing_skeletons: list[str] = field(default_factory=list)  # files without a body: the datasets ignore them
    outside_dataset: int = 0  # e.g. NTU-120 samples when ntu_classes is 60
    clips_per_split: dict[str, int] = field(default_factory=dict)
    mean_error_m: float | None = None  # over samples, each sample's mean joint error
    max_error_m: float | None = None
    samples: list[dict[str, Any]] = field(default_factory=list)
    failures: list[dict[str, str]] = field(default_factory=list)
    skipped_inputs: list[dict[str, str]] = field(default_factory=list)  # links out, unreadable folders
    two_person_samples: int = 0  # samples of a two-person class (NTU A50-A60, A106-A120)
    two_person_one_body_count: int = 0  # ... whose file holds one body: fitted as one
    two_person_one_body: list[str] = field(default_factory=list)
    close_pelvis_samples: list[str] = field(default_factory=list)  # the two bodies overlap in some frame

    def summary(self) -> str:
        error = "n/a"
        if self.mean_error_m is not None and self.max_error_m is not None:
            error = f"{100 * self.mean_error_m:.2f} cm (worst joint {100 * self.max_error_m:.2f} cm)"
        splits = ", ".join(f"{n} {s}" for s, n in self.clips_per_split.items()) or "none"
        two = ""
        if self.two_person_samples:
            two = (
                f"; {self.two_person_samples} two-person samples ({self.two_person_one_body_count} with one body, "
                f"{len(self.close_pelvis_samples)} with overlapping pelvises)"
            )
        return (
            f"fit: {len(self.samples)} {self.source} samples ({self.fitted} fitted now, {self.resumed} resumed), "
            f"{self.protocol} splits: {splits}; mean joint error {error}; {len(self.failures)} failed, "
            f"{len(self.missing_skeletons)} without skeleton, {self.outside_dataset} outside the dataset{two}"
        )


class _Progress:
    """One stderr line per sample for small runs, else one every ~10 s (Slurm logs)."""

    def __init__(self, total: int) -> None:
        self.total, self.done, self.last = total, 0, 0.0
        self.start = time.monotonic()

    def advance(self, outcome: dict[str, Any]) -> None:
        self.done += 1
        now = time.monotonic()
        if self.total <= 20 or now - self.last >= 10.0 or self.done == self.total:
            self.last = now
            error = outcome.get("mean_error_m")
            detail = f"mean error {100 * error:.2f} cm" if error is not None else outcome.get("status", "")
            print(
                f"fit: {self.done}/{self.total} samples, {now - self.start:.0f} s; {outcome['sample']}: {detail}",
                file=sys.stderr,
                flush=True,
            )


# --------------------------------------------------------------------------- the stage


@dataclass(frozen=True)
class _Sample:
    name: str
    path: Path
    category: str
    fields: dict[str, Any]


def _collect_samples(dataset: SkeletonDataset, config: dict, report: FitReport, strict: bool) -> list[_Sample]:
    """Every skeleton file as a sample; badly named files are bad inputs."""
    folder = Path(config["motion"]["skeleton_dir"])
    if not folder.is_dir():
        raise ConfigError(f"motion.skeleton_dir: {folder} is not a folder")
    walk = dataset.walk(folder)
    files, report.skipped_inputs = walk.files, walk.skipped
    for line in walk.summary("fit"):
        print(line, file=sys.stderr)
    if not files:
        raise ConfigError(f"motion.skeleton_dir: no {dataset.pattern} file under {folder}")
    report.num_files = len(files)
    samples: dict[str, _Sample] = {}
    for path in files:
        try:
            sample = dataset.parse(path)
        except UnlistedActivityError as exc:  # Pour.Fromcup: no class in any protocol; skipped, said once
            report.outside_dataset += 1
            print(f"fit: skipped {path.name}: {exc}", file=sys.stderr)
            continue
        except ValueError as exc:
            _bad_input(report, strict, path, exc)
            continue
        if isinstance(sample, NtuSampleId) and config["motion"]["ntu_classes"] == 60 and not in_ntu60(sample):
            report.outside_dataset += 1
            continue
        if sample.name in samples:
            duplicate = ValueError(f"{path}: sample {sample.name} is also {samples[sample.name].path}")
            _bad_input(report, strict, path, duplicate)
            continue
        samples[sample.name] = _Sample(sample.name, path, class_name(sample), sample_fields(sample))
    return list(samples.values())


def _bad_input(report: FitReport, strict: bool, path: Path, exc: BaseException) -> None:
    message = str(exc) if str(path) in str(exc) else f"{path}: {exc}"
    if strict:
        raise FitStageError(f"{message}\n({LENIENT_HINT})") from exc
    report.failures.append({"file": str(path), "reason": message})


def fit_settings(config: dict[str, Any], body_model_file: Path) -> dict[str, Any]:
    """Everything that changes a sample's fit; a sidecar with other settings means refit."""
    fit = config["motion"]["fit"]
    return {
        "format": FIT_FORMAT,
        "source": config["motion"]["source"],
        "options": {k: fit[k] for k in _FIT_OPTION_KEYS},
        "body_model_sha256": file_digest(body_model_file),
    }


def _run_tasks(tasks: list[SampleTask], workers: int, init_args: tuple, strict: bool) -> list[dict]:
    """Fit every task, in this process or a pool; outcomes in task order."""
    from synthact.fitting.worker import fit_sample, init_worker

    progress = _Progress(len(tasks))
    outcomes: dict[str, dict] = {}

    def take(outcome: dict) -> None:
        outcomes[outcome["sample"]] = outcome
        progress.advance(outcome)
        if outcome["status"] == "failed" and strict:
            raise FitStageError(f"{outcome['reason']}\n({LENIENT_HINT})")

    pending = []
    for task in tasks:
        if task.done_before():
            take(task.resumed_outcome())
        else:
            pending.append(task)
    if workers <= 1 or len(pending) <= 1:
        init_worker(*init_args)
        for task in pending:
            take(fit_sample(task))
    else:
        _run_pool(pending, min(workers, len(pending)), init_args, take)
    return [outcomes[t.sample] for t in tasks]


def _run_pool(pending: list[SampleTask], workers: int, init_args: tuple, take: Callable[[dict], None]) -> None:
    from synthact.fitting.worker import fit_sample, init_worker

    # spawn, not fork: torch's thread pools do not survive a fork.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=init_worker, initargs=init_args) as pool:
        futures = {pool.submit(fit_sample, task) for task in pending}
        try:
            while futures:
                done, futures = wait(futures, return_when=FIRST_COMPLETED)
                for future in done:
                    take(future.result())
        except BaseException:
            for future in futures:
                future.cancel()
            raise


def _summarise(report: FitReport, outcomes: list[dict]) -> list[dict]:
    """Fill the report from the outcomes; returns the successful ones."""
    good = [o for o in outcomes if o["status"] in ("fitted", "resumed")]
    report.fitted = sum(o["status"] == "fitted" for o in outcomes)
    report.resumed = sum(o["status"] == "resumed" for o in outcomes)
    report.missing_skeletons = [o["file"] for o in outcomes if o["status"] == "missing"]
    report.failures += [{"file": o["file"], "reason": o["reason"]} for o in outcomes if o["status"] == "failed"]
    report.samples = good
    several = [o for o in good if o.get("persons_expected", 1) > 1]
    report.two_person_samples = len(several)
    report.two_person_one_body = [o["sample"] for o in several if len(o["persons"]) < o["persons_expected"]]
    report.two_person_one_body_count = len(report.two_person_one_body)
    report.close_pelvis_samples = [o["sample"] for o in several if o.get("close_pelvis_frames", 0) > 0]
    if good:
        report.mean_error_m = sum(o["mean_error_m"] for o in good) / len(good)
        report.max_error_m = max(o["max_error_m"] for o in good)
    return good


def run_fit(config: dict[str, Any], workers: int = 1) -> FitReport | EstimatesReport:
    """Fit every skeleton file of the configured dataset; write motions, labels, splits and report.

    ``motion.source: estimates`` runs the estimates stage instead (``synthact.fitting.estimates``),
    which writes the same outputs; its report is an ``EstimatesReport``.

    Args:
        config: The validated run config (``motion``, ``clips``, ``output_dir``, ``work_dir``).
        workers: Parallel fitting processes (each uses one torch thread).

    Returns:
        The report, also written to ``WORK/fitted/<source>/fit_report.json``.

    Raises:
        ConfigError: A configuration problem (source, folders, protocol, body model).
        FitStageError: A bad skeleton file under ``clips.on_bad_input: strict``.
    """
    from synthact.fitting.worker import SampleTask

    if config["motion"]["source"] == ESTIMATES_SOURCE:  # same stage and outputs, other inputs
        from synthact.fitting.estimates.stage import run_estimates  # imports torch: not at workflow parse time

        return run_estimates(config)
    check_skeleton_config(config)
    dataset = DATASETS[config["motion"]["source"]]
    fitted = FittedPaths.from_config(config)
    strict = config["clips"]["on_bad_input"] == "strict"
    try:
        model_file = find_smplh_file(config["motion"]["body_model_dir"], "neutral")
    except BodyModelError as exc:
        raise ConfigError(f"motion.body_model_dir: {exc}") from exc
    settings = fit_settings(config, model_file)
    report = FitReport(dataset.source, protocol_of(config), settings)
    samples = {s.name: s for s in _collect_samples(dataset, config, report, strict)}
    tasks = [
        SampleTask(
            name,
            str(s.path),
            dataset.source,
            str(fitted.motion_dir / f"{name}_poses.npz"),
            str(fitted.fits_dir / f"{name}.json"),
            settings,
            tuple(str(fitted.partner_motion(name, k)) for k in range(1, dataset.persons(s.path))),
        )
        for name, s in samples.items()
    ]
    print(
        f"fit: {len(tasks)} {dataset.source} samples ({report.num_files} files), {workers} worker(s)", file=sys.stderr
    )
    init_args = (config["motion"]["body_model_dir"], config["motion"]["fit"])
    good = _summarise(report, _run_tasks(tasks, workers, init_args, strict))
    for outcome in good:
        outcome.update(category=samples[outcome["sample"]].category, fields=samples[outcome["sample"]].fields)
    _write_labels_and_splits(config, fitted, good, report)
    write_json(fitted.report, asdict(report))
    print(report.summary(), file=sys.stderr)
    return report


def _label_entry(fitted: FittedPaths, outcome: dict[str, Any], fps: float) -> dict[str, Any]:
    """The sample's BABEL entry, naming the partner files it was fitted with."""
    sample = outcome["sample"]
    partners = tuple(fitted.partner_feat_p(sample, k) for k in range(1, len(outcome.get("partner_files", [])) + 1))
    return babel_entry(sample, outcome["category"], fitted.feat_p(sample), outcome["frames"], fps, partners)


def _write_labels_and_splits(config: dict, fitted: FittedPaths, good: list[dict], report: FitReport) -> None:
    """BABEL label files of the chosen protocol, and every protocol's split file."""
    names = [o["sample"] for o in good]
    dataset_key = split_dataset(config)
    dataset = DATASETS[fitted.source]
    splits = assign_splits(names, dataset_key)[dataset.protocols[fitted.protocol]]
    entries = {o["sample"]: _label_entry(fitted, o, dataset.fps) for o in good}
    write_label_files(fitted.labels_dir, splits, entries)
    write_split_files(names, fitted.splits_dir, dataset_key)
    report.clips_per_split = {split: len(members) for split, members in splits.items()}
    outside = len(names) - sum(report.clips_per_split.values())
    if outside:
        report.clips_per_split["outside_protocol"] = outside
