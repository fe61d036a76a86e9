"""Write the built-in demo motions as an AMASS SMPL+H tree with BABEL dense labels.

Layout (the doubled top folder mirrors real archives such as ``CMU/CMU/01``)::

    out_dir/amass/SynthActDemo/SynthActDemo/S01/S01_000_poses.npz
    out_dir/amass/SynthActDemo/SynthActDemo/S01/shape.npz
    out_dir/babel/train.json
    out_dir/babel/val.json

Everything is derived from ``seed``: the same seed gives byte-identical files.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from synthact.atomic import save_npz
from synthact.body.skeleton import LANDMARK_NAMES, NUM_BETAS, NUM_JOINTS, PART_NAMES, vertex_parts
from synthact.body.smplh import BodyModel
from synthact.demo.kinematics import forward_kinematics, joint_index, quat_axis, quat_mul, quat_to_axis_angle
from synthact.demo.motions import ACTIONS
from synthact.demo.posing import Style
from synthact.demo.sequences import BLEND_SECONDS, SequenceMotion, compose, plan_actions, plan_segments

DATASET_NAME = "SynthActDemo"
FRAME_RATES = (120.0, 100.0, 60.0)
GENDERS = ("male", "female", "neutral")
SEQUENCES_PER_SUBJECT = 3
VAL_FRACTION = 0.25
FIRST_SID = 90_000
GROUNDING_FPS = 5.0  # mesh posing rate for grounding; see lowest_foot_z
_FOOT_PARTS = [PART_NAMES.index("left_foot"), PART_NAMES.index("right_foot")]
_SOLE_LANDMARK_NAMES = ("LBigToe", "LSmallToe", "LHeel", "RBigToe", "RSmallToe", "RHeel")
_FOOT_BONES = [joint_index(n) for n in ("left_ankle", "right_ankle", "left_foot", "right_foot")]
_Y_UP_TO_Z_UP = quat_axis(0, np.pi / 2)  # template +Y -> world +Z, template +Z -> world -Y


@dataclass(frozen=True)
class DemoDataset:
    """What ``write_demo_dataset`` wrote."""

    amass_root: Path
    babel_dir: Path
    train_json: Path
    val_json: Path
    motion_files: tuple[Path, ...]
    num_frames: int  # over all sequences

    @property
    def num_sequences(self) -> int:
        """Number of motion files."""
        return len(self.motion_files)


@dataclass(frozen=True)
class Subject:
    """A performer: folder name, body shape, gender."""

    name: str
    betas: np.ndarray
    gender: str


def _rng(seed: int, *key: int) -> np.random.Generator:
    """An independent stream per (seed, purpose, index): adding sequences changes no others."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


def make_subject(seed: int, index: int) -> Subject:
    """Subject ``index`` (0-based); folder ``S01`` is index 0."""
    rng = _rng(seed, 1, index)
    betas = np.clip(rng.normal(0.0, 0.7, NUM_BETAS), -2.0, 2.0)
    return Subject(f"S{index + 1:02d}", betas, GENDERS[(seed + index) % len(GENDERS)])


# --------------------------------------------------------------------------- AMASS arrays


def to_amass(
    motion: SequenceMotion, pelvis_start: np.ndarray, body: BodyModel, betas: np.ndarray, rest: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """AMASS ``poses`` (T, 156) and ``trans`` (T, 3) of a composed sequence.

    The root orientation gets the Y-up to Z-up rotation. ``trans`` places the
    pelvis (pelvis = J0 + trans) on the foot-locked path and lowers the body
    until its lowest foot point touches z = 0, plus any jump lift.

    Args:
        motion: The sequence, template frame.
        pelvis_start: World (x, y) of the pelvis at the first frame.
        body: The performer's body model (for grounding on its mesh).
        betas: The performer's shape.
        rest: ``body.rest_joints(betas)``; ``rest[0]`` is J0.
    """
    rotations = motion.rotations.copy()
    rotations[:, 0] = quat_mul(_Y_UP_TO_Z_UP, rotations[:, 0])
    poses = quat_to_axis_angle(rotations).reshape(len(rotations), -1)
    trans = np.zeros((motion.num_frames, 3))
    # Template (x, z) on the floor is world (x, -y).
    trans[:, 0] = pelvis_start[0] + motion.pelvis_xz[:, 0] - rest[0, 0]
    trans[:, 1] = pelvis_start[1] - motion.pelvis_xz[:, 1] - rest[0, 1]
    trans[:, 2] = motion.lift - lowest_foot_z(body, poses, rotations, rest, betas, motion.fps)
    # Micrometres are far below mocap noise and keep float32 jitter out of the files.
    return poses, np.round(trans, 6)


def lowest_foot_z(
    body: BodyModel, poses: np.ndarray, rotations: np.ndarray, rest: np.ndarray, betas: np.ndarray, fps: float
) -> np.ndarray:
    """World height (at trans = 0) of the lowest foot vertex or sole landmark, per frame.

    Posing the mesh costs milliseconds a frame, too much for every frame of
    120 fps mocap at start-up, so the mesh is posed at ``GROUNDING_FPS``
    only. There, each foot point is expressed in the frame of the foot bone it
    follows most (ankle or toes); in between, those bone-local coordinates,
    which change slowly, are interpolated and carried by the skeleton's
    forward kinematics, which is cheap for every frame.
    """
    n = poses.shape[0]
    step = max(1, round(fps / GROUNDING_FPS))
    frames = np.unique(np.append(np.arange(0, n, step), n - 1))
    points, bones = _foot_points(body)
    rot, pos = forward_kinematics(rotations, rest, np.tile(rest[0], (n, 1)))  # pelvis at J0, as with trans = 0
    world = []
    for chunk in np.array_split(frames, max(1, len(frames) // 128)):  # bounds LBS memory
        posed = body.pose(poses[chunk], np.zeros((len(chunk), 3)), betas)
        world.append(np.concatenate([posed.vertices, posed.joints[:, NUM_JOINTS:]], axis=1)[:, points])
    world = np.concatenate(world).astype(np.float64)
    # Linear interpolation weights between the posed frames around each frame.
    after = np.clip(np.searchsorted(frames, np.arange(n)), 1, len(frames) - 1)
    weight = ((np.arange(n) - frames[after - 1]) / (frames[after] - frames[after - 1]))[:, None, None]
    lowest = np.full(n, np.inf)
    for bone in np.unique(bones):
        mine = bones == bone
        r, x = rot[frames, bone], pos[frames, bone]  # the bone's frame at the posed frames
        local = np.einsum("fji,fpj->fpi", r, world[:, mine] - x[:, None])
        between = (1 - weight) * local[after - 1] + weight * local[after]
        height = np.einsum("fpj,fj->fp", between, rot[:, bone, 2]) + pos[:, bone, 2, None]  # only z is needed
        lowest = np.minimum(lowest, height.min(axis=1))
    return lowest


def _foot_points(body: BodyModel) -> tuple[np.ndarray, np.ndarray]:
    """Foot vertices and sole landmarks (indices into vertices + landmarks) and the bone each follows."""
    weights = body.lbs_weights
    vertices = np.flatnonzero(np.isin(vertex_parts(weights), _FOOT_PARTS))
    vertex_bones = np.array(_FOOT_BONES)[np.argmax(weights[vertices][:, _FOOT_BONES], axis=1)]
    # Landmarks: heels ride on the ankle, toes on the foot joint.
    marks = len(weights) + np.array([LANDMARK_NAMES.index(n) for n in _SOLE_LANDMARK_NAMES])
    mark_bones = [
        joint_index(("left_" if n[0] == "L" else "right_") + ("ankle" if n.endswith("Heel") else "foot"))
        for n in _SOLE_LANDMARK_NAMES
    ]
    return np.concatenate([vertices, marks]), np.concatenate([vertex_bones, mark_bones])


def _gender_value(gender: str, as_bytes: bool) -> np.ndarray:
    # Real files hold either form; the demo writes both so readers must handle both.
    return np.array(gender.encode("ascii")) if as_bytes else np.array(gender)


# --------------------------------------------------------------------------- BABEL


def _uid(rng: np.random.Generator) -> str:
    return str(uuid.UUID(bytes=rng.bytes(16), version=4))


def _label(spec_name: str, rng: np.random.Generator) -> dict:
    if spec_name == "transition":
        return {"proc_label": "transition", "raw_label": "transition", "seg_id": _uid(rng), "act_cat": ["transition"]}
    spec = ACTIONS[spec_name]
    return {
        "proc_label": spec.proc_label,
        "raw_label": spec.raw_label,
        "seg_id": _uid(rng),
        "act_cat": list(spec.act_cat),
    }


def babel_entry(sid: int, feat_p: str, motion: SequenceMotion, rng: np.random.Generator) -> dict:
    """One sequence in BABEL's dense format; frame labels tile ``[0, dur]``.

    Each action keeps its span minus half the blend window at inner
    boundaries; the blend window itself gets a ``transition`` label.
    """
    dur = round(motion.duration, 4)
    half = BLEND_SECONDS / 2
    frame_labels = []
    segments = motion.segments
    for k, seg in enumerate(segments):
        start = 0.0 if k == 0 else round(seg.start + half, 4)
        end = dur if k == len(segments) - 1 else round(seg.end - half, 4)
        frame_labels.append({**_label(seg.action, rng), "start_t": start, "end_t": end})
        if k < len(segments) - 1:
            frame_labels.append({**_label("transition", rng), "start_t": end, "end_t": round(seg.end + half, 4)})
    seq_labels = [_label(name, rng) for name in dict.fromkeys(s.action for s in segments)]
    return {
        "babel_sid": sid,
        "url": f"https://synthact.invalid/demo/{sid:06d}.mp4",
        "feat_p": feat_p,
        "dur": dur,
        "seq_ann": {"babel_lid": _uid(rng), "anntr_id": _uid(rng), "mul_act": True, "labels": seq_labels},
        "frame_ann": {"babel_lid": _uid(rng), "anntr_id": _uid(rng), "mul_act": True, "labels": frame_labels},
    }


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)


# --------------------------------------------------------------------------- the dataset


def _anchors(seed: int, index: int) -> list[str]:
    """Two actions sequence ``index`` must contain; together they cycle through the library."""
    order = list(_rng(seed, 2).permutation(sorted(ACTIONS)))
    return [str(order[(2 * index) % len(order)]), str(order[(2 * index + 1) % len(order)])]


def make_sequence(seed: int, index: int, rest_joints: np.ndarray) -> tuple[SequenceMotion, np.ndarray]:
    """Compose sequence ``index``; returns it and where its pelvis starts (world x, y)."""
    rng = _rng(seed, 0, index)
    style = Style.sample(rng)
    names = plan_actions(rng, _anchors(seed, index), int(rng.integers(2, 5)))[:4]
    segments = plan_segments(rng, names)
    fps = FRAME_RATES[(seed + index) % len(FRAME_RATES)]
    heading0, start = rng.uniform(0.0, 2 * np.pi), rng.uniform(-1.0, 1.0, size=2)
    return compose(segments, style, fps, rest_joints, heading0), start


def write_demo_dataset(out_dir: Path, body_model_dir: Path, num_sequences: int = 12, seed: int = 0) -> DemoDataset:
    """Generate the demo motions and their labels.

    Args:
        out_dir: Receives ``amass/`` and ``babel/``; ``amass/SynthActDemo`` is replaced.
        body_model_dir: Holds ``smplh/SMPLH_{NEUTRAL,MALE,FEMALE}.npz``.
        num_sequences: How many motion files.
        seed: Everything is a function of it.

    Returns:
        Paths and counts of what was written.
    """
    out_dir, body_model_dir = Path(out_dir), Path(body_model_dir)
    amass_root, babel_dir = out_dir / "amass", out_dir / "babel"
    shutil.rmtree(amass_root / DATASET_NAME, ignore_errors=True)  # stale files from a larger run
    babel_dir.mkdir(parents=True, exist_ok=True)
    models: dict[str, BodyModel] = {}
    entries, files, total_frames = {}, [], 0
    for index in range(num_sequences):
        subject = make_subject(seed, index // SEQUENCES_PER_SUBJECT)
        if subject.gender not in models:
            models[subject.gender] = BodyModel(body_model_dir, subject.gender)
        path, motion = _write_sequence(amass_root, seed, index, subject, models[subject.gender])
        sid = FIRST_SID + index
        entries[sid] = babel_entry(sid, path.relative_to(amass_root).as_posix(), motion, _rng(seed, 3, index))
        files.append(path)
        total_frames += motion.num_frames
    val = _val_indices(seed, num_sequences)
    train_json, val_json = babel_dir / "train.json", babel_dir / "val.json"
    _write_json(train_json, {str(sid): e for i, (sid, e) in enumerate(entries.items()) if i not in val})
    _write_json(val_json, {str(sid): e for i, (sid, e) in enumerate(entries.items()) if i in val})
    return DemoDataset(amass_root, babel_dir, train_json, val_json, tuple(files), total_frames)


def _write_sequence(
    amass_root: Path, seed: int, index: int, subject: Subject, body: BodyModel
) -> tuple[Path, SequenceMotion]:
    """Compose sequence ``index`` and write its ``*_poses.npz`` (and the subject's ``shape.npz``)."""
    rest = body.rest_joints(subject.betas).astype(np.float64)
    motion, start = make_sequence(seed, index, rest)
    poses, trans = to_amass(motion, start, body, subject.betas, rest)
    folder = amass_root / DATASET_NAME / DATASET_NAME / subject.name
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / "shape.npz").exists():
        # Real subject folders carry one; readers must skip it.
        save_npz(folder / "shape.npz", {"betas": subject.betas, "gender": _gender_value(subject.gender, False)})
    path = folder / f"{subject.name}_{index:03d}_poses.npz"
    save_npz(path, _motion_arrays(poses, trans, subject, motion.fps, as_bytes=index % 4 == 1))
    return path, motion


def _motion_arrays(
    poses: np.ndarray, trans: np.ndarray, subject: Subject, fps: float, as_bytes: bool
) -> dict[str, np.ndarray]:
    n = poses.shape[0]
    return {
        "poses": poses.astype(np.float64),
        "trans": trans.astype(np.float64),
        "betas": subject.betas.astype(np.float64),
        "dmpls": np.zeros((n, 8)),
        "gender": _gender_value(subject.gender, as_bytes),
        "mocap_framerate": np.array(fps, dtype=np.float64),
    }


def _val_indices(seed: int, num_sequences: int) -> set[int]:
    """About a quarter of the sequences, at least one when there are two or more."""
    num_val = max(1, round(VAL_FRACTION * num_sequences)) if num_sequences >= 2 else 0
    return {int(i) for i in _rng(seed, 4).permutation(num_sequences)[:num_val]}
