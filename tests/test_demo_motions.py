"""The built-in demo motions: action library, sequences, and the AMASS/BABEL files they become."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import numpy as np
import pytest

from synthact.body.skeleton import DEMO_REST_JOINTS, LANDMARK_NAMES, NUM_JOINTS, PART_NAMES, vertex_parts
from synthact.body.smplh import BodyModel
from synthact.demo import dataset as demo_dataset
from synthact.demo.kinematics import quat_from_axis_angle, quat_to_matrix
from synthact.demo.motions import ACTIONS
from synthact.demo.posing import SEATED, Style, seat, standing
from synthact.demo.sequences import Segment, compose, plan_actions, plan_segments
from synthact.sources.amass import iter_motion_files, load_motion, resolve_feat_p
from synthact.sources.babel import load_babel_file
from synthact.sources.babel_categories import BABEL_CATEGORIES

REQUIRED_ACTIONS = {
    "walk", "jog", "turn_left", "turn_right", "step_left", "step_right", "step_back", "wave", "clap",
    "jump", "squat", "sit_down", "stand_up", "kick", "punch", "bow", "raise_arms",
}  # fmt: skip  # a table, in rows as its source has them
LOCOMOTION = {"walk", "jog", "sideways movement", "backwards movement", "jump"}
NPZ_KEYS = {"poses", "trans", "betas", "dmpls", "gender", "mocap_framerate"}
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
SOLE_LANDMARKS = [
    NUM_JOINTS + LANDMARK_NAMES.index(n) for n in ("LBigToe", "LSmallToe", "LHeel", "RBigToe", "RSmallToe", "RHeel")
]


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def body_model_dir(demo_body_model_dir: Path) -> Path:
    return demo_body_model_dir


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, body_model_dir: Path) -> demo_dataset.DemoDataset:
    return demo_dataset.write_demo_dataset(tmp_path_factory.mktemp("demo"), body_model_dir, num_sequences=12, seed=0)


@pytest.fixture(scope="module")
def babel(demo: demo_dataset.DemoDataset) -> dict[str, dict]:
    return {**json.loads(demo.train_json.read_text()), **json.loads(demo.val_json.read_text())}


def _gender(data: np.lib.npyio.NpzFile) -> str:
    value = data["gender"].item()
    return value.decode() if isinstance(value, bytes) else value


def _spans(entry: dict, fps: float) -> list[tuple[str, int, int]]:
    """(primary category, first frame, end frame) of each frame label."""
    return [
        (lab["act_cat"][0], round(lab["start_t"] * fps), round(lab["end_t"] * fps))
        for lab in entry["frame_ann"]["labels"]
    ]


# --------------------------------------------------------------------------- library


def test_library_covers_the_required_actions() -> None:
    assert len(ACTIONS) >= 12
    assert REQUIRED_ACTIONS <= set(ACTIONS)


def test_categories_are_babel_names() -> None:
    for spec in ACTIONS.values():
        assert spec.act_cat and set(spec.act_cat) <= set(BABEL_CATEGORIES), spec.name
        assert 1.5 <= spec.min_dur <= spec.max_dur <= 3.0  # labelled spans stay within 1.2-3 s


@pytest.mark.parametrize("name", sorted(ACTIONS))
def test_actions_start_and_end_at_rest(name: str) -> None:
    """Unit quaternions, and each action begins and ends in its state's rest pose (so chains join)."""
    spec, style = ACTIONS[name], Style.sample(np.random.default_rng(3))
    t = np.linspace(0.0, spec.max_dur, 200)
    frames = spec.fn(t, spec.max_dur, style)
    assert frames.rotations.shape == (200, NUM_JOINTS, 4)
    assert np.allclose(np.linalg.norm(frames.rotations, axis=-1), 1.0)
    for index, state in ((0, spec.start_state), (-1, spec.end_state)):
        rest = standing(1, style)
        if state == SEATED:
            seat(rest, style, np.ones(1))
        dot = np.abs(np.sum(frames.rotations[index] * rest.to_quaternions()[0], axis=-1))
        assert np.all(2 * np.arccos(np.clip(dot, -1, 1)) < 0.02), (name, index)
    assert frames.yaw[0] == 0.0 and np.all(frames.lift >= 0.0)


def test_signs_of_the_basic_poses() -> None:
    """Knees bend backwards, a squat lowers the pelvis, waving raises the hand above the head."""
    style = Style()
    t = np.linspace(0.0, 2.0, 81)
    pelvis = np.zeros((81, 3))
    squat = _joints(ACTIONS["squat"].fn(t, 2.0, style).rotations, pelvis)
    mid = 40
    knee, ankle, hip = squat[mid, 4], squat[mid, 7], squat[mid, 1]
    assert knee[2] > hip[2] and knee[2] > ankle[2]  # knees forward of hips and ankles
    wave_style = Style(right_handed=True)
    wave = _joints(ACTIONS["wave"].fn(t, 2.0, wave_style).rotations, pelvis)
    assert wave[mid, 21, 1] > wave[mid, 15, 1]  # right wrist above the head
    assert wave[mid, 20, 1] < wave[mid, 16, 1]  # left wrist below the left shoulder


def _joints(rotations: np.ndarray, pelvis: np.ndarray) -> np.ndarray:
    from synthact.demo.kinematics import forward_kinematics

    return forward_kinematics(rotations, DEMO_REST_JOINTS, pelvis)[1]


# --------------------------------------------------------------------------- sequences


def test_plans_respect_standing_and_seated_states() -> None:
    rng = np.random.default_rng(0)
    for _ in range(200):
        anchors = list(rng.choice(sorted(ACTIONS), size=2, replace=False))
        names = plan_actions(rng, anchors, int(rng.integers(2, 5)))
        for a, b in itertools.pairwise(names):
            assert ACTIONS[a].end_state == ACTIONS[b].start_state and a != b
        segments = plan_segments(rng, names)
        assert segments[0].start == 0.0
        assert all(x.end == y.start for x, y in itertools.pairwise(segments))


def test_heading_accumulates_and_walking_follows_it() -> None:
    style = Style()
    segments = (Segment("turn_left", 0.0, 1.6), Segment("walk", 1.6, 4.6), Segment("turn_right", 4.6, 6.2))
    motion = compose(segments, style, 60.0, DEMO_REST_JOINTS, heading0=0.3)
    walk = (motion.fps * np.array([1.9, 4.3])).astype(int)
    heading = motion.heading[walk[0]]
    assert heading == pytest.approx(0.3 + style.turn_angle)
    assert motion.heading[-1] == pytest.approx(0.3)
    step = motion.pelvis_xz[walk[1]] - motion.pelvis_xz[walk[0]]
    forward = np.array([np.sin(heading), np.cos(heading)])  # template +Z turned about +Y
    assert step @ forward > 0.99 * np.linalg.norm(step)
    assert 0.8 < np.linalg.norm(step) / 2.4 < 2.0  # m/s


def test_motion_is_sampled_in_continuous_time() -> None:
    segments = plan_segments(np.random.default_rng(1), ["walk", "jump", "wave"])
    slow = compose(segments, Style(), 60.0, DEMO_REST_JOINTS)
    fast = compose(segments, Style(), 120.0, DEMO_REST_JOINTS)
    assert fast.num_frames == 2 * slow.num_frames
    assert np.allclose(fast.rotations[::2], slow.rotations, atol=1e-12)
    assert np.allclose(fast.heading[::2], slow.heading)
    assert np.abs(fast.pelvis_xz[::2] - slow.pelvis_xz).max() < 0.03  # foot locking integrates


# --------------------------------------------------------------------------- AMASS files


def test_layout(demo: demo_dataset.DemoDataset) -> None:
    assert demo.num_sequences == 12 and len(set(demo.motion_files)) == 12
    for path in demo.motion_files:
        rel = path.relative_to(demo.amass_root).parts
        assert rel[:2] == ("SynthActDemo", "SynthActDemo") and re.fullmatch(r"S\d\d", rel[2])
        assert rel[3].startswith(rel[2] + "_") and rel[3].endswith("_poses.npz")
        assert (path.parent / "shape.npz").is_file()
    assert sorted(iter_motion_files(demo.amass_root)) == sorted(demo.motion_files)  # shape.npz skipped


def test_npz_keys_shapes_and_dtypes(demo: demo_dataset.DemoDataset) -> None:
    kinds, rates = set(), set()
    for path in demo.motion_files:
        with np.load(path, allow_pickle=False) as data:
            assert set(data.files) == NPZ_KEYS
            n = data["poses"].shape[0]
            assert data["poses"].shape == (n, 156) and data["poses"].dtype == np.float64
            assert data["trans"].shape == (n, 3) and data["trans"].dtype == np.float64
            assert data["betas"].shape == (16,) and data["betas"].dtype == np.float64
            assert data["dmpls"].shape == (n, 8) and not data["dmpls"].any()
            assert data["mocap_framerate"].shape == () and data["mocap_framerate"].dtype == np.float64
            assert data["gender"].shape == () and _gender(data) in ("male", "female", "neutral")
            assert np.all(np.isfinite(data["poses"])) and np.all(np.isfinite(data["trans"]))
            assert np.abs(data["betas"]).max() <= 2.0
            kinds.add(data["gender"].dtype.kind)
            rates.add(float(data["mocap_framerate"]))
        motion = load_motion(path)  # the project's own AMASS reader accepts it
        assert motion.num_frames == n
    assert kinds == {"U", "S"}  # both real forms of the gender field
    assert rates == {120.0, 100.0, 60.0}


def test_same_subject_same_body(demo: demo_dataset.DemoDataset) -> None:
    by_subject: dict[str, set[tuple]] = {}
    for path in demo.motion_files:
        with np.load(path) as data:
            by_subject.setdefault(path.parent.name, set()).add((tuple(data["betas"]), _gender(data)))
    assert all(len(v) == 1 for v in by_subject.values())
    assert len({next(iter(v)) for v in by_subject.values()}) == len(by_subject)


def test_root_orientation_is_z_up(demo: demo_dataset.DemoDataset) -> None:
    """The template's up axis (+Y) points to world +Z, give or take a bow."""
    for path in demo.motion_files:
        with np.load(path) as data:
            up = quat_to_matrix(quat_from_axis_angle(data["poses"][:, :3])) @ np.array([0.0, 1.0, 0.0])
        assert np.median(up[:, 2]) > 0.95


# --------------------------------------------------------------------------- BABEL files


def test_babel_structure(demo: demo_dataset.DemoDataset, babel: dict[str, dict]) -> None:
    train, val = json.loads(demo.train_json.read_text()), json.loads(demo.val_json.read_text())
    assert len(val) == 3 and len(train) == 9 and not set(train) & set(val)
    seg_ids = []
    for key, entry in babel.items():
        assert set(entry) == {"babel_sid", "url", "feat_p", "dur", "seq_ann", "frame_ann"}
        assert key == str(entry["babel_sid"]) and isinstance(entry["babel_sid"], int)
        assert isinstance(entry["dur"], float) and isinstance(entry["url"], str)
        for ann_key in ("seq_ann", "frame_ann"):
            ann = entry[ann_key]
            assert set(ann) == {"babel_lid", "anntr_id", "mul_act", "labels"} and ann["mul_act"] is True
            assert UUID.match(ann["babel_lid"]) and UUID.match(ann["anntr_id"])
            for label in ann["labels"]:
                keys = {"act_cat", "proc_label", "raw_label", "seg_id"}
                assert set(label) == (keys | {"start_t", "end_t"} if ann_key == "frame_ann" else keys)
                assert set(label["act_cat"]) <= set(BABEL_CATEGORIES) | {"transition"}
                assert UUID.match(label["seg_id"])
                seg_ids.append(label["seg_id"])
    assert len(seg_ids) == len(set(seg_ids))


def test_frame_labels_tile_the_sequence_and_match_files(demo: demo_dataset.DemoDataset, babel: dict[str, dict]) -> None:
    for entry in babel.values():
        path = demo.amass_root / entry["feat_p"]
        assert path.is_file() and entry["feat_p"].startswith("SynthActDemo/SynthActDemo/S")
        with np.load(path) as data:
            assert data["poses"].shape[0] / float(data["mocap_framerate"]) == pytest.approx(entry["dur"])
        labels = sorted(entry["frame_ann"]["labels"], key=lambda lab: lab["start_t"])
        assert labels[0]["start_t"] == 0.0 and labels[-1]["end_t"] == entry["dur"]
        assert all(a["end_t"] == b["start_t"] for a, b in itertools.pairwise(labels))
        actions = [lab for lab in labels if lab["act_cat"] != ["transition"]]
        assert 2 <= len(actions) <= 4
        assert all(1.2 - 1e-9 <= lab["end_t"] - lab["start_t"] <= 3.0 + 1e-9 for lab in actions)
        assert {lab["proc_label"] for lab in entry["seq_ann"]["labels"]} == {lab["proc_label"] for lab in actions}


def test_babel_reader_accepts_the_files(demo: demo_dataset.DemoDataset) -> None:
    for path, split in ((demo.train_json, "train"), (demo.val_json, "val")):
        for sequence in load_babel_file(path):
            assert sequence.split == split
            assert resolve_feat_p(demo.amass_root, sequence.feat_p).is_file()


def test_all_actions_appear(babel: dict[str, dict]) -> None:
    seen = {lab["proc_label"] for e in babel.values() for lab in e["frame_ann"]["labels"]}
    assert {spec.proc_label for spec in ACTIONS.values()} <= seen


# --------------------------------------------------------------------------- physics


def _lowest_foot_z(body: BodyModel, data: np.lib.npyio.NpzFile, frames: np.ndarray) -> np.ndarray:
    posed = body.pose(data["poses"][frames], data["trans"][frames], data["betas"])
    foot = np.isin(vertex_parts(body.lbs_weights), [PART_NAMES.index("left_foot"), PART_NAMES.index("right_foot")])
    return np.minimum(posed.vertices[:, foot, 2].min(axis=1), posed.joints[:, SOLE_LANDMARKS, 2].min(axis=1))


@pytest.mark.slow  # poses every sequence of the demo (about 10 s)
def test_feet_on_the_ground(demo: demo_dataset.DemoDataset, babel: dict[str, dict], body_model_dir: Path) -> None:
    """The mesh of the moving sequences touches z = 0 except in jump flight.

    Every third frame is posed: the generator poses only a few frames a second
    itself, so these are mostly frames it interpolated.
    """
    moving = [e for e in babel.values() if {lab["act_cat"][0] for lab in e["frame_ann"]["labels"]} & LOCOMOTION]
    assert any("jump" in str(e["frame_ann"]) for e in moving)
    for entry in moving:
        with np.load(demo.amass_root / entry["feat_p"]) as data:
            fps, frames = float(data["mocap_framerate"]), np.arange(0, data["poses"].shape[0], 3)
            lowest = _lowest_foot_z(BodyModel(body_model_dir, _gender(data)), data, frames)
        airborne = np.zeros(len(frames), dtype=bool)
        for cat, start, end in _spans(entry, fps):
            if cat == "jump":
                inside = (frames >= start) & (frames < end)
                airborne |= inside
                assert lowest[inside].max() > 0.08  # the jump leaves the floor
        assert lowest.min() > -0.02
        assert np.abs(lowest[~airborne]).max() < 0.02


def test_walking_translates_along_the_heading(demo: demo_dataset.DemoDataset, babel: dict[str, dict]) -> None:
    checked = 0
    for entry in babel.values():
        with np.load(demo.amass_root / entry["feat_p"]) as data:
            poses, trans, fps = data["poses"], data["trans"], float(data["mocap_framerate"])
        # Body forward is template +Z; the root orientation carries it into the world.
        forward = quat_to_matrix(quat_from_axis_angle(poses[:, :3])) @ np.array([0.0, 0.0, 1.0])
        for cat, start, end in _spans(entry, fps):
            if cat not in ("walk", "jog", "backwards movement"):
                continue
            step = trans[end - 1, :2] - trans[start, :2]
            facing = forward[(start + end) // 2, :2] / np.linalg.norm(forward[(start + end) // 2, :2])
            sign = -1.0 if cat == "backwards movement" else 1.0
            assert sign * step @ facing > 0.97 * np.linalg.norm(step)
            assert 0.3 < np.linalg.norm(step) / ((end - start) / fps) < 3.5  # m/s
            checked += 1
    assert checked >= 2


# --------------------------------------------------------------------------- determinism


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_deterministic(tmp_path: Path, body_model_dir: Path, demo: demo_dataset.DemoDataset) -> None:
    a = demo_dataset.write_demo_dataset(tmp_path / "a", body_model_dir, num_sequences=3, seed=0)
    demo_dataset.write_demo_dataset(tmp_path / "b", body_model_dir, num_sequences=3, seed=0)
    demo_dataset.write_demo_dataset(tmp_path / "c", body_model_dir, num_sequences=3, seed=1)
    first, again, other = _tree(tmp_path / "a"), _tree(tmp_path / "b"), _tree(tmp_path / "c")
    assert first == again
    assert first.keys() == other.keys() and first != other
    # Sequence k does not depend on how many sequences were asked for.
    for path in a.motion_files:
        rel = path.relative_to(a.amass_root)
        assert path.read_bytes() == (demo.amass_root / rel).read_bytes()
