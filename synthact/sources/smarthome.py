"""Read Toyota Smarthome (trimmed) clip names and the released 3D poses (LCR-Net++, 13 joints).

Facts, and where they come from:

- Names: ``<Activity>_p<subject>_r<rr>_v<vv>_c<camera>`` (``Cook.Cleandishes_p02_r00_v02_c03``),
  the ``.mp4`` clips and the pose files ``<name>_pose3d.json`` (skeleton release v1.2) or
  ``<name>.json`` (v1.1). The official skeleton baseline
  (``YangDi666/2s-AGCN-For-Daily-Living``, ``data_gen/smarthome_gendata.py``) reads the
  class from field 0, the subject from field 1 (``p``) and the camera from field 4 (``c``).
  The meaning of ``r`` and ``v`` is not documented anywhere we found. From the released
  split files (``srijandas07/i3d_smarthome/splits``): ``v`` runs up to 27 while there are 7
  cameras, and the same ``(p, r, v)`` appears under several cameras, so ``v`` is not a view:
  we read it as the index of the recording (video) the clip was cut from, and ``r`` as the
  occurrence of the activity within it (assumption; one third-party README calls them
  repeat id and view id).
- Pose JSON: ``{"frames": [[detection, ...], ...], ...}``, one list per video frame,
  ``[]`` when nobody was detected; a detection has ``"pose2d"`` (26 numbers) and
  ``"pose3d"`` (39 numbers) stored coordinate-major: x of the 13 joints, then y, then z.
  Sources: ``dairui01/Toyota_Smarthome`` ``Tools/Pose_Visualization/json_to_npz.py`` (reads
  ``frames[i][0]["pose2d"][j]`` and ``[j + 13]``), the 2s-AGCN generator above (reads
  ``pose3d[k]``, ``[k + 13]``, ``[k + 26]``) and LCR-Net's own ``demo.py`` (flattens its
  (13, 3) poses as ``pose.T.reshape(-1)``). v1.1 detections also carry ``"cumscore"``; the
  files also hold ``"njts": 13`` and ``"K"`` (third-party report; we check ``njts`` when
  present and ignore ``K``).
- Joint order (LCR-Net, 13 joints): the mapping in ``json_to_npz.py`` above.
- Axes and units of ``pose3d`` (assumption): LCR-Net regresses camera-aligned, metric,
  pelvis-centred poses with y pointing down like the image. ``lcr_to_world`` therefore
  checks the up direction against the data (head above ankles) before trusting it.
- Frame rate (assumption): 20 fps, what a third party measured on the released mp4s; the
  I3D baseline README says it decodes frames at 30 fps.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from synthact.errors import SynthActError
from synthact.sources.skeleton_math import WorldTransform, estimate_world_transform, interpolate_missing
from synthact.text_inputs import TextEncodingError, read_text

SMARTHOME_FPS = 20.0
NUM_LCR_JOINTS = 13
SMARTHOME_CAMERAS = tuple(range(1, 8))

# Index = label id of the official skeleton baseline (2s-AGCN ``action_classes``). This is not
# alphabetical order: sorting the names would swap Usetelephone and Usetablet.
SMARTHOME_CLASSES: tuple[str, ...] = (
    "Cook.Cleandishes", "Cook.Cleanup", "Cook.Cut", "Cook.Stir", "Cook.Usestove", "Cutbread",
    "Drink.Frombottle", "Drink.Fromcan", "Drink.Fromcup", "Drink.Fromglass", "Eat.Attable", "Eat.Snack",
    "Enter", "Getup", "Laydown", "Leave", "Makecoffee.Pourgrains", "Makecoffee.Pourwater",
    "Maketea.Boilwater", "Maketea.Insertteabag", "Pour.Frombottle", "Pour.Fromcan", "Pour.Fromkettle",
    "Readbook", "Sitdown", "Takepills", "Uselaptop", "Usetelephone", "Usetablet", "Walk", "WatchTV",
)  # fmt: skip  # a table, in rows as its source has them

# The 19 classes of the cross-view protocols (CV1, CV2), in the baseline's ``action_cv`` order.
SMARTHOME_CV_CLASSES: tuple[str, ...] = (
    "Cutbread", "Drink.Frombottle", "Drink.Fromcan", "Drink.Fromcup", "Drink.Fromglass", "Eat.Attable",
    "Eat.Snack", "Enter", "Getup", "Leave", "Pour.Frombottle", "Pour.Fromcan", "Readbook", "Sitdown",
    "Takepills", "Uselaptop", "Usetablet", "Usetelephone", "Walk",
)  # fmt: skip  # a table, in rows as its source has them

LCR_JOINT_NAMES: tuple[str, ...] = (
    "right_ankle", "left_ankle", "right_knee", "left_knee", "right_hip", "left_hip",
    "right_wrist", "left_wrist", "right_elbow", "left_elbow", "right_shoulder", "left_shoulder", "head",
)  # fmt: skip  # a table, in rows as its source has them

_ANKLES = (0, 1)
_HIPS = (4, 5)
_SHOULDERS = (10, 11)
_HEAD = 12

_NAME = re.compile(
    r"(?P<activity>[A-Za-z]+(?:\.[A-Za-z]+)?)_p(?P<subject>\d{2,})_r(?P<repetition>\d{2,})"
    r"_v(?P<video>\d{2,})_c(?P<camera>\d{2})"
)
_EXTENSIONS = (".json", ".mp4", ".avi", ".npz", ".npy")
_TAGS = ("_pose3d",)


class SmarthomeNameError(SynthActError, ValueError):
    """A name is not a trimmed Toyota Smarthome clip name."""


class UnlistedActivityError(SmarthomeNameError):
    """A well-formed clip name whose activity is not one of the 31 classes (``Pour.Fromcup``).

    Decision: such clips are skipped with a message, never mapped. The released
    split lists hold 14 ``Pour.Fromcup`` clips, but the 31-class protocol of the
    baselines has no label for them, and mapping them onto a neighbour
    (``Drink.Fromcup``, ``Pour.Frombottle``) would invent labels the original
    dataset does not have. Callers count them as outside the dataset.
    """


# Activities that appear in the released files but in none of the protocols' class lists.
UNLISTED_ACTIVITIES: tuple[str, ...] = ("Pour.Fromcup",)


class PoseFileError(SynthActError, ValueError):
    """A pose JSON file is missing, not JSON, or not in the released layout (message says where)."""


class EmptyPoseError(PoseFileError):
    """A well-formed pose file without a single detection."""


@dataclass(frozen=True, order=True)
class SmarthomeSampleId:
    """What a trimmed clip name encodes. ``repetition``/``video``: see the module notes."""

    activity: str
    subject: int
    repetition: int
    video: int
    camera: int

    @property
    def name(self) -> str:
        return f"{self.activity}_p{self.subject:02d}_r{self.repetition:02d}_v{self.video:02d}_c{self.camera:02d}"

    @property
    def label(self) -> int:
        """0-based id among the 31 classes (cross-subject protocol)."""
        return SMARTHOME_CLASSES.index(self.activity)

    @property
    def cross_view_label(self) -> int | None:
        """0-based id among the 19 cross-view classes, or ``None`` if not one of them."""
        return SMARTHOME_CV_CLASSES.index(self.activity) if self.activity in SMARTHOME_CV_CLASSES else None


def parse_smarthome_name(name: str | Path) -> SmarthomeSampleId:
    """Parse a clip, video or pose-file name (``..._c03``, ``.mp4``, ``_pose3d.json``; paths too).

    Raises:
        SmarthomeNameError: Not of the form ``Activity_pNN_rNN_vNN_cNN``, an activity not
            among the 31 classes, or a camera outside 1-7.
    """
    stem = Path(str(name)).name
    for suffix in _EXTENSIONS:
        stem = stem.removesuffix(suffix)
    for tag in _TAGS:
        stem = stem.removesuffix(tag)
    match = _NAME.fullmatch(stem)
    if match is None:
        raise SmarthomeNameError(
            f"{str(name)!r}: not a Toyota Smarthome clip name; expected Activity_pNN_rNN_vNN_cNN, "
            "e.g. Cook.Cleandishes_p02_r00_v02_c03[_pose3d.json|.mp4]"
        )
    activity = match["activity"]
    if activity in UNLISTED_ACTIVITIES:
        raise UnlistedActivityError(
            f"{str(name)!r}: activity {activity!r} is in the released split lists but not one of the 31 "
            "classes of the Smarthome protocols; skipped (not mapped to another class)"
        )
    if activity not in SMARTHOME_CLASSES:
        raise SmarthomeNameError(f"{str(name)!r}: unknown activity {activity!r}; not one of the 31 classes")
    camera = int(match["camera"])
    if camera not in SMARTHOME_CAMERAS:
        raise SmarthomeNameError(f"{str(name)!r}: camera {camera} is outside 1-7")
    return SmarthomeSampleId(activity, int(match["subject"]), int(match["repetition"]), int(match["video"]), camera)


# --------------------------------------------------------------------------- pose files


@dataclass(frozen=True, eq=False)
class SmarthomeSkeleton:
    """The main person of one pose file, as LCR-Net++ estimated it.

    Attributes:
        path: The file read.
        sample: Its parsed name, or ``None`` when not named like a Smarthome clip.
        joints: (T, 13, 3) float32 ``pose3d`` in ``LCR_JOINT_NAMES`` order, in the file's
            own (camera-aligned) frame. Undetected frames are interpolated unless reading
            was asked not to (then 0); ``valid`` says which are real.
        joints_2d: (T, 13, 2) float32 image pixels (``pose2d``); NaN where the file has none.
        valid: (T,) bool, True where the file has a detection.
        detections_per_frame: (T,) how many people LCR-Net detected per frame.
        fps: Frame rate assumed for the clip.
    """

    path: Path
    sample: SmarthomeSampleId | None
    joints: np.ndarray
    joints_2d: np.ndarray
    valid: np.ndarray
    detections_per_frame: np.ndarray
    fps: float = SMARTHOME_FPS

    @property
    def num_frames(self) -> int:
        return int(self.joints.shape[0])


def _load_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise PoseFileError(f"{path}: pose file not found")
    try:
        document = json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        raise PoseFileError(f"{path}:{exc.lineno}:{exc.colno}: not valid JSON (truncated?): {exc.msg}") from exc
    except TextEncodingError as exc:
        raise PoseFileError(str(exc)) from None
    except OSError as exc:
        raise PoseFileError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    if not isinstance(document, dict) or not isinstance(document.get("frames"), list):
        raise PoseFileError(f"{path}: expected a JSON object with a 'frames' list (the released pose layout)")
    njts = document.get("njts", NUM_LCR_JOINTS)
    if njts != NUM_LCR_JOINTS:
        raise PoseFileError(f"{path}: 'njts' is {njts!r}; the released poses have 13 LCR-Net joints")
    return document


DETECTION_RULES = ("first", "motion")


def _check_detections(path: Path, frame: int, detections: Any) -> list[dict[str, Any]]:
    if not isinstance(detections, list) or not all(isinstance(d, dict) for d in detections):
        raise PoseFileError(f"{path}: frame {frame}: expected a list of detection objects")
    return detections


def _pick_detection(detections: list[dict[str, Any]], slot: int | None) -> dict[str, Any] | None:
    """The main person of one frame.

    ``slot`` given (the ``motion`` rule): the detection at that position, or the
    first where the frame has fewer. Otherwise: highest ``cumscore`` when every
    detection is scored (v1.1), else the first.
    """
    if not detections:
        return None
    if slot is not None:
        return detections[slot] if slot < len(detections) else detections[0]
    if len(detections) > 1 and all(isinstance(d.get("cumscore"), (int, float)) for d in detections):
        return max(detections, key=lambda d: d["cumscore"])
    return detections[0]


def most_moving_slot(path: Path, frames: list[Any]) -> int:
    """The detection position whose 3D joints move most across the clip (the baselines' rule).

    The skeleton baselines keep, among the people detected, the one with the
    largest motion over the clip (summed per-coordinate standard deviation, over
    the frames where that person is present), as NTU's tools rank bodies.
    LCR-Net does not track people across frames, so a person is its position in
    each frame's detection list. Ties go to the lower position.
    """
    slots = max((len(d) for d in frames if isinstance(d, list)), default=0)
    best, best_motion = 0, -1.0
    for slot in range(slots):
        poses = [
            _coordinates(path, i, d[slot], "pose3d", 3)
            for i, d in enumerate(frames)
            if isinstance(d, list) and len(d) > slot and isinstance(d[slot], dict)
        ]
        poses = [p for p in poses if np.isfinite(p).all()]
        motion = float(np.std(np.stack(poses), axis=0).sum()) if len(poses) > 1 else 0.0
        if motion > best_motion + 1e-12:
            best, best_motion = slot, motion
    return best


def _coordinates(path: Path, frame: int, detection: dict[str, Any], key: str, dims: int) -> np.ndarray:
    """Unflatten LCR-Net's coordinate-major list (all x, then all y, [then all z]) to (13, dims)."""
    flat = detection.get(key)
    if not isinstance(flat, list) or len(flat) != NUM_LCR_JOINTS * dims:
        got = len(flat) if isinstance(flat, list) else type(flat).__name__
        raise PoseFileError(f"{path}: frame {frame}: {key!r} must hold {NUM_LCR_JOINTS * dims} numbers, got {got}")
    try:
        return np.asarray(flat, dtype=np.float64).reshape(dims, NUM_LCR_JOINTS).T
    except (TypeError, ValueError):
        raise PoseFileError(f"{path}: frame {frame}: {key!r} holds non-numbers") from None


def read_pose_file(
    path: str | Path, fill_missing: bool = True, fps: float = SMARTHOME_FPS, detection: str = "first"
) -> SmarthomeSkeleton:
    """Read one released pose file (``*_pose3d.json`` v1.2, or v1.1 ``*.json``).

    Args:
        path: The JSON file.
        fill_missing: Interpolate the frames without a detection (linearly; held at the ends).
        fps: The clip's frame rate (see the module notes).
        detection: Which person to keep in frames with several detections:
            ``"first"`` (highest ``cumscore`` when scored, else the first listed)
            or ``"motion"`` (the skeleton baselines' rule, ``most_moving_slot``).

    Raises:
        PoseFileError: Missing, not JSON (with line and column), or not the released layout.
        EmptyPoseError: No detection in any frame.
    """
    path = Path(path)
    if detection not in DETECTION_RULES:
        raise ValueError(f"detection {detection!r}: expected one of {DETECTION_RULES}")
    frames = _load_json(path)["frames"]
    for index, detections in enumerate(frames):
        _check_detections(path, index, detections)
    slot = most_moving_slot(path, frames) if detection == "motion" else None
    joints = np.zeros((len(frames), NUM_LCR_JOINTS, 3))
    joints_2d = np.full((len(frames), NUM_LCR_JOINTS, 2), np.nan)
    valid = np.zeros(len(frames), dtype=bool)
    counts = np.zeros(len(frames), dtype=np.int16)
    for index, detections in enumerate(frames):
        person = _pick_detection(detections, slot)
        counts[index] = len(detections)
        if person is None:
            continue
        joints[index] = _coordinates(path, index, person, "pose3d", 3)
        if "pose2d" in person:
            joints_2d[index] = _coordinates(path, index, person, "pose2d", 2)
        valid[index] = bool(np.isfinite(joints[index]).all())
    if not valid.any():
        raise EmptyPoseError(f"{path}: no person detected in any of its {len(frames)} frames")
    joints[~valid] = 0.0
    if fill_missing:
        joints = interpolate_missing(joints, valid)
    try:
        sample: SmarthomeSampleId | None = parse_smarthome_name(path.name)
    except SmarthomeNameError:
        sample = None
    return SmarthomeSkeleton(path, sample, joints.astype(np.float32), joints_2d.astype(np.float32), valid, counts, fps)


# --------------------------------------------------------------------------- camera -> world

# LCR-Net camera-aligned (x right, y down, z forward) -> SynthAct world (X right, Y forward, Z up).
LCR_TO_ZUP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])
_FLIP_UP = np.diag([1.0, -1.0, -1.0])  # 180 degrees about X: used if the data says y is up


def _valid_frames(joints: np.ndarray, valid: np.ndarray | None) -> np.ndarray:
    joints = np.asarray(joints, dtype=np.float64)
    if joints.ndim != 3 or joints.shape[1:] != (NUM_LCR_JOINTS, 3):
        raise ValueError(f"expected (T, 13, 3) LCR-Net joints, got shape {joints.shape}")
    mask = np.ones(len(joints), dtype=bool) if valid is None else np.asarray(valid, dtype=bool)
    if mask.shape != (len(joints),) or not mask.any():
        raise ValueError("valid must be (T,) and mark at least one frame")
    return joints[mask]


def _lcr_axes(seen: np.ndarray) -> np.ndarray:
    """Camera axes -> Z-up, checking the y-down assumption: the head must be above the ankles."""
    zup = seen @ LCR_TO_ZUP.T
    head_above = zup[:, _HEAD, 2] - zup[:, list(_ANKLES), 2].mean(axis=1)
    return LCR_TO_ZUP if np.median(head_above) >= 0 else _FLIP_UP @ LCR_TO_ZUP


def lcr_world_transform(joints: np.ndarray, valid: np.ndarray | None = None, level: bool = True) -> WorldTransform:
    """The rigid transform from a pose file's frame to SynthAct's world, one floor offset per clip.

    The y-down assumption is checked against the data (head above the ankles in most valid
    frames, else the frame is turned over). ``level`` makes the median hip -> shoulder axis
    vertical when within 35 degrees of it (Smarthome cameras are mounted high and tilted
    down). The 5th percentile of the lower ankle per frame lands on z = 0.
    """
    seen = _valid_frames(joints, valid)
    return estimate_world_transform(seen, _lcr_axes(seen), (_HIPS, _SHOULDERS), _ANKLES, level=level)


def lcr_to_world(
    joints: np.ndarray, valid: np.ndarray | None = None, level: bool = True, ground: str = "auto"
) -> np.ndarray:
    """Smarthome poses (T, 13, 3) -> SynthAct world (Z-up, metres, floor at z = 0), float32.

    Args:
        joints: ``SmarthomeSkeleton.joints``.
        valid: ``SmarthomeSkeleton.valid``; floor estimates use valid frames only.
        level: See ``lcr_world_transform``.
        ground: ``"sequence"`` lifts the whole clip by one offset (the lowest ankles over the
            clip touch the floor); ``"per_frame"`` puts the lower ankle of every frame on the
            floor, which suits pelvis-centred poses that have lost their vertical motion;
            ``"auto"`` picks ``per_frame`` when the hips barely move (< 1 cm), i.e. when the
            file is pelvis-centred, else ``sequence``.
    """
    if ground not in ("auto", "sequence", "per_frame"):
        raise ValueError(f"ground must be 'auto', 'sequence' or 'per_frame', not {ground!r}")
    world = lcr_world_transform(joints, valid, level=level).apply(joints)
    if ground == "auto":
        seen = np.ones(len(world), dtype=bool) if valid is None else np.asarray(valid, dtype=bool)
        hips = world[seen][:, list(_HIPS)].mean(axis=1)
        ground = "per_frame" if float(np.linalg.norm(hips.std(axis=0))) < 0.01 else "sequence"
    if ground == "per_frame":
        world[..., 2] -= world[:, list(_ANKLES), 2].min(axis=1)[:, None]
    return world.astype(np.float32)
