"""The ``motion`` keys of ``source: estimates``, checked once, with errors that name the key.

Light on purpose (no torch): the workflow reads it while parsing the Snakefile.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from synthact.errors import ConfigError
from synthact.fitting.estimates.labels import DATASET_LABELS
from synthact.fitting.skeleton_sources import DATASETS, require_dataset_protocols

CSV_PROTOCOL = "csv"  # the label-file folder and split-file name of CSV-labelled runs


def labels_mode(config: dict[str, Any]) -> str:
    """``ntu``, ``smarthome`` or ``csv``: where the clips' labels come from.

    Empty ``motion.estimates_labels`` follows the preset (``ntu`` / ``smarthome``).
    """
    value = config["motion"]["estimates_labels"]
    if not value:
        preset = config.get("preset", "none")
        if preset in DATASET_LABELS:
            return preset
        raise ConfigError(
            "motion.estimates_labels: required with motion.source: estimates (unless preset is ntu or smarthome): "
            "ntu, smarthome (labels from the video names) or the path of a video,start_s,end_s,label CSV"
        )
    return value if value in DATASET_LABELS else "csv"


def estimates_protocol(config: dict[str, Any]) -> str:
    """The protocol whose splits the label files follow (``csv`` for CSV labels)."""
    mode = labels_mode(config)
    if mode == "csv":
        return CSV_PROTOCOL
    return config["motion"]["protocol"] or DATASETS[mode].default_protocol


def check_estimates_config(config: dict[str, Any]) -> None:
    """Cross-field checks of ``motion.source: estimates``; raises ConfigError naming the key."""
    motion = config["motion"]
    if not motion["estimates_dir"]:
        raise ConfigError(
            "motion.estimates_dir: required when motion.source is estimates (the estimators' output folder)"
        )
    mode = labels_mode(config)
    if config["demo"]["enabled"]:
        raise ConfigError(
            "demo.enabled is true, but motion.source estimates reads no demo data; set demo.enabled: false "
            "and point motion.body_model_dir at an SMPL-H model folder"
        )
    if mode == "csv":
        return
    dataset = DATASETS[mode]
    require_dataset_protocols(config, f"{dataset.title}-named estimated motion", dataset.title)
    protocol = estimates_protocol(config)
    if protocol not in dataset.protocols:
        choices = ", ".join(sorted(dataset.protocols))
        raise ConfigError(f"motion.protocol: {protocol} is not a protocol of {dataset.title}; choose one of {choices}")


@dataclass(frozen=True)
class EstimateSettings:
    """What the estimates stage needs from the config."""

    estimates_dir: Path
    estimator: str
    labels: str  # ntu | smarthome | csv
    labels_csv: Path | None
    tracks: str
    max_gap_s: float
    smoothing_s: float
    fps: float
    source_models_dir: str
    vibe_hfov_deg: float
    shape_fit: str

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> EstimateSettings:
        motion, options = config["motion"], config["motion"]["estimates"]
        mode = labels_mode(config)
        return cls(
            estimates_dir=Path(motion["estimates_dir"]),
            estimator=motion["estimator"],
            labels=mode,
            labels_csv=Path(motion["estimates_labels"]) if mode == "csv" else None,
            tracks=options["tracks"],
            max_gap_s=float(options["max_gap_s"]),
            smoothing_s=float(options["smoothing_s"]),
            fps=float(options["fps"]),
            source_models_dir=options["source_models_dir"],
            vibe_hfov_deg=float(options["vibe_hfov_deg"]),
            shape_fit=options["shape_fit"],
        )

    def as_dict(self) -> dict[str, Any]:
        return {k: str(v) if isinstance(v, Path) else v for k, v in self.__dict__.items()}
