"""Fit one skeleton sample: read, place in the world, fit SMPL-H, ground, write.

Runs in the fit stage's process or in its worker processes (one body model per
process, loaded once by ``init_worker``). A sample's outcome is a plain dict,
so it crosses process boundaries and goes into the JSON report as it is.

A two-person sample fits each body with the same fitter and options, grounds
both on one floor, and writes body 0 as the sample's motion and body 1 as its
partner file, each with its ``present`` flags. The sidecar and the report give
each body's joint errors and how close the two pelvises come (NTU's skeletons
of hugging or pushing people often interpenetrate; nothing is repaired).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from synthact.body.smplh import BodyModel
from synthact.fitting.export import ground_bodies, motion_arrays, write_json, write_motion
from synthact.fitting.fit import fit_smplh
from synthact.fitting.options import FitOptions
from synthact.fitting.result import FitErrors, FitResult
from synthact.fitting.skeleton_sources import DATASETS, SkeletonSample
from synthact.sources.ntu import MissingSkeletonError
from synthact.sources.smarthome import EmptyPoseError

_STATE: dict[str, Any] = {}  # per process: the body model and the fit options

# Two pelvises closer than this (metres, in 3D) mean the bodies interpenetrate: an adult's
# pelvis is about this deep, so two bodies that only touch keep their pelvises farther apart.
CLOSE_PELVIS_M = 0.2


def init_worker(body_model_dir: str, fit: dict[str, Any]) -> None:
    """Load the neutral body model and build the fit options (once per process)."""
    if _STATE.get("key") == (body_model_dir, json.dumps(fit, sort_keys=True)):
        return
    options = FitOptions(
        shape_iterations=fit["shape_iterations"],
        global_iterations=fit["global_iterations"],
        body_iterations=fit["body_iterations"],
        joint_accel_weight=fit["joint_accel_weight"],
        robust_sigma=fit["robust_sigma"],
        num_threads=1,  # small tensors: one thread per fit, samples in parallel processes
    )
    _STATE.update(
        key=(body_model_dir, json.dumps(fit, sort_keys=True)),
        body=BodyModel(body_model_dir, "neutral"),
        options=options,
    )


@dataclass(frozen=True)
class SampleTask:
    """One sample to fit (plain strings: it is pickled to worker processes)."""

    sample: str
    file: str
    source: str
    motion_path: str  # the AMASS npz to write: body 0
    sidecar_path: str  # the sample's fit summary (JSON)
    settings: dict[str, Any]
    partner_paths: tuple[str, ...] = ()  # the AMASS npz of body 1.. where the sample has more bodies

    def done_before(self) -> bool:
        """An earlier run fitted this sample with the same settings, and every file it wrote is there.

        Body 0's npz is written last. A sample of a several-person class is done only
        with a sidecar that lists its partner files (older sidecars do not) and those
        files on disk.
        """
        if not Path(self.motion_path).is_file():
            return False
        try:
            sidecar = json.loads(Path(self.sidecar_path).read_text())
            if sidecar["settings"] != self.settings:
                return False
            if DATASETS[self.source].persons(Path(self.file)) > 1 and "partner_files" not in sidecar:
                return False
            return all(Path(path).is_file() for path in sidecar.get("partner_files", []))
        except (OSError, ValueError, KeyError, TypeError):
            return False

    def resumed_outcome(self) -> dict[str, Any]:
        outcome = json.loads(Path(self.sidecar_path).read_text())
        outcome.pop("settings")
        return {**outcome, "file": self.file, "status": "resumed"}


def fit_sample(task: SampleTask) -> dict[str, Any]:
    """Fit one sample and write its npz; bad files come back as a ``failed`` outcome."""
    base = {"sample": task.sample, "file": task.file}
    try:
        return _fit(task, base)
    except (MissingSkeletonError, EmptyPoseError) as exc:
        # The datasets ship such samples and their protocols ignore them; not an error.
        return {**base, "status": "missing", "reason": str(exc)}
    except (ValueError, RuntimeError) as exc:  # the readers' errors (file:line), the fitter's refusals
        reason = str(exc) if task.file in str(exc) else f"{task.file}: {exc}"
        return {**base, "status": "failed", "reason": reason}


def _fit(task: SampleTask, base: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    dataset = DATASETS[task.source]
    sample = dataset.read(Path(task.file))
    body: BodyModel = _STATE["body"]
    joint_map = list(enumerate(dataset.joint_map))
    results = [fit_smplh(b.joints, b.valid, joint_map, body, _STATE["options"]) for b in sample.bodies]
    present = [b.present for b in sample.bodies]
    ground = sample.bodies[0].ground
    motions = [(r.poses, r.trans, r.betas) for r in results]
    grounded, shift = ground_bodies(body, motions, present, ground)
    several = sample.persons_expected > 1  # the take may hold several bodies: every file says when each is there
    partners = list(task.partner_paths[: len(results) - 1])
    outcome = {
        **base,
        "status": "fitted",
        "frames": int(results[0].poses.shape[0]),
        "fps": dataset.fps,
        "observed_fraction": float(np.mean(sample.bodies[0].valid)),
        **_error_summary(_joined_errors(results)),
        "ground": ground,
        "ground_shift_m": shift,
        **(_persons_summary(sample, results) if several else {}),
        **({"partner_files": partners} if several else {}),
        "seconds": round(time.perf_counter() - started, 3),
    }
    # Sidecar first, partners next, body 0's npz last: it marks the sample as done.
    write_json(Path(task.sidecar_path), {**outcome, "status": "fitted", "settings": task.settings})
    for stale in task.partner_paths[len(partners) :]:  # an earlier fit of a file that had more bodies
        Path(stale).unlink(missing_ok=True)
    for path, result, trans, flags in zip(partners, results[1:], grounded[1:], present[1:], strict=True):
        write_motion(Path(path), motion_arrays(result.poses, trans, result.betas, "neutral", dataset.fps, flags))
    flags0 = present[0] if several else None
    arrays = motion_arrays(results[0].poses, grounded[0], results[0].betas, "neutral", dataset.fps, flags0)
    write_motion(Path(task.motion_path), arrays)
    return outcome


def _error_summary(errors: FitErrors | np.ndarray) -> dict[str, float]:
    """Mean, median, p95 and max joint error (metres) of a fit, or of valid per-entry errors."""
    if isinstance(errors, FitErrors):
        return {
            "mean_error_m": errors.mean,
            "median_error_m": errors.median,
            "p95_error_m": errors.p95,
            "max_error_m": errors.max,
        }
    return {
        "mean_error_m": float(errors.mean()),
        "median_error_m": float(np.median(errors)),
        "p95_error_m": float(np.percentile(errors, 95)),
        "max_error_m": float(errors.max()),
    }


def _joined_errors(results: list[FitResult]) -> FitErrors | np.ndarray:
    """One body's errors as they are; several bodies' valid joint errors pooled."""
    if len(results) == 1:
        return results[0].errors
    return np.concatenate([r.errors.per_entry[np.isfinite(r.errors.per_entry)] for r in results])


def _persons_summary(sample: SkeletonSample, results: list[FitResult]) -> dict[str, Any]:
    """Per body: its id, frames and errors; and how close the two pelvises come."""
    persons = [
        {
            "person": index,
            "body_id": skeleton.body_id,
            "present_frames": int(skeleton.present.sum()),
            "observed_fraction": float(np.mean(skeleton.valid)),
            **_error_summary(result.errors),
        }
        for index, (skeleton, result) in enumerate(zip(sample.bodies, results, strict=True))
    ]
    summary: dict[str, Any] = {"persons_expected": sample.persons_expected, "persons": persons}
    if len(results) == 2:
        summary.update(_pelvis_closeness(results, [b.present for b in sample.bodies]))
    return summary


def _pelvis_closeness(results: list[FitResult], present: list[np.ndarray]) -> dict[str, Any]:
    """The smallest distance between the fitted pelvises, and the frames where they overlap."""
    both = present[0] & present[1]
    if not both.any():
        return {"min_pelvis_distance_m": None, "min_pelvis_distance_frame": None, "close_pelvis_frames": 0}
    distance = np.linalg.norm(results[0].model_joints[:, 0] - results[1].model_joints[:, 0], axis=-1)
    distance = np.where(both, distance, np.inf)
    frame = int(np.argmin(distance))
    return {
        "min_pelvis_distance_m": float(distance[frame]),
        "min_pelvis_distance_frame": frame,
        "close_pelvis_frames": int((distance < CLOSE_PELVIS_M).sum()),
    }
