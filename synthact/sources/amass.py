"""Read AMASS motion files (SMPL+H ``*_poses.npz`` and SMPL-X ``*_stageii.npz``).

Every motion comes back in one layout, SMPL+H's 156 pose values per frame, so
the rest of SynthAct never needs to know which AMASS release a file came from.

Files are opened with ``allow_pickle=False``: SMPL-X files carry a pickled
``markers_latent_vids`` entry that we never touch, and a motion file has no
business executing code on load.
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
from numpy.lib.npyio import NpzFile

from synthact.body.skeleton import NUM_BETAS, POSE_WIDTH
from synthact.errors import SynthActError
from synthact.safe_names import InputWalk, UnsafePathError, contained_path, normalise_relative, walk_inputs

SMPLX_POSE_WIDTH = 165  # root 3, body 63, jaw 3, eyes 6, hands 90
_SMPLX_HANDS_START = 75  # hands follow jaw and eyes in SMPL-X's pose vector
_SMPLH_HANDS_START = 66
_FPS_KEYS = ("mocap_framerate", "mocap_frame_rate")  # SMPL+H, SMPL-X spelling
_SPLIT_POSE_KEYS = ("root_orient", "pose_body", "pose_hand")
_GENDERS = ("male", "female", "neutral")
# Anything numpy/zipfile raise on a damaged archive: all mean "unreadable".
_ZIP_MAGIC = b"PK\x03\x04"
_READ_ERRORS = (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, KeyError)

# BABEL's feat_p uses the archive names AMASS had in 2021; downloads today use
# shorter ones. Both are tried when resolving a feat_p.
OLD_TO_NEW_DATASET_NAMES = {
    "BioMotionLab_NTroje": "BMLrub",
    "DFaust_67": "DFaust",
    "Eyes_Japan_Dataset": "EyesJapanDataset",
    "MPI_HDM05": "HDM05",
    "MPI_Limits": "PosePrior",
    "MPI_mosh": "MoSh",
    "SSM_synced": "SSM",
    "TCD_handMocap": "TCDHands",
    "Transitions_mocap": "Transitions",
}
NEW_TO_OLD_DATASET_NAMES = {new: old for old, new in OLD_TO_NEW_DATASET_NAMES.items()}


class MotionError(SynthActError, ValueError):
    """A motion file is missing, unreadable or malformed (the message names it)."""


@dataclass(frozen=True, eq=False)
class Motion:
    """One motion sequence in SMPL+H layout, at its own capture rate.

    Attributes:
        path: The file it was read from.
        poses: (T, 156) float64 axis-angle: root 3, body 63, left hand 45,
            right hand 45.
        trans: (T, 3) float64 translation, metres, Z-up world
            (pelvis = J0(betas) + trans).
        betas: (16,) float64 shape coefficients (zero-padded or cut to 16).
        gender: ``'male'``, ``'female'`` or ``'neutral'``.
        fps: Capture frame rate read from the file.
        source_model: ``'smplh'`` or ``'smplx'``: the release the file came from.
            SMPL-X betas describe the SMPL-X body and only approximate SMPL-H's.
        present: (T,) bool, False in frames where the body is not in the scene (a
            tracked person who left the video, a skeleton the sensor lost). Fit
            outputs store it as the optional ``present`` array; AMASS files have
            none, and their body is present in every frame. The poses of absent
            frames are placeholders and are never shown.
    """

    path: Path
    poses: np.ndarray
    trans: np.ndarray
    betas: np.ndarray
    gender: str
    fps: float
    source_model: str = "smplh"
    present: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.present is None:
            object.__setattr__(self, "present", np.ones(len(self.poses), bool))

    @property
    def num_frames(self) -> int:
        return int(self.poses.shape[0])


def load_motion(path: Path, root: Path | None = None) -> Motion:
    """Read and validate one AMASS motion file.

    Args:
        path: The ``.npz`` file; relative paths are taken relative to ``root``.
        root: The AMASS root, if ``path`` is relative to it.

    Returns:
        The motion in SMPL+H layout.

    Raises:
        MotionError: The file is missing, unreadable, lacks a key, or holds
            arrays of the wrong shape, non-finite values, no frames, or a
            non-positive frame rate. The message names the file.
    """
    path = Path(path)
    if root is not None and not path.is_absolute():
        path = Path(root) / path
    if not path.is_file():
        raise MotionError(f"{path}: motion file not found")
    try:
        data = np.load(path, allow_pickle=False)
    except _READ_ERRORS as exc:
        raise MotionError(f"{path}: {_why_unreadable(path, exc)}") from exc
    if not isinstance(data, NpzFile):
        raise MotionError(f"{path}: not an .npz archive (it holds a single .npy array)")
    with data:
        try:
            return _parse(path, data)
        except MotionError:
            raise
        except _READ_ERRORS as exc:  # a damaged member surfaces only when it is read
            raise MotionError(f"{path}: corrupt npz, a member cannot be read ({type(exc).__name__}: {exc})") from exc


def _why_unreadable(path: Path, exc: Exception) -> str:
    """Say what is wrong with a file np.load rejected; its own messages mislead.

    (A random file makes numpy complain about pickled data, for instance.)
    """
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError as os_exc:
        return f"cannot be read ({os_exc})"
    if not head:
        return "empty file (0 bytes)"
    if head == _ZIP_MAGIC:
        return (
            "truncated or damaged npz: the zip header is there but the archive is incomplete "
            f"(interrupted download or extraction?) ({type(exc).__name__}: {exc})"
        )
    # The file's bytes are never echoed: a message must not leak what an input file points at.
    return "not an npz archive (no zip signature at the start)"


def _parse(path: Path, data: NpzFile) -> Motion:
    """Turn an open archive's arrays into a validated ``Motion``."""
    poses, source_model = _read_poses(path, data)
    num_frames = poses.shape[0]
    trans = _read_float(path, data, "trans")
    if trans.shape != (num_frames, 3):
        raise MotionError(f"{path}: 'trans' has shape {trans.shape}, expected ({num_frames}, 3) to match 'poses'")
    betas = _read_betas(path, data)
    return Motion(
        path=path,
        poses=poses,
        trans=trans,
        betas=betas,
        gender=_read_gender(path, data),
        fps=_read_fps(path, data),
        source_model=source_model,
        present=_read_present(path, data, num_frames),
    )


def _read_present(path: Path, data: NpzFile, num_frames: int) -> np.ndarray:
    """The optional per-frame ``present`` flags; every frame when the file has none."""
    if "present" not in data.files:
        return np.ones(num_frames, bool)
    present = np.asarray(_require(path, data, "present"))
    if present.shape != (num_frames,) or present.dtype != bool:
        raise MotionError(
            f"{path}: 'present' must be ({num_frames},) bool to match 'poses', got {present.dtype} {present.shape}"
        )
    if not present.any():
        raise MotionError(f"{path}: 'present' is False in every frame: the body is never in the scene")
    return present


def _require(path: Path, data: NpzFile, key: str) -> np.ndarray:
    if key not in data.files:
        raise MotionError(f"{path}: missing key {key!r} (keys present: {sorted(data.files)})")
    try:
        return data[key]
    except _READ_ERRORS as exc:  # members are only decoded here, so damage shows up here
        if "allow_pickle" in str(exc):
            raise MotionError(f"{path}: {key!r} is stored as pickled Python objects, which are never loaded") from exc
        raise MotionError(f"{path}: cannot read {key!r}, corrupt data ({type(exc).__name__}: {exc})") from exc


def _read_float(path: Path, data: NpzFile, key: str) -> np.ndarray:
    """Read a numeric array as float64 and reject NaN/inf, naming the first bad row."""
    raw = _require(path, data, key)
    if raw.dtype.kind not in "fiu":
        raise MotionError(f"{path}: {key!r} is not numeric (dtype {raw.dtype})")
    array = np.asarray(raw, dtype=np.float64)
    finite = np.isfinite(array)
    if not finite.all():
        bad = np.argwhere(~finite)[0]
        what = "NaN" if np.isnan(array[tuple(bad)]) else "inf"
        if array.ndim == 0:
            raise MotionError(f"{path}: {key!r} is {what}")
        where = f"frame {bad[0]}" if array.ndim > 1 else f"index {bad[0]}"
        raise MotionError(f"{path}: {key!r} contains {what} (first at {where})")
    return array


def _read_poses(path: Path, data: NpzFile) -> tuple[np.ndarray, str]:
    """Read the pose vectors and map SMPL-X's 165 values onto SMPL+H's 156."""
    if "poses" in data.files or not all(k in data.files for k in _SPLIT_POSE_KEYS):
        poses = _read_float(path, data, "poses")
    else:
        # Some SMPL-X exports keep only the split keys: rebuild SMPL+H's layout.
        poses = np.concatenate([_read_float(path, data, k) for k in _SPLIT_POSE_KEYS], axis=-1)
    if poses.ndim != 2:
        raise MotionError(f"{path}: 'poses' must be 2-D (frames, values), got shape {poses.shape}")
    if poses.shape[0] == 0:
        raise MotionError(f"{path}: zero-length motion ('poses' has no frames)")
    width = poses.shape[1]
    if width == POSE_WIDTH:
        return poses, "smplh"
    if width == SMPLX_POSE_WIDTH:
        smplh = np.concatenate([poses[:, :_SMPLH_HANDS_START], poses[:, _SMPLX_HANDS_START:]], axis=1)
        return smplh, "smplx"
    raise MotionError(
        f"{path}: 'poses' has {width} values per frame; expected {POSE_WIDTH} (SMPL+H) or {SMPLX_POSE_WIDTH} (SMPL-X)"
    )


def _read_betas(path: Path, data: NpzFile) -> np.ndarray:
    """Shape coefficients as (16,), zero-padded or cut (SMPL-X may store fewer)."""
    given = _read_float(path, data, "betas").ravel()
    betas = np.zeros(NUM_BETAS, dtype=np.float64)
    count = min(NUM_BETAS, given.size)
    betas[:count] = given[:count]
    return betas


def _read_gender(path: Path, data: NpzFile) -> str:
    """Gender is stored as a 0-d str or bytes array, depending on the release."""
    raw = _require(path, data, "gender")
    value = raw.item() if raw.size == 1 else None
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    gender = value.strip().lower() if isinstance(value, str) else None
    if gender not in _GENDERS:
        raise MotionError(f"{path}: 'gender' is {raw!r}; expected one of {_GENDERS}")
    return gender


def _read_fps(path: Path, data: NpzFile) -> float:
    key = next((k for k in _FPS_KEYS if k in data.files), None)
    if key is None:
        raise MotionError(f"{path}: missing frame rate (neither of {_FPS_KEYS}; keys present: {sorted(data.files)})")
    raw = _read_float(path, data, key)
    if raw.size != 1:
        raise MotionError(f"{path}: {key!r} must be a scalar, got shape {raw.shape}")
    fps = float(raw.reshape(()))
    if fps <= 0:
        raise MotionError(f"{path}: {key!r} is {fps}; the frame rate must be positive")
    return fps


def is_motion_file(path: Path) -> bool:
    """True for sequence files; false for per-subject ``*_stagei.npz`` and ``shape.npz``."""
    name = path.name
    return name.endswith(".npz") and not name.endswith("_stagei.npz") and name != "shape.npz"


def find_motion_files(root: Path) -> InputWalk:
    """The motion files under ``root``, sorted by relative path (deterministic), and what was not taken.

    Links out of ``root`` are refused as ``resolve_feat_p`` refuses them
    (``synthact.safe_names.walk_inputs``: one policy for every input root).
    """
    root = Path(root)
    walk = walk_inputs(root)
    found = (p for p in walk.files if is_motion_file(p))
    walk.files = sorted(found, key=lambda p: p.relative_to(root).as_posix())
    walk.skipped = [e for e in walk.skipped if not Path(e["path"]).suffix or is_motion_file(Path(e["path"]))]
    return walk


def iter_motion_files(root: Path) -> Iterator[Path]:
    """Every motion file under ``root``, sorted by relative path (deterministic)."""
    yield from find_motion_files(root).files


def _dataset_name_variants(names: list[str]) -> list[str]:
    """The given folder names plus their old/new AMASS spellings, in order, unique."""
    variants: list[str] = []
    for name in names:
        for candidate in (name, OLD_TO_NEW_DATASET_NAMES.get(name), NEW_TO_OLD_DATASET_NAMES.get(name)):
            if candidate and candidate not in variants:
                variants.append(candidate)
    return variants


def feat_p_candidates(feat_p: str) -> list[PurePosixPath]:
    """Relative paths where ``feat_p`` may live under an AMASS root, most likely first.

    BABEL writes ``<outer>/<inner>/<subject>/<file>`` where ``<inner>`` is the
    2021 archive folder (e.g. ``BMLrub/BioMotionLab_NTroje/rub055/...``). A
    download may be unpacked flat (``<name>/<subject>``) or with the archive's
    own top folder doubled (``<name>/<name>/<subject>``), under old or new
    names, and SMPL-X releases name the file ``*_stageii.npz``.
    """
    parts = PurePosixPath(feat_p.replace("\\", "/")).parts
    if len(parts) < 2:
        return [PurePosixPath(feat_p)]
    tail = parts[-2:]  # subject folder and file name
    names = _dataset_name_variants(list(reversed(parts[:-2])))  # inner name first
    candidates = [PurePosixPath(*parts)]
    for first in names:
        candidates.append(PurePosixPath(first, *tail))
        candidates.extend(PurePosixPath(first, second, *tail) for second in names)
    stageii = [
        c.with_name(c.name[: -len("_poses.npz")] + "_stageii.npz") for c in candidates if c.name.endswith("_poses.npz")
    ]
    unique: list[PurePosixPath] = []
    for candidate in candidates + stageii:
        if candidate not in unique:
            unique.append(candidate)
    return unique


def resolve_feat_p(root: Path, feat_p: str) -> Path:
    """Find the motion file a BABEL ``feat_p`` names under the AMASS ``root``.

    ``feat_p`` is checked by ``contained_path`` (backslashes read as slashes
    first, symlinks resolved) before anything is opened.

    Raises:
        MotionError: ``feat_p`` leaves the root, or none of the candidate
            layouts exists; lists every path tried.
    """
    root = Path(root)
    try:
        normalise_relative(feat_p, "the AMASS root")
        candidates = feat_p_candidates(feat_p)
        for candidate in candidates:
            path = contained_path(root, str(candidate), "feat_p", "the AMASS root")
            if path.is_file():
                return path
    except UnsafePathError as exc:
        raise MotionError(f"{exc} (motion.amass_root {root})") from None
    tried = "\n  ".join(str(root / c) for c in candidates)
    raise MotionError(f"feat_p {feat_p!r}: motion file not found under {root}; tried:\n  {tried}")
