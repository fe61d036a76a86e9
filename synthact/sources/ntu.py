"""Read NTU RGB+D 60/120 skeletons (``.skeleton`` text files) and name their samples.

Facts (the NTU RGB+D papers, and the public repository ``shahroudy/NTURGB-D``):

- Sample names are ``SsssCcccPpppRrrrAaaa``: setup, camera, performer (subject),
  replication, action. A1-A60 are NTU-60, A1-A120 NTU-120; A50-A60 and A106-A120
  are two-person actions. Class names: ``ntu_classes``.
- The text format is what the dataset's ``Matlab/read_skeleton_file.m`` reads: the frame
  count; per frame the body count; per body one line of 10 values (bodyID, clippedEdges,
  handLeftConfidence, handLeftState, handRightConfidence, handRightState, isRestricted,
  leanX, leanY, trackingState), the joint count (25), then one line of 12 values per joint
  (x y z depthX depthY colorX colorY orientationW X Y Z trackingState). Kinect tracking
  states are 0 not tracked, 1 inferred, 2 tracked.
- x y z are Kinect v2 camera space (Microsoft's ``CameraSpacePoint`` docs): origin at the
  IR sensor, X grows to the sensor's left, Y grows up (relative to the sensor's tilt), Z
  grows out in the direction the sensor faces, metres. That frame is right-handed: it is
  OpenCV's X-right/Y-down/Z-forward turned 180 degrees about Z.
- Main actor: the README's FAQ picks the body with the larger sum of the X, Y and Z
  variances over all its joints. We weight that by the share of frames the body is seen in
  and rank bodies seen in under 10 % of the frames last, so a short-lived false detection
  (furniture, a reflection) cannot win.
- Body order of a two-person sample: the order in which the bodies first appear in the
  file (the earlier frame first; within a frame, the order of the body blocks). The
  dataset's MATLAB reader lists bodies in that order, and the usual data-generation
  scripts fill person slot m with the m-th body block of a frame, so person 0 of a
  Synthetic NTU take is the file's first body, not necessarily the main actor.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from synthact.errors import SynthActError
from synthact.sources.ntu_classes import NTU_CLASSES, TWO_PERSON_ACTIONS, two_person_actions
from synthact.sources.skeleton_math import WorldTransform, estimate_world_transform, interpolate_missing

__all__ = [
    "BODY_ORDERS",
    "KINECT_TO_ZUP",
    "NTU_CLASSES",
    "NTU_FPS",
    "NTU_JOINT_NAMES",
    "NUM_JOINTS",
    "SMPLH_TO_NTU25",
    "TWO_PERSON_ACTIONS",
    "MissingSkeletonError",
    "NtuNameError",
    "NtuSampleId",
    "NtuSkeleton",
    "SkeletonError",
    "kinect_to_world",
    "kinect_world_transform",
    "parse_ntu_name",
    "read_skeleton_file",
    "to_ntu25",
    "two_person_actions",
]  # fmt: skip  # a table, in rows as its source has them

NTU_FPS = 30.0
NUM_JOINTS = 25
_BODY_FIELDS = 10
_JOINT_FIELDS = 12

NTU_JOINT_NAMES: tuple[str, ...] = (  # index i is the README's joint i + 1
    "spine_base", "spine_mid", "neck", "head",
    "left_shoulder", "left_elbow", "left_wrist", "left_hand",
    "right_shoulder", "right_elbow", "right_wrist", "right_hand",
    "left_hip", "left_knee", "left_ankle", "left_foot",
    "right_hip", "right_knee", "right_ankle", "right_foot",
    "spine_shoulder", "left_hand_tip", "left_thumb", "right_hand_tip", "right_thumb",
)  # fmt: skip  # a table, in rows as its source has them

# NTU joint i <- smplx SMPL-H output joint SMPLH_TO_NTU25[i] (73 joints: 52 + 21 landmarks).
# This is BABEL's own table (action_recognition/data_gen/dutils.py, smpl_to_nturgbd), kept
# exactly for comparability: hands are the index-finger bases (22, 37); NTU's hand tip takes
# smplx's thumb-tip landmark (63 left, 68 right) and NTU's thumb the index tip (64, 69).
SMPLH_TO_NTU25: tuple[int, ...] = (
    0, 3, 12, 15, 16, 18, 20, 22, 17, 19, 21, 37, 1, 4, 7, 10, 2, 5, 8, 11, 9, 63, 64, 68, 69,
)  # fmt: skip  # a table, in rows as its source has them

# How the kept bodies are ordered: the main actor first, or as they first appear in the file.
BODY_ORDERS = ("main_actor", "file")
SHORT_BODY_SHARE = 0.1  # a body seen in fewer frames than this share (and at least 2) is a likely false detection

_FEET = (NTU_JOINT_NAMES.index("left_foot"), NTU_JOINT_NAMES.index("right_foot"))
_TORSO = (NTU_JOINT_NAMES.index("spine_base"), NTU_JOINT_NAMES.index("spine_shoulder"))

_NAME = re.compile(r"S(\d{3})C(\d{3})P(\d{3})R(\d{3})A(\d{3})")
_SUFFIXES = (".skeleton", ".skeleton.npy", ".npy")


class NtuNameError(SynthActError, ValueError):
    """A file name is not an NTU RGB+D sample name."""


class SkeletonError(SynthActError, ValueError):
    """A ``.skeleton`` file is missing, truncated or malformed (the message says file:line)."""


class MissingSkeletonError(SkeletonError):
    """A well-formed file with no body in any frame (NTU lists these as missing skeletons)."""


@dataclass(frozen=True, order=True)
class NtuSampleId:
    """The identity an NTU sample name encodes (all 1-based, as in the name)."""

    setup: int
    camera: int
    performer: int
    replication: int
    action: int

    @property
    def name(self) -> str:
        return f"S{self.setup:03d}C{self.camera:03d}P{self.performer:03d}R{self.replication:03d}A{self.action:03d}"

    @property
    def label(self) -> int:
        """0-based class index (A1 is 0)."""
        return self.action - 1

    @property
    def class_name(self) -> str:
        return NTU_CLASSES[self.action - 1]

    @property
    def two_person(self) -> bool:
        return self.action in TWO_PERSON_ACTIONS


def parse_ntu_name(name: str | Path) -> NtuSampleId:
    """Parse ``S001C002P003R002A013`` (optionally ``.skeleton``, optionally a path).

    Raises:
        NtuNameError: Not of the form ``SsssCcccPpppRrrrAaaa``, or a field out of range
            (camera 1-3, replication 1-2, action 1-120, others >= 1).
    """
    stem = Path(str(name)).name
    for suffix in _SUFFIXES:
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    match = _NAME.fullmatch(stem)
    if match is None:
        raise NtuNameError(
            f"{str(name)!r}: not an NTU RGB+D sample name; expected SsssCcccPpppRrrrAaaa "
            "(setup, camera, performer, replication, action), e.g. S001C002P003R002A013[.skeleton]"
        )
    sample = NtuSampleId(*(int(g) for g in match.groups()))
    bad = [
        f"{field} {value}"
        for field, value, ok in (
            ("setup", sample.setup, sample.setup >= 1),
            ("camera", sample.camera, 1 <= sample.camera <= 3),
            ("performer", sample.performer, sample.performer >= 1),
            ("replication", sample.replication, 1 <= sample.replication <= 2),
            ("action", sample.action, 1 <= sample.action <= len(NTU_CLASSES)),
        )
        if not ok
    ]
    if bad:
        raise NtuNameError(f"{str(name)!r}: out of range: {', '.join(bad)}")
    return sample


def to_ntu25(joints73: Any) -> Any:
    """Select NTU's 25 joints from smplx's 73 SMPL-H output joints (numpy or torch).

    Args:
        joints73: (..., 73, 3) joints as ``smplx`` returns them for SMPL-H.

    Returns:
        (..., 25, 3) in ``NTU_JOINT_NAMES`` order, BABEL's mapping.
    """
    shape = tuple(joints73.shape)
    if len(shape) < 2 or shape[-2] != 73 or shape[-1] != 3:
        raise ValueError(f"to_ntu25 expects (..., 73, 3) smplx SMPL-H joints, got shape {shape}")
    return joints73[..., list(SMPLH_TO_NTU25), :]


# --------------------------------------------------------------------------- the text format


@dataclass(frozen=True, eq=False)
class NtuSkeleton:
    """The selected bodies of one ``.skeleton`` file, in Kinect camera space.

    Attributes:
        path: The file read.
        sample: Its parsed name, or ``None`` when the file is not named like an NTU sample.
        joints: (T, M, 25, 3) float32 metres, camera space; main actor first, or in file
            order (see ``read_skeleton_file``'s ``order``). Frames where a
            body is not seen are interpolated (see ``valid``) unless reading was asked not
            to, in which case they are 0.
        tracking_state: (T, M, 25) int8 Kinect states (0 not tracked, 1 inferred, 2 tracked);
            0 where the body is not seen.
        valid: (T, M) bool, True where the file has that body in that frame.
        body_ids: (M,) the Kinect tracking ids of the kept bodies.
        bodies_per_frame: (T,) how many bodies the file lists per frame, before selection.
        fps: 30 for every NTU sample.
    """

    path: Path
    sample: NtuSampleId | None
    joints: np.ndarray
    tracking_state: np.ndarray
    valid: np.ndarray
    body_ids: tuple[int, ...]
    bodies_per_frame: np.ndarray
    fps: float = NTU_FPS

    @property
    def num_frames(self) -> int:
        return int(self.joints.shape[0])

    @property
    def num_bodies(self) -> int:
        return int(self.joints.shape[1])


class _Lines:
    """Walks a text file's non-blank lines, remembering 1-based line numbers for errors."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.lines = text.splitlines()
        self.index = 0

    def error(self, line_no: int, message: str) -> SkeletonError:
        return SkeletonError(f"{self.path}:{line_no}: {message}")

    def fields(self, what: str, count: int) -> tuple[int, list[str]]:
        while self.index < len(self.lines):
            self.index += 1
            fields = self.lines[self.index - 1].split()
            if fields:
                if len(fields) != count:
                    shown = " ".join(fields)
                    raise self.error(self.index, f"expected {what} ({count} values), got {len(fields)}: {shown!r}")
                return self.index, fields
        raise self.error(len(self.lines) + 1, f"file ends early (truncated?): expected {what}")

    def integer(self, what: str, minimum: int = 0) -> int:
        line_no, (field,) = self.fields(what, 1)
        try:
            value = int(field)
        except ValueError:
            raise self.error(line_no, f"expected {what} (an integer), got {field!r}") from None
        if value < minimum:
            raise self.error(line_no, f"{what} is {value}; it must be at least {minimum}")
        return value

    def numbers(self, what: str, count: int) -> np.ndarray:
        line_no, fields = self.fields(what, count)
        try:
            return np.array([float(f) for f in fields])
        except ValueError:
            raise self.error(line_no, f"{what}: not all values are numbers: {' '.join(fields)!r}") from None

    def expect_end(self) -> None:
        for offset, line in enumerate(self.lines[self.index :], start=self.index + 1):
            if line.strip():
                raise self.error(offset, "unexpected data after the last frame the frame count announces")


def _read_body(lines: _Lines, frame: int) -> tuple[int, np.ndarray, np.ndarray]:
    """One body block: (tracking id, (25, 3) xyz, (25,) tracking states)."""
    where = f"frame {frame + 1}"
    line_no, info = lines.fields(f"the body info line of a body in {where}", _BODY_FIELDS)
    try:
        body_id = int(info[0])
        [float(v) for v in info[1:]]
    except ValueError:
        raise lines.error(line_no, f"malformed body info line: {' '.join(info)!r}") from None
    count = lines.integer(f"the joint count of body {body_id} in {where}")
    if count != NUM_JOINTS:
        raise lines.error(lines.index, f"body {body_id} in {where} has {count} joints; Kinect v2 gives 25")
    block = np.empty((NUM_JOINTS, _JOINT_FIELDS))
    for joint in range(NUM_JOINTS):
        block[joint] = lines.numbers(f"joint {joint + 1} of body {body_id} in {where}", _JOINT_FIELDS)
    return body_id, block[:, :3], block[:, 11].astype(np.int8)


def _read_text(path: Path) -> str:
    if not path.is_file():
        raise SkeletonError(f"{path}: skeleton file not found")
    try:
        return path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise SkeletonError(f"{path}: not a readable .skeleton text file ({exc})") from exc


_Track = list[tuple[int, np.ndarray, np.ndarray]]  # (frame, xyz, tracking state) per sighting


def _parse(path: Path) -> tuple[int, dict[int, _Track], np.ndarray]:
    """(frame count, sightings per body id, bodies per frame) of a whole file."""
    lines = _Lines(path, _read_text(path))
    num_frames = lines.integer("the frame count")
    tracks: dict[int, _Track] = {}
    per_frame = np.zeros(num_frames, dtype=np.int16)
    for frame in range(num_frames):
        per_frame[frame] = lines.integer(f"the body count of frame {frame + 1}")
        for _ in range(per_frame[frame]):
            body_id, xyz, state = _read_body(lines, frame)
            if np.isfinite(xyz).all():  # a non-finite sighting is dropped, not fatal
                tracks.setdefault(body_id, []).append((frame, xyz, state))
    lines.expect_end()
    return num_frames, tracks, per_frame


def short_body_frames(num_frames: int) -> float:
    """A body seen in fewer frames than this is ranked last: usually a false detection."""
    return max(2.0, SHORT_BODY_SHARE * num_frames)


def _rank_bodies(tracks: dict[int, _Track], num_frames: int) -> list[int]:
    """Body ids, most likely main actor first.

    Bodies seen in under 10 % of the frames (at least 2) go last: they are usually false
    detections. Within each group: the README FAQ's score (sum of the x, y, z variances over
    all joints) times the share of frames the body is seen in, then more frames, then id.
    """
    short = short_body_frames(num_frames)

    def key(body: int) -> tuple[bool, float, int, int]:
        xyz = np.stack([sighting[1] for sighting in tracks[body]]).reshape(-1, 3)
        score = float(xyz.var(axis=0).sum()) * len(tracks[body]) / num_frames
        return (len(tracks[body]) < short, -score, -len(tracks[body]), body)

    return sorted(tracks, key=key)


def read_skeleton_file(
    path: str | Path, max_bodies: int | None = None, fill_missing: bool = True, order: str = "main_actor"
) -> NtuSkeleton:
    """Read one NTU ``.skeleton`` file and keep its main actor (and partner).

    Args:
        path: The file; named ``SsssCcccPpppRrrrAaaa.skeleton`` in the dataset.
        max_bodies: Bodies to keep. ``None``: 2 for two-person actions (A50-A60,
            A106-A120) and 1 otherwise, or 2 when the name is not an NTU name.
        fill_missing: Interpolate each kept body over the frames it is missing from
            (linearly; the first/last sighting is held at the ends). ``valid`` always says
            which frames were really observed.
        order: Which bodies are kept is always decided by the main-actor ranking;
            ``main_actor`` lists them in that ranking, ``file`` in the order they first
            appear in the file (NTU's body order for two-person actions).

    Raises:
        SkeletonError: Missing, truncated or malformed; the message names file and line.
        MissingSkeletonError: Well-formed, but no body in any frame.
    """
    path = Path(path)
    num_frames, tracks, per_frame = _parse(path)
    if not tracks:
        raise MissingSkeletonError(f"{path}: no body in any of its {num_frames} frames (a missing-skeleton sample)")
    try:
        sample: NtuSampleId | None = parse_ntu_name(path.name)
    except NtuNameError:
        sample = None
    if max_bodies is None:
        max_bodies = 1 if sample is not None and not sample.two_person else 2
    if order not in BODY_ORDERS:
        raise ValueError(f"order must be one of {BODY_ORDERS}, got {order!r}")
    kept = _rank_bodies(tracks, num_frames)[: max(1, max_bodies)]
    if order == "file":
        first_seen = list(tracks)  # dicts keep insertion order: the order of first sighting
        kept.sort(key=first_seen.index)
    joints = np.zeros((num_frames, len(kept), NUM_JOINTS, 3), dtype=np.float32)
    states = np.zeros((num_frames, len(kept), NUM_JOINTS), dtype=np.int8)
    valid = np.zeros((num_frames, len(kept)), dtype=bool)
    for slot, body in enumerate(kept):
        for frame, xyz, state in tracks[body]:
            joints[frame, slot], states[frame, slot], valid[frame, slot] = xyz, state, True
    if fill_missing:
        joints = interpolate_missing(joints, valid)
    return NtuSkeleton(path, sample, joints, states, valid, tuple(kept), per_frame)


# --------------------------------------------------------------------------- camera -> world

# Kinect (X sensor-left, Y up, Z forward) -> SynthAct world (X sensor-right, Y forward, Z up).
# A proper rotation (det +1), so left and right limbs keep their handedness.
KINECT_TO_ZUP = np.array([[-1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]])


def _frames_and_mask(joints: np.ndarray, valid: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Flatten (T, [M,] 25, 3) joints and their mask to (N, 25, 3) and (N,)."""
    joints = np.asarray(joints, dtype=np.float64)
    if joints.ndim not in (3, 4) or joints.shape[-2:] != (NUM_JOINTS, 3):
        raise ValueError(f"expected (T, 25, 3) or (T, M, 25, 3) NTU joints, got shape {joints.shape}")
    flat = joints.reshape(-1, NUM_JOINTS, 3)
    if valid is None:
        mask = np.isfinite(flat).all(axis=(1, 2)) & (np.abs(flat).sum(axis=(1, 2)) > 0)
    else:
        mask = np.asarray(valid, dtype=bool).reshape(-1)
        if mask.shape[0] != flat.shape[0]:
            raise ValueError(f"valid has shape {np.shape(valid)}, joints {joints.shape}: they must agree")
    if not mask.any():
        raise ValueError("no valid frame to place the skeleton in the world from")
    return flat, mask


def kinect_world_transform(
    joints: np.ndarray,
    valid: np.ndarray | None = None,
    level: bool = True,
    max_tilt_deg: float = 35.0,
    floor_percentile: float = 5.0,
) -> WorldTransform:
    """The rigid transform taking NTU camera space to SynthAct's world (Z-up, metres, floor z=0).

    1. Axes: world X = sensor's right (-x), Y = the sensor's viewing direction (z), Z = up (y).
    2. ``level``: NTU ships no floor plane, and its sensors sit 0.5-2.7 m high, possibly
       pitched. The median torso direction (spine base -> spine shoulder) over valid frames
       is rotated onto +Z when it is within ``max_tilt_deg`` of it (farther means the person
       lies or bends for most of the clip: the axes are then left as they are).
    3. Floor: the ``floor_percentile`` of the lower foot joint per frame is moved to z = 0
       (a percentile, not the minimum, because occluded Kinect feet jitter below the floor).

    The sensor ends up at ``translation``: above the origin, at its estimated height.
    """
    flat, mask = _frames_and_mask(joints, valid)
    torso = ((_TORSO[0],), (_TORSO[1],))
    return estimate_world_transform(flat[mask], KINECT_TO_ZUP, torso, _FEET, level, max_tilt_deg, floor_percentile)


def kinect_to_world(joints: np.ndarray, valid: np.ndarray | None = None, level: bool = True) -> np.ndarray:
    """NTU joints (T, [M,] 25, 3) in Kinect camera space -> SynthAct world, float32.

    See ``kinect_world_transform`` for what is estimated and how.
    """
    transform = kinect_world_transform(joints, valid, level=level)
    return transform.apply(np.asarray(joints, dtype=np.float64)).astype(np.float32)
