"""The skeleton datasets the fit stage reads: NTU RGB+D and Toyota Smarthome.

Each dataset says where its files are, how a file name becomes a sample (name,
class, split fields), how its joints reach SynthAct's Z-up world, and which
SMPL-H joint each of its joints is. The fit stage (``convert.py``) needs
nothing else about a dataset.

A sample holds the bodies to fit, in the take's body order. NTU's two-person
actions (A50-A60, A106-A120) give their two bodies in the order they first appear
in the file (NTU's convention, ``synthact.sources.ntu``); which two are kept still
follows the main-actor ranking, so a short-lived false detection is not fitted,
and a second body seen in under 10 % of the frames is dropped. Every other class
gives one body: the main actor by NTU's variance rule. All bodies of a sample are
placed in the world by one transform, so they stand on one floor.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from synthact.body.skeleton import JOINT_NAMES
from synthact.errors import ConfigError
from synthact.safe_names import InputWalk, walk_inputs
from synthact.sources.ntu import (
    NTU_FPS,
    SMPLH_TO_NTU25,
    NtuNameError,
    NtuSampleId,
    kinect_to_world,
    parse_ntu_name,
    read_skeleton_file,
    short_body_frames,
)
from synthact.sources.protocols import NTU60_LAST_SETUP
from synthact.sources.smarthome import (
    LCR_JOINT_NAMES,
    SMARTHOME_FPS,
    SmarthomeSampleId,
    lcr_to_world,
    parse_smarthome_name,
    read_pose_file,
)

# LCR-Net's 13 joints as SMPL-H joints, in LCR_JOINT_NAMES order (same names but the head,
# which LCR-Net places at the head's centre: SMPL-H's head joint is the nearest).
LCR_JOINT_MAP: tuple[int, ...] = tuple(JOINT_NAMES.index(name) for name in LCR_JOINT_NAMES)

# A pose file whose hips move less than this (metres, spread over the clip) is pelvis-centred:
# it has lost the body's path and height, so each frame is grounded on its own.
PELVIS_CENTRED_SPREAD_M = 0.01


@dataclass(frozen=True, eq=False)
class WorldSkeleton:
    """One body of a sample in SynthAct's world, ready to fit.

    Attributes:
        joints: (T, J, 3) float64 metres, Z-up, floor near z = 0.
        valid: (T, J) bool, False where the sensor did not see the joint (or the frame).
        ground: ``"sequence"`` (one floor offset per clip) or ``"per_frame"`` (the file has
            no vertical motion, so every frame stands on the floor).
        present: (T,) bool, True in the frames where the file has this body.
        body_id: The source's id of the body (Kinect's tracking id), for the report.
    """

    joints: np.ndarray
    valid: np.ndarray
    ground: str
    present: np.ndarray
    body_id: str = ""


@dataclass(frozen=True, eq=False)
class SkeletonSample:
    """The bodies of one sample, in the take's body order, and how many its class has.

    ``persons_expected`` is 2 for NTU's two-person actions; a file of such a class
    that holds one body gives one body here (the fit report lists it).
    """

    bodies: tuple[WorldSkeleton, ...]
    persons_expected: int = 1


@dataclass(frozen=True)
class SkeletonDataset:
    """What the fit stage needs to know about one skeleton dataset."""

    source: str  # the config's motion.source
    title: str  # for messages
    pattern: str  # glob (recursive) of its skeleton files
    fps: float
    joint_map: tuple[int, ...]  # smplx output joint per dataset joint
    protocols: dict[str, str]  # config protocol name -> synthact.sources.protocols name
    default_protocol: str
    parse: Callable[[str | Path], NtuSampleId | SmarthomeSampleId]
    read: Callable[[Path], SkeletonSample]
    persons: Callable[[Path], int] = lambda _path: 1  # how many people a file's class has (by its name)

    def find_files(self, folder: Path) -> list[Path]:
        """Every skeleton file under ``folder``, sorted (so runs and reports are stable)."""
        return self.walk(folder).files

    def walk(self, folder: Path) -> InputWalk:
        """The skeleton files under ``folder`` and what was not taken (``synthact.safe_names.walk_inputs``).

        Links out of ``folder`` are refused, as for every input root; links and
        unreadable folders are listed with the reason.
        """
        walk = walk_inputs(folder)
        walk.files = [p for p in walk.files if fnmatch.fnmatch(p.name, self.pattern)]
        walk.skipped = [e for e in walk.skipped if not Path(e["path"]).suffix or self._matches(e["path"])]
        return walk

    def _matches(self, path: str) -> bool:
        return fnmatch.fnmatch(Path(path).name, self.pattern)


def class_name(sample: NtuSampleId | SmarthomeSampleId) -> str:
    """The sample's action class, as the dataset names it."""
    return sample.class_name if isinstance(sample, NtuSampleId) else sample.activity


def sample_fields(sample: NtuSampleId | SmarthomeSampleId) -> dict[str, int | str]:
    """The identity fields a sample name encodes (setup, camera, performer, ...)."""
    if isinstance(sample, NtuSampleId):
        names = ("setup", "camera", "performer", "replication", "action")
    else:
        names = ("activity", "subject", "repetition", "video", "camera")
    return {name: getattr(sample, name) for name in names}


def in_ntu60(sample: NtuSampleId) -> bool:
    """NTU RGB+D 60 is setups S001-S017 and actions A1-A60."""
    return sample.setup <= NTU60_LAST_SETUP and sample.action <= 60


def persons_in_class(path: Path) -> int:
    """2 for a file named as one of NTU's two-person actions, else 1."""
    try:
        return 2 if parse_ntu_name(path.name).two_person else 1
    except NtuNameError:
        return 1


def read_ntu_world(path: Path) -> SkeletonSample:
    """The bodies of an NTU ``.skeleton`` file, levelled and on one floor.

    One body (the main actor) for one-person actions; for two-person actions the two
    bodies in file order (module notes). A joint counts as seen where its body is in
    the frame and Kinect tracked or inferred it (state 1 or 2); state 0 joints are
    Kinect's guesses. Frames without the body hold interpolated placeholders, and
    ``valid`` is False there, so the fit is not pulled by them.
    """
    expected = persons_in_class(path)
    order = "file" if expected > 1 else "main_actor"
    skeleton = read_skeleton_file(path, max_bodies=expected, order=order)
    seen_frames = skeleton.valid.sum(axis=0)
    kept = [m for m in range(skeleton.num_bodies) if seen_frames[m] >= short_body_frames(skeleton.num_frames)]
    kept = kept or list(range(skeleton.num_bodies))
    joints, seen = skeleton.joints[:, kept], skeleton.valid[:, kept]
    world = kinect_to_world(joints, seen).astype(np.float64)  # one transform: one floor for every body
    bodies = tuple(
        WorldSkeleton(
            world[:, slot],
            seen[:, slot, None] & (skeleton.tracking_state[:, body] > 0),
            "sequence",
            present=seen[:, slot].copy(),
            body_id=str(skeleton.body_ids[body]),
        )
        for slot, body in enumerate(kept)
    )
    return SkeletonSample(bodies, expected)


def read_smarthome_world(path: Path) -> SkeletonSample:
    """The main person of a Smarthome pose file in the world (see ``lcr_to_world``)."""
    skeleton = read_pose_file(path)
    hips = skeleton.joints[skeleton.valid][:, [LCR_JOINT_NAMES.index("left_hip"), LCR_JOINT_NAMES.index("right_hip")]]
    centred = float(np.linalg.norm(hips.mean(axis=1).std(axis=0))) < PELVIS_CENTRED_SPREAD_M
    ground = "per_frame" if centred else "sequence"
    world = lcr_to_world(skeleton.joints, skeleton.valid, ground=ground).astype(np.float64)
    valid = np.repeat(skeleton.valid[:, None], len(LCR_JOINT_NAMES), axis=1)
    return SkeletonSample((WorldSkeleton(world, valid, ground, present=skeleton.valid.copy()),))


DATASETS: dict[str, SkeletonDataset] = {
    "ntu": SkeletonDataset(
        source="ntu",
        title="NTU RGB+D",
        pattern="*.skeleton",
        fps=NTU_FPS,
        joint_map=SMPLH_TO_NTU25,  # BABEL's table, the same as fitting.NTU_JOINT_MAP
        protocols={"xsub": "ntu60_xsub", "xview": "ntu60_xview", "xsub120": "ntu120_xsub", "xset120": "ntu120_xset"},
        default_protocol="xsub",
        parse=parse_ntu_name,
        read=read_ntu_world,
        persons=persons_in_class,
    ),
    "smarthome": SkeletonDataset(
        source="smarthome",
        title="Toyota Smarthome",
        pattern="*.json",
        fps=SMARTHOME_FPS,
        joint_map=LCR_JOINT_MAP,
        protocols={"cs": "smarthome_cs", "cv1": "smarthome_cv1", "cv2": "smarthome_cv2"},
        default_protocol="cs",
        parse=parse_smarthome_name,
        read=read_smarthome_world,
    ),
}


def require_dataset_protocols(config: dict[str, Any], what: str, title: str) -> None:
    """Dataset-labelled motion has one class name per sample, not BABEL categories: only ``segments`` applies.

    Raises:
        ConfigError: ``labels.protocols`` names a BABEL chunk protocol; ``what`` says which motion.
    """
    chunked = [p for p in config["labels"]["protocols"] if p.startswith("babel-chunks")]
    if chunked:
        raise ConfigError(
            f"labels.protocols has {chunked}, but {what} is labelled with {title} class names, "
            "not BABEL categories; set labels.protocols: [segments]"
        )
