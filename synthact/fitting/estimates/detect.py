"""Which estimator wrote which file: by the file names each tool uses.

Every estimator has a fixed output name (WHAM ``wham_output.pkl``, GVHMR
``hmr4d_results.pt``, VIBE ``vibe_output.pkl``, TRAM ``hps/hps_track_<k>.npy``,
SLAHMR ``*_world_results.npz``, PHALP ``results/demo_<video>.pkl``), so a folder of
outputs is sorted without opening a file. ``motion.estimator`` may force one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from synthact.fitting.estimates import gvhmr, phalp, slahmr, tram, vibe, wham
from synthact.fitting.estimates.records import ESTIMATORS, EstimateError
from synthact.safe_names import InputWalk, UnsafePathError, file_name, walk_inputs

_MATCHERS: dict[str, Callable[[Path], bool]] = {
    "wham": lambda p: p.name == wham.FILE_NAME,
    "gvhmr": lambda p: p.name == gvhmr.FILE_NAME,
    "vibe": lambda p: p.name == vibe.FILE_NAME,
    "tram": lambda p: p.parent.name == "hps" and bool(tram.PATTERN.search(p.name)),
    "slahmr": lambda p: bool(slahmr.PATTERN.match(p.name)),
    "phalp": lambda p: p.suffix == ".pkl" and p.parent.name == phalp.FOLDER,
}
_VIDEO_NAME = {
    "wham": wham.video_name,
    "gvhmr": gvhmr.video_name,
    "vibe": vibe.video_name,
    "tram": tram.video_name,
    "slahmr": slahmr.video_name,
    "phalp": phalp.video_name,
}
_DATA_SUFFIXES = {".pkl", ".pt", ".pth", ".npy", ".npz"}


@dataclass(frozen=True)
class EstimateFile:
    """One estimator output file and the video it belongs to."""

    estimator: str
    path: Path
    video: str


def estimator_of(path: Path) -> str | None:
    """The estimator whose output name ``path`` has, or None."""
    for name, matches in _MATCHERS.items():
        if matches(path):
            return name
    return None


def find_estimate_files(folder: Path, estimator: str = "auto", walk: InputWalk | None = None) -> list[EstimateFile]:
    """Every estimator output under ``folder`` (recursive), sorted; one file per video and estimator.

    Args:
        walk: ``folder`` as ``synthact.safe_names.walk_inputs`` found it (walked here if None):
            links out of the folder are not followed. A file whose video name
            could not be a folder name is added to its ``skipped``.

    Raises:
        EstimateError: no recognised file, naming what the folder does hold.
    """
    if estimator not in ("auto",) + ESTIMATORS:
        raise EstimateError(f"motion.estimator: unknown estimator {estimator!r}; choose auto or one of {ESTIMATORS}")
    walk = walk if walk is not None else walk_inputs(folder)
    files = walk.files
    found: dict[tuple[str, str, str], EstimateFile] = {}
    for path in files:
        name = estimator_of(path)
        if name is None or (estimator != "auto" and name != estimator):
            continue
        try:
            video = file_name(_VIDEO_NAME[name](path), "video name", path)
        except UnsafePathError as exc:
            walk.skip(path, str(exc))
            continue
        # TRAM: one file per track; SLAHMR: the latest iteration of a sequence.
        key = (name, video, path.name if name == "tram" else "")
        if name == "slahmr" and key in found and slahmr.iteration(found[key].path) >= slahmr.iteration(path):
            continue
        found[key] = EstimateFile(name, path, video)
    if not found:
        raise EstimateError(_nothing_found(folder, files, estimator))
    return sorted(found.values(), key=lambda f: (f.video, f.estimator, str(f.path)))


def _nothing_found(folder: Path, files: list[Path], estimator: str) -> str:
    data = [p for p in files if p.suffix in _DATA_SUFFIXES]
    which = "any estimator" if estimator == "auto" else estimator
    listed = ", ".join(str(p) for p in data[:3]) + (" ..." if len(data) > 3 else "")
    held = f"; it holds {listed}, in no known estimator format" if data else "; it holds no data file"
    names = (
        "wham_output.pkl, hmr4d_results.pt, results/demo_<video>.pkl, vibe_output.pkl, "
        "hps/hps_track_<k>.npy, *_world_results.npz"
    )
    return f"motion.estimates_dir: no output of {which} under {folder}{held} (expected one of: {names})"
