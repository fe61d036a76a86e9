"""Check an AMASS download: which subsets are there, how many sequences, what is broken.

``check_amass`` scans a folder tree for AMASS motion files, opens every
sequence without pickle, and reports per subset the number of SMPL+H
(``*_poses.npz``) and SMPL-X (``*_stageii.npz``) sequences, the frame rates
seen, and each file that cannot be used (with the error). ``format_report``
turns the result into a table for the terminal.

Subsets are recognised under both their current download names and the old
archive names that BABEL's ``feat_p`` paths use.
"""

from __future__ import annotations

import io
import sys
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.lib.npyio import NpzFile

from synthact.sources.amass import (
    NEW_TO_OLD_DATASET_NAMES,
    OLD_TO_NEW_DATASET_NAMES,
    MotionError,
    find_motion_files,
    load_motion,
)

if TYPE_CHECKING:
    from rich.table import Table

# Subsets of AMASS, under their current download names.
KNOWN_SUBSETS: tuple[str, ...] = (
    "ACCAD", "BMLhandball", "BMLmovi", "BMLrub", "CMU", "CNRS", "DanceDB", "DFaust",
    "EKUT", "EyesJapanDataset", "GRAB", "HDM05", "HUMAN4D", "HumanEva", "KIT", "MoSh",
    "PosePrior", "SFU", "SOMA", "SSM", "TCDHands", "TotalCapture", "Transitions", "WEIZMANN",
)  # fmt: skip  # a table, in rows as its source has them

POSE_MODELS = {156: "smplh", 165: "smplx"}  # poses width -> release
SPLIT_POSE_KEYS = ("root_orient", "pose_body", "pose_hand")  # SMPL-X exports without 'poses'
FRAME_RATE_KEYS = ("mocap_framerate", "mocap_frame_rate")  # SMPL+H, SMPL-X spelling

ProgressFn = Callable[[int, int], None]


def canonical_subset(folder_name: str) -> str | None:
    """Current AMASS name of a subset folder (old or new name), or None."""
    name = OLD_TO_NEW_DATASET_NAMES.get(folder_name, folder_name)
    return name if name in KNOWN_SUBSETS else None


def subset_folder_names(subset: str) -> tuple[str, ...]:
    """All folder names a known subset may have: current name first, then the old one."""
    old = NEW_TO_OLD_DATASET_NAMES.get(subset)
    return (subset, old) if old else (subset,)


@dataclass(frozen=True)
class FileProblem:
    """A sequence file that cannot be used, and why."""

    path: Path
    error: str


@dataclass(frozen=True)
class Inspection:
    """What opening one sequence file showed."""

    model: str  # "smplh" or "smplx"
    frame_rate: float | None
    error: str | None


@dataclass
class SubsetSummary:
    """What was found for one subset (or one unrecognised top folder)."""

    name: str
    known: bool
    folders: set[str] = field(default_factory=set)
    smplh_sequences: int = 0
    smplx_sequences: int = 0
    problems: int = 0
    frame_rates: Counter[float] = field(default_factory=Counter)

    @property
    def sequences(self) -> int:
        """All sequence files, readable or not."""
        return self.smplh_sequences + self.smplx_sequences

    def add(self, found: Inspection) -> None:
        """Count one inspected file."""
        if found.model == "smplx":
            self.smplx_sequences += 1
        else:
            self.smplh_sequences += 1
        self.problems += found.error is not None
        if found.frame_rate is not None:
            self.frame_rates[found.frame_rate] += 1


@dataclass
class AmassCheckReport:
    """Result of ``check_amass``."""

    root: Path
    subsets: list[SubsetSummary]
    missing_subsets: list[str]
    problems: list[FileProblem]
    deep: bool

    @property
    def total_sequences(self) -> int:
        """Sequence files found in all subsets."""
        return sum(s.sequences for s in self.subsets)

    @property
    def ok(self) -> bool:
        """True when sequences were found and every one of them is usable."""
        return self.total_sequences > 0 and not self.problems


def print_progress(done: int, total: int) -> None:
    """Default progress display on stderr: in place on a terminal, sparse in logs."""
    if sys.stderr.isatty():
        end = "\n" if done == total else ""
        print(f"\rchecked {done}/{total} AMASS files", end=end, file=sys.stderr, flush=True)
    elif done == total or done % 2000 == 0:
        print(f"checked {done}/{total} AMASS files", file=sys.stderr, flush=True)


def check_amass(
    root: Path,
    *,
    deep: bool = False,
    workers: int = 8,
    progress: ProgressFn | None = print_progress,
) -> AmassCheckReport:
    """Scan an AMASS folder and open every sequence file.

    Sequence files are those SynthAct's AMASS reader would index
    (``synthact.sources.amass.iter_motion_files``): ``*_poses.npz`` and
    ``*_stageii.npz``, never ``*_stagei.npz`` or ``shape.npz``. They are
    counted as SMPL+H or SMPL-X by the width of ``poses`` (file name if unreadable).

    Args:
        root: the AMASS root (holding subset folders such as ``CMU/``), or one
            subset folder.
        deep: read every file in full with SynthAct's own loader
            (``load_motion``), which checks every array, the zip checksums and
            finiteness. Without it only the ``poses`` header and the frame rate
            are read: fast, but blind to damage inside the data.
        workers: threads opening files in parallel (helps on network file systems).
        progress: called as ``progress(done, total)``; None for silence.

    Returns:
        The report; known subsets first, in name order; problems in path order.

    Raises:
        NotADirectoryError: ``root`` is not a folder.
    """
    root = Path(root)
    if not root.is_dir():
        raise NotADirectoryError(f"AMASS root {root} is not a folder")
    walk = find_motion_files(root)
    files = walk.files
    summaries: dict[str, SubsetSummary] = {}
    problems = [FileProblem(Path(entry["path"]), entry["reason"]) for entry in walk.skipped]
    inspect = _inspect_deep if deep else _inspect_headers
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for done, (path, found) in enumerate(zip(files, pool.map(inspect, files), strict=True), start=1):
            _summary_for(summaries, root, path).add(found)
            if found.error is not None:
                problems.append(FileProblem(path, found.error))
            if progress is not None and (done % 200 == 0 or done == len(files)):
                progress(done, len(files))
    present = {s.name for s in summaries.values() if s.known}
    return AmassCheckReport(
        root=root,
        subsets=sorted(summaries.values(), key=lambda s: (not s.known, s.name.lower())),
        missing_subsets=[name for name in KNOWN_SUBSETS if name not in present],
        problems=sorted(problems, key=lambda problem: str(problem.path)),
        deep=deep,
    )


def _summary_for(summaries: dict[str, SubsetSummary], root: Path, path: Path) -> SubsetSummary:
    name, folder, known = _classify(root, path)
    summary = summaries.setdefault(name, SubsetSummary(name=name, known=known))
    summary.folders.add(folder)
    return summary


def _classify(root: Path, path: Path) -> tuple[str, str, bool]:
    """(subset name, folder it was found in, known?) for one file."""
    subset = canonical_subset(root.name)
    if subset:  # the root is itself one subset folder
        return subset, ".", True
    folders = path.relative_to(root).parts[:-1]
    # Look one level deeper too, for a wrapper folder such as "smplh/CMU/...".
    for depth, folder in enumerate(folders[:2], start=1):
        subset = canonical_subset(folder)
        if subset:
            return subset, "/".join(folders[:depth]), True
    top = folders[0] if folders else "."
    return top, top, False


def _inspect_deep(path: Path) -> Inspection:
    """Read the file exactly as the indexer will."""
    try:
        motion = load_motion(path)
    except MotionError as exc:  # its message starts with the path, which the report shows anyway
        return Inspection(_guess_model(path), None, str(exc).removeprefix(f"{path}: "))
    except Exception as exc:  # noqa: BLE001  one odd file must not end a scan of thousands
        return Inspection(_guess_model(path), None, f"{type(exc).__name__}: {exc}")
    return Inspection(motion.source_model, motion.fps, None)


def _inspect_headers(path: Path) -> Inspection:
    """Check that ``poses`` (or its split keys) and a frame rate are there, reading headers only."""
    try:
        with np.load(path, allow_pickle=False) as data:
            if "poses" in data.files:
                width = _poses_width(data)
            elif all(k in data.files for k in SPLIT_POSE_KEYS):
                width = None  # split keys: the loader rebuilds 'poses' from them
            else:
                return Inspection(_guess_model(path), None, f"no 'poses' array (keys: {sorted(data.files)})")
            rate = _frame_rate(data)
    except Exception as exc:  # noqa: BLE001  zipfile, OSError, ValueError, EOFError: all "unusable"
        return Inspection(_guess_model(path), None, f"unreadable: {type(exc).__name__}: {exc}")
    model = POSE_MODELS.get(width, _guess_model(path)) if width is not None else _guess_model(path)
    if width is not None and width not in POSE_MODELS:
        return Inspection(model, rate, f"'poses' has {width} values per frame; expected 156 (SMPL+H) or 165 (SMPL-X)")
    if rate is None:
        return Inspection(model, None, f"no frame rate (neither of {FRAME_RATE_KEYS})")
    return Inspection(model, rate, None)


def _guess_model(path: Path) -> str:
    return "smplx" if path.name.endswith("_stageii.npz") else "smplh"


def _poses_width(data: NpzFile) -> int:
    """Values per frame of ``poses``, from its .npy header alone (the data stays unread)."""
    with data.zip.open("poses.npy") as member:
        version = np.lib.format.read_magic(member)
        if version == (1, 0):
            shape, _, _ = np.lib.format.read_array_header_1_0(member)
        else:
            shape, _, _ = np.lib.format.read_array_header_2_0(member)
    if len(shape) != 2:
        raise ValueError(f"'poses' has shape {shape}, expected (frames, values)")
    return int(shape[1])


def _frame_rate(data: NpzFile) -> float | None:
    for key in FRAME_RATE_KEYS:
        if key in data.files:
            return float(np.asarray(data[key]).reshape(()))
    return None


def format_report(report: AmassCheckReport, width: int = 110, max_problems: int = 50) -> str:
    """Render the report as a plain-text table (no colour codes).

    Args:
        report: from ``check_amass``.
        width: line width of the table.
        max_problems: list at most this many problem files (the count is always given).
    """
    from rich.console import Console

    console = Console(file=io.StringIO(), width=width, color_system=None, highlight=False)
    console.print(_subset_table(report))
    for line in _summary_lines(report, max_problems):
        console.print(line, markup=False, soft_wrap=True)
    return console.file.getvalue()  # type: ignore[attr-defined]


def _subset_table(report: AmassCheckReport) -> Table:
    from rich.table import Table

    table = Table(title=f"AMASS at {report.root}", title_justify="left")
    for name in ("subset", "folder(s)", "SMPL+H seqs", "SMPL-X seqs", "problems", "frame rates (files)"):
        table.add_column(name, justify="right" if "seqs" in name or name == "problems" else "left")
    for s in report.subsets:
        label = s.name if s.known else f"{s.name} (not an AMASS subset)"
        table.add_row(
            label,
            ", ".join(sorted(s.folders)),
            str(s.smplh_sequences),
            str(s.smplx_sequences),
            str(s.problems),
            _format_rates(s.frame_rates),
        )
    return table


def _format_rates(rates: Counter[float]) -> str:
    # Rates like 120.00004577636719 occur in real AMASS files: show enough digits to tell them apart.
    return ", ".join(f"{rate:.10g} ({n})" for rate, n in sorted(rates.items())) or "-"


def _summary_lines(report: AmassCheckReport, max_problems: int) -> Iterable[str]:
    mode = "every array read" if report.deep else "headers only; a deep check reads every array"
    yield f"{report.total_sequences} sequences in {len(report.subsets)} folders ({mode})."
    if report.missing_subsets:
        yield "Subsets not found: " + ", ".join(_with_old_names(n) for n in report.missing_subsets)
    if not report.problems:
        yield "No unreadable files."
        return
    yield f"{len(report.problems)} unusable file(s):"
    for problem in report.problems[:max_problems]:
        yield f"  {problem.path}: {problem.error}"
    if len(report.problems) > max_problems:
        yield f"  ... and {len(report.problems) - max_problems} more"


def _with_old_names(subset: str) -> str:
    old = NEW_TO_OLD_DATASET_NAMES.get(subset)
    return f"{subset} ({old})" if old else subset
