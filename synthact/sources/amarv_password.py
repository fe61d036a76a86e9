"""The AMARV archive password, derived from a local AMASS SMPL+H download.

This reproduces the published SynthAct script (``amarv/generate_key.sh`` in
``simplexsigil/SynthAct-Datasets``): the MD5 hex digest of each of 19 AMASS
files, in a fixed order, concatenated without separators, then the MD5 hex
digest of that string. Unlike the script, each file is looked for under every
folder layout AMASS archives unpack to (with or without the doubled top folder,
old or new subset names), and all missing files are reported at once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from synthact.errors import SynthActError
from synthact.sources.amass import feat_p_candidates
from synthact.sources.amass_check import canonical_subset, subset_folder_names

# The script's list, verbatim and in its order (spaces in names are real).
PASSWORD_FILES: tuple[str, ...] = (
    "ACCAD/ACCAD/Female1General_c3d/A10 - lie to crouch_poses.npz",
    "BMLhandball/S01_Expert/shape.npz",
    "BMLmovi/BMLmovi/Subject_11_F_MoSh/shape.npz",
    "BMLrub/BioMotionLab_NTroje/rub001/0000_treadmill_norm_poses.npz",
    "CMU/CMU/01/01_01_poses.npz",
    "DanceDB/20120731_StefanosTheodorou/shape.npz",
    "DFaust_67/DFaust_67/50002/50002_chicken_wings_poses.npz",
    "EKUT/125/SLP101_poses.npz",
    "EyesJapanDataset/Eyes_Japan_Dataset/aita/accident-02-dodge fast-aita_poses.npz",
    "HumanEva/S1/Box_1_poses.npz",
    "KIT/KIT/10/LeftTurn01_poses.npz",
    "MPI_HDM05/bk/HDM_bk_01-01_01_120_poses.npz",
    "MPI_Limits/03099/lar1_poses.npz",
    "MPI_mosh/00008/misc_poses.npz",
    "SFU/0005/0005_2FeetJump001_poses.npz",
    "SSM_synced/20160330_03333/ankles_poses.npz",
    "TCD_handMocap/ExperimentDatabase/BottleA_poses.npz",
    "TotalCapture/TotalCapture/s1/acting1_poses.npz",
    "Transitions_mocap/mazen_c3d/airkick_jumpingtwist360_poses.npz",
)

_CHUNK = 1 << 20


@dataclass(frozen=True)
class MissingFile:
    """One password file that is not under the AMASS root in any layout."""

    listed_path: str  # as the published script names it
    subset: str  # current AMASS subset name, e.g. "DFaust"
    archive_names: tuple[str, ...]  # every name the subset's folder may have


class MissingAmassFiles(SynthActError, FileNotFoundError):
    """Some of the 19 files the password is derived from are missing."""

    def __init__(self, root: Path, missing: list[MissingFile]):
        self.root = root
        self.missing = tuple(missing)
        super().__init__(_missing_message(root, self.missing))


def amarv_password(amass_root: Path) -> str:
    """Derive the AMARV archive password from an AMASS SMPL+H download.

    Args:
        amass_root: the folder holding the AMASS subset folders (``ACCAD/``, ``CMU/``, ...).

    Returns:
        32 lowercase hex characters.

    Raises:
        MissingAmassFiles: naming every missing file and the subset to download.
    """
    digests = "".join(_md5_file(path) for path in find_password_files(amass_root))
    return _md5(digests.encode("ascii")).hexdigest()


def find_password_files(amass_root: Path) -> list[Path]:
    """Locate the 19 password files, in the script's order.

    Raises:
        MissingAmassFiles: if any is not found in any layout.
    """
    root = Path(amass_root)
    found: list[Path] = []
    missing: list[MissingFile] = []
    for listed in PASSWORD_FILES:
        path = next((p for p in candidate_paths(root, listed) if p.is_file()), None)
        if path is None:
            missing.append(_missing(listed))
        else:
            found.append(path)
    if missing:
        raise MissingAmassFiles(root, missing)
    return found


def candidate_paths(root: Path, listed: str) -> list[Path]:
    """Where a listed file may be: the script's exact path first, then other layouts.

    Uses the same layout rules as BABEL ``feat_p`` resolution: an undoubled top
    folder (``CMU/01/...``), a doubled one (``CMU/CMU/01/...``), old and new
    subset names in either position. Only the exact file name counts: a
    ``*_stageii.npz`` from the SMPL-X release has other bytes, so another hash.
    """
    name = PurePosixPath(listed).name
    return [root / c for c in feat_p_candidates(listed) if c.name == name]


def _missing(listed: str) -> MissingFile:
    top = PurePosixPath(listed).parts[0]
    subset = canonical_subset(top)
    if subset is None:
        return MissingFile(listed, top, (top,))
    return MissingFile(listed, subset, subset_folder_names(subset))


def _missing_message(root: Path, missing: tuple[MissingFile, ...]) -> str:
    total = len(PASSWORD_FILES)
    lines = [f"{len(missing)} of the {total} AMASS files the AMARV password needs are missing under {root}:"]
    lines += [f"  {m.listed_path}" for m in missing]
    lines.append("To fix (the password needs the SMPL+H files, not SMPL-X):")
    for subset, names in dict.fromkeys((m.subset, m.archive_names) for m in missing):
        old = [n for n in names if n != subset]
        also = f" ({', '.join(old)})" if old else ""
        lines.append(f"  - download the SMPL+H release of subset '{subset}'{also}")
    lines.append("and unpack it under the root; either layout works (CMU/CMU/01/... or CMU/01/...).")
    return "\n".join(lines)


def _md5(data: bytes = b"") -> hashlib._Hash:
    # usedforsecurity=False: MD5 is a fingerprint here, and FIPS builds refuse it otherwise.
    return hashlib.md5(data, usedforsecurity=False)


def _md5_file(path: Path) -> str:
    """MD5 hex digest of a file, read in 1 MiB chunks (some files are large)."""
    digest = _md5()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()
