"""Where the fit stage writes, and which protocol and split table its outputs follow.

Both fit stages share these: the skeleton fit (``convert``) and the estimates
stage (``estimates.stage``) write the same files, so that nothing downstream
knows which one made them (``convert``'s module notes list the layout).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from synthact.config import RunPaths
from synthact.fitting.estimates.settings import estimates_protocol, labels_mode
from synthact.fitting.skeleton_sources import DATASETS

ESTIMATES_SOURCE = "estimates"  # 3D pose estimators' outputs (synthact.fitting.estimates), same outputs as a fit


def protocol_of(config: dict[str, Any]) -> str:
    """The chosen protocol's config name (``xsub``, ``cs``, ...), the dataset's default if empty."""
    motion = config["motion"]
    if motion["source"] == ESTIMATES_SOURCE:
        return estimates_protocol(config)
    return motion["protocol"] or DATASETS[motion["source"]].default_protocol


def split_dataset(config: dict[str, Any]) -> str:
    """The ``synthact.sources.protocols`` dataset whose protocols apply: ntu60, ntu, smarthome (or csv)."""
    source = config["motion"]["source"]
    if source == ESTIMATES_SOURCE:
        source = labels_mode(config)
    if source == "ntu":
        return "ntu60" if config["motion"]["ntu_classes"] == 60 else "ntu"
    return source


@dataclass(frozen=True)
class FittedPaths:
    """Where the fit stage writes (the layout is in ``convert``'s module notes)."""

    root: Path  # WORK/fitted: the AMASS root the index reads
    source: str
    protocol: str
    splits_dir: Path

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> FittedPaths:
        paths = RunPaths.from_config(config)
        source = config["motion"]["source"]
        return cls(paths.work_dir / "fitted", source, protocol_of(config), paths.output_dir / "splits")

    @property
    def motion_dir(self) -> Path:
        # The doubled folder mirrors AMASS archives (CMU/CMU/01/...).
        return self.root / self.source / self.source

    @property
    def fits_dir(self) -> Path:
        return self.root / self.source / "fits"

    @property
    def labels_dir(self) -> Path:
        return self.root / self.source / "labels" / self.protocol

    @property
    def report(self) -> Path:
        return self.root / self.source / "fit_report.json"

    def feat_p(self, sample: str) -> str:
        """The motion file of ``sample``, relative to ``root`` (BABEL's ``feat_p``)."""
        return f"{self.source}/{self.source}/{sample}_poses.npz"

    def partner_feat_p(self, sample: str, person: int) -> str:
        """The motion file of body ``person`` (1, 2, ...) of ``sample``'s take, relative to ``root``."""
        return self.feat_p(partner_name(sample, person))

    def partner_motion(self, sample: str, person: int) -> Path:
        """The motion file of body ``person`` (1, 2, ...) of ``sample``'s take."""
        return self.root / self.partner_feat_p(sample, person)


def partner_name(sample: str, person: int) -> str:
    """``<sample>_person<k>``: the motion name of body k >= 1 of a take; body 0 is ``sample`` itself."""
    return f"{sample}_person{person}"
