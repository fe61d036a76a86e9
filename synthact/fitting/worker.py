"""Fit one skeleton sample: read, place in the world, fit SMPL-H, ground, write.

Runs in the fit stage's process or in its worker processes (one body model per
process, loaded once by ``init_worker``). A sample's outcome is a plain dict,
so it crosses process boundaries and goes into the JSON report as it is.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from synthact.body.smplh import BodyModel
from synthact.fitting.export import ground_translation, motion_arrays, write_json, write_motion
from synthact.fitting.fit import fit_smplh
from synthact.fitting.options import FitOptions
from synthact.fitting.skeleton_sources import DATASETS
from synthact.sources.ntu import MissingSkeletonError
from synthact.sources.smarthome import EmptyPoseError

_STATE: dict[str, Any] = {}  # per process: the body model and the fit options


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
    motion_path: str  # the AMASS npz to write
    sidecar_path: str  # the sample's fit summary (JSON)
    settings: dict[str, Any]

    def done_before(self) -> bool:
        """An earlier run fitted this sample with the same settings (the npz is written last)."""
        if not Path(self.motion_path).is_file():
            return False
        try:
            return json.loads(Path(self.sidecar_path).read_text())["settings"] == self.settings
        except (OSError, ValueError, KeyError):
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
    skeleton = dataset.read(Path(task.file))
    body: BodyModel = _STATE["body"]
    result = fit_smplh(skeleton.joints, skeleton.valid, list(enumerate(dataset.joint_map)), body, _STATE["options"])
    trans, shift = ground_translation(body, result.poses, result.trans, result.betas, skeleton.ground)
    outcome = {
        **base,
        "status": "fitted",
        "frames": int(result.poses.shape[0]),
        "fps": dataset.fps,
        "observed_fraction": float(np.mean(skeleton.valid)),
        "mean_error_m": result.errors.mean,
        "median_error_m": result.errors.median,
        "p95_error_m": result.errors.p95,
        "max_error_m": result.errors.max,
        "ground": skeleton.ground,
        "ground_shift_m": shift,
        "seconds": round(time.perf_counter() - started, 3),
    }
    # Sidecar first, npz last: an npz on disk always has its summary beside it.
    write_json(Path(task.sidecar_path), {**outcome, "status": "fitted", "settings": task.settings})
    write_motion(Path(task.motion_path), motion_arrays(result.poses, trans, result.betas, "neutral", dataset.fps))
    return outcome
