"""Fitting SMPL-H to 3D skeletons: a known motion goes in as an NTU skeleton and comes back.

The body is the licence-free demo SMPL-H model. The ground truth is a procedural
motion (smooth, random, anatomically plausible angles, random betas), posed by
smplx; its NTU 25-joint skeleton (BABEL's mapping into smplx's 73 outputs) gets
sensor-like noise and missing joints and frames, and is then fitted.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import torch

from synthact.body.skeleton import JOINT_NAMES, NUM_JOINTS, NUM_OUTPUT_JOINTS
from synthact.body.smplh import BodyModel
from synthact.fitting import NTU_JOINT_MAP, FitOptions, FitResult, fit_smplh
from synthact.fitting.kinematics import SmplhKinematics
from synthact.fitting.limbs import nearest_true
from synthact.fitting.rotations import (
    axis_angle_to_matrix,
    axis_angle_to_matrix_np,
    kabsch_rotations,
    matrix_to_axis_angle_np,
)
from synthact.fitting.shape import target_segments

J = {name: i for i, name in enumerate(JOINT_NAMES)}
NTU = np.array(NTU_JOINT_MAP)
FPS = 30.0


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def body(demo_body_model_dir) -> BodyModel:
    return BodyModel(demo_body_model_dir, "neutral")


def _rx(a: np.ndarray) -> np.ndarray:
    return axis_angle_to_matrix_np(np.stack([a, 0 * a, 0 * a], -1))


def _ry(a: np.ndarray) -> np.ndarray:
    return axis_angle_to_matrix_np(np.stack([0 * a, a, 0 * a], -1))


def _rz(a: np.ndarray) -> np.ndarray:
    return axis_angle_to_matrix_np(np.stack([0 * a, 0 * a, a], -1))


class _Curves:
    """Smooth random angle curves: two sines between ``lo`` and ``hi``, 0.25-0.8 Hz."""

    def __init__(self, num_frames: int, rng: np.random.Generator):
        self.t = np.arange(num_frames) / FPS
        self.rng = rng

    def __call__(self, lo: float, hi: float) -> np.ndarray:
        f = self.rng.uniform(0.25, 0.8, 2)
        ph = self.rng.uniform(0, 2 * np.pi, 2)
        s = 0.6 * np.sin(2 * np.pi * f[0] * self.t + ph[0]) + 0.4 * np.sin(2 * np.pi * f[1] * self.t + ph[1])
        return lo + (hi - lo) * (0.5 + 0.5 * s)


def known_motion(num_frames: int, seed: int, knee_range: tuple[float, float] = (0.05, 1.6)):
    """A plausible random SMPL-H motion: (poses (T, 156), trans (T, 3), betas (16,)).

    Joint conventions are SMPL-H's (template Y-up, facing +Z, left = +X): a
    knee flexes about +X, the left elbow about -Y and the right about +Y.
    """
    rng = np.random.default_rng(seed)
    c = _Curves(num_frames, rng)
    n = num_frames
    rot = np.tile(np.eye(3), (n, NUM_JOINTS, 1, 1))
    # Z-up world: the Y-up template turned +90 degrees about X, then a yaw.
    rot[:, 0] = _rz(c(-1.5, 1.5)) @ _rx(np.full(n, np.pi / 2)) @ _rx(c(-0.1, 0.2)) @ _rz(c(-0.1, 0.1))
    for name, share in (("spine1", 0.4), ("spine2", 0.35), ("spine3", 0.25)):
        rot[:, J[name]] = _ry(share * c(-0.4, 0.4)) @ _rx(share * c(-0.1, 0.6)) @ _rz(share * c(-0.2, 0.2))
    rot[:, J["neck"]] = _ry(c(-0.3, 0.3)) @ _rx(c(-0.2, 0.3))
    rot[:, J["head"]] = _ry(c(-0.3, 0.3)) @ _rx(c(-0.2, 0.3))
    for side, s in (("left", 1.0), ("right", -1.0)):
        rot[:, J[f"{side}_hip"]] = _rx(-c(-0.3, 1.2)) @ _rz(s * c(0.0, 0.35)) @ _ry(-s * c(-0.2, 0.3))
        rot[:, J[f"{side}_knee"]] = _rx(c(*knee_range))
        rot[:, J[f"{side}_ankle"]] = _rx(c(-0.3, 0.4))
        rot[:, J[f"{side}_collar"]] = _rz(s * c(-0.1, 0.2))
        rot[:, J[f"{side}_shoulder"]] = (
            _ry(-s * c(-0.3, 0.6)) @ _rx(-c(-0.3, 1.2)) @ _rz(-s * c(0.2, 1.4)) @ _rx(-c(-0.4, 0.6))
        )
        rot[:, J[f"{side}_elbow"]] = _ry(-s * c(0.1, 2.0)) @ _rx(c(-0.5, 0.5))
        rot[:, J[f"{side}_wrist"]] = _rz(-s * c(-0.4, 0.4)) @ _ry(c(-0.3, 0.3))
    poses = matrix_to_axis_angle_np(rot).reshape(n, -1)
    poses[:, 66:] = 0.0  # flat hands: NTU skeletons carry no finger articulation
    trans = np.stack([c(-0.5, 0.5), c(1.5, 2.5), c(0.0, 0.1)], axis=1)
    betas = rng.normal(size=16) * 0.8
    return poses, trans, betas


def ntu_skeleton(body: BodyModel, poses, trans, betas, seed: int, noise: float = 0.005):
    """Clean (T, 73, 3) smplx joints, and a noisy NTU (T, 25, 3) skeleton with its validity mask."""
    truth = body.pose(poses, trans, betas).joints.astype(np.float64)
    rng = np.random.default_rng(1000 + seed)
    n = len(poses)
    target = truth[:, NTU] + rng.normal(size=(n, 25, 3)) * noise
    valid = rng.random((n, 25)) > 0.05  # 5% of the joints drop out at random
    valid[n // 3] = False  # a whole frame is lost
    valid[n // 2 : n // 2 + 10, 7] = False  # the left hand is occluded for 10 frames
    target[~valid] = np.nan  # what a reader would leave there
    return truth, target, valid


def acceleration(x: np.ndarray) -> float:
    """Mean joint acceleration magnitude, metres per frame squared."""
    return float(np.linalg.norm(x[2:] - 2 * x[1:-1] + x[:-2], axis=-1).mean())


@pytest.fixture(scope="module")
def known_fit(body):
    """The must-show fit: 60 frames of a known motion through a noisy, gappy NTU skeleton."""
    poses, trans, betas = known_motion(60, seed=0)
    truth, target, valid = ntu_skeleton(body, poses, trans, betas, seed=0)
    start = time.process_time()
    result = fit_smplh(target, valid, NTU, body, FitOptions())
    cpu = time.process_time() - start
    return truth, target, valid, result, cpu


# --------------------------------------------------------------------------- building blocks


def test_rotation_conversions_round_trip():
    rng = np.random.default_rng(0)
    v = rng.normal(size=(500, 3))
    v *= rng.uniform(0, np.pi, (500, 1)) / np.linalg.norm(v, axis=1, keepdims=True)
    v[:3] *= 1e-9  # near the identity
    v[3:6] *= (np.pi - 1e-6) / np.linalg.norm(v[3:6], axis=1, keepdims=True)  # near 180 degrees
    r = axis_angle_to_matrix_np(v)
    np.testing.assert_allclose(r @ np.swapaxes(r, 1, 2), np.broadcast_to(np.eye(3), r.shape), atol=1e-12)
    np.testing.assert_allclose(axis_angle_to_matrix_np(matrix_to_axis_angle_np(r)), r, atol=1e-9)
    np.testing.assert_allclose(matrix_to_axis_angle_np(r[6:]), v[6:], atol=1e-9)
    x = torch.tensor(v[:20], requires_grad=True)
    assert torch.autograd.gradcheck(axis_angle_to_matrix, (x,))
    zero = torch.zeros(2, 3, dtype=torch.float64, requires_grad=True)
    axis_angle_to_matrix(zero)[:, 0, 1].sum().backward()
    assert torch.isfinite(zero.grad).all()  # body poses start at exactly zero


def test_kabsch_recovers_rotations():
    rng = np.random.default_rng(1)
    src = rng.normal(size=(6, 3))
    rot = axis_angle_to_matrix_np(rng.normal(size=(5, 3)))
    target = np.einsum("tab,nb->tna", rot, src) + rng.normal(size=(5, 1, 3))
    np.testing.assert_allclose(kabsch_rotations(src, target, np.ones((5, 6))), rot, atol=1e-10)


def test_kinematics_matches_smplx(body):
    """The differentiable forward gives smplx's 73 output joints (float32 reference)."""
    rng = np.random.default_rng(2)
    n = 8
    poses = np.zeros((n, 156))
    poses[:, :66] = rng.normal(size=(n, 66)) * 0.5
    trans, betas = rng.normal(size=(n, 3)), rng.normal(size=16)
    reference = body.pose(poses, trans, betas).joints
    kin = SmplhKinematics(body, np.arange(NUM_OUTPUT_JOINTS))
    with torch.no_grad():
        out = kin(
            axis_angle_to_matrix(torch.tensor(poses[:, :3])),
            torch.tensor(poses[:, 3:66]).reshape(n, 21, 3),
            torch.tensor(trans),
            torch.tensor(betas),
        )
    np.testing.assert_allclose(out.points.numpy(), reference, atol=2e-5)
    np.testing.assert_allclose(out.joints.numpy(), reference[:, :NUM_JOINTS], atol=2e-5)


def test_ntu_segments_pair_each_joint_with_its_nearest_mapped_ancestor(body):
    kin = SmplhKinematics(body, NTU)
    pairs = {(int(NTU[s.child]), int(NTU[s.parent])): s.weight for s in target_segments(NTU, kin.anchor_joints())}
    assert pairs[(J["left_knee"], J["left_hip"])] == 1.0
    assert pairs[(J["left_index1"], J["left_wrist"])] == 1.0  # through flat hand joints: rigid
    assert pairs[(J["left_shoulder"], J["spine3"])] < 1.0  # over the unobserved collar
    assert pairs[(63, J["left_wrist"])] == 1.0  # the left thumb tip landmark
    assert len(pairs) == 24  # every joint but the root


def test_nearest_true():
    np.testing.assert_array_equal(nearest_true(np.array([0, 1, 0, 0, 1, 0], bool)), [1, 1, 1, 4, 4, 4])
    np.testing.assert_array_equal(nearest_true(np.array([0, 0, 1], bool)), [2, 2, 2])


# --------------------------------------------------------------------------- the known-motion fit


def test_fit_recovers_a_known_motion_from_its_ntu_skeleton(known_fit):
    """MUST SHOW: mean error < 2 cm on the 25 NTU joints and on all 52 SMPL-H joints.

    Errors are measured against the clean ground truth, not the noisy targets.
    Measured (demo body, seed 0): about 0.5 cm mean on both sets.
    """
    truth, _target, _valid, result, cpu = known_fit
    err25 = np.linalg.norm(result.fitted_joints - truth[:, NTU], axis=-1)
    err52 = np.linalg.norm(result.model_joints - truth[:, :NUM_JOINTS], axis=-1)
    print(
        f"\nfit of 60 frames: 25 NTU joints mean {100 * err25.mean():.2f} cm, max {100 * err25.max():.2f} cm; "
        f"all 52 joints mean {100 * err52.mean():.2f} cm, max {100 * err52.max():.2f} cm; "
        f"vs noisy targets mean {100 * result.mean_error:.2f} cm; cpu {cpu:.2f} s; "
        f"wall {result.report()['seconds']}; iterations {result.iterations}"
    )
    assert err25.mean() < 0.02
    assert err52.mean() < 0.02
    assert np.percentile(err25, 99) < 0.05
    assert result.mean_error < 0.02  # against the noisy targets, valid entries only
    assert cpu < 30.0  # typically 3-5 s of CPU; generous for a busy test machine


def test_fit_is_an_amass_motion_that_smplx_reproduces(body, known_fit):
    _, _, _, result, _ = known_fit
    assert result.poses.shape == (60, 156) and result.poses.dtype == np.float64
    assert result.trans.shape == (60, 3) and result.betas.shape == (16,)
    assert np.all(result.poses[:, 66:] == 0.0)  # hands flat
    assert np.all(np.linalg.norm(result.poses.reshape(60, 52, 3), axis=-1) <= np.pi + 1e-9)
    reposed = body.pose(result.poses, result.trans, result.betas).joints
    np.testing.assert_allclose(reposed[:, NTU], result.fitted_joints, atol=1e-4)
    np.testing.assert_allclose(reposed[:, :NUM_JOINTS], result.model_joints, atol=1e-4)


def test_fitted_knees_and_elbows_never_bend_backwards(known_fit):
    _, _, _, result, _ = known_fit
    assert result.knee_flexion.min() >= 0.0
    assert result.elbow_flexion.min() >= 0.0


def test_fit_is_smooth_and_filters_sensor_noise(known_fit):
    truth, target, valid, result, _ = known_fit
    fitted = acceleration(result.fitted_joints)
    clean = acceleration(truth[:, NTU])
    noisy = acceleration(np.where(valid[..., None], target, truth[:, NTU]))
    print(f"\nacceleration (mm/frame^2): fit {1000 * fitted:.2f}, truth {1000 * clean:.2f}, noisy {1000 * noisy:.2f}")
    assert fitted < 1.25 * clean
    assert fitted < 0.75 * noisy


def test_report_is_json_and_per_joint(known_fit):
    _, _, valid, result, _ = known_fit
    report = json.loads(json.dumps(result.report()))  # no NaN, no numpy types
    assert report["frames"] == 60
    assert len(report["per_joint_error_m"]) == 25 and len(report["per_frame_error_m"]) == 60
    assert report["per_frame_error_m"][20] is None  # the lost frame has no error
    assert report["max_error_m"] >= report["p95_error_m"] >= report["median_error_m"] > 0
    assert set(report["iterations"]) == {"shape", "global", "body"}
    assert report["min_knee_flexion_deg"] >= 0.0
    np.testing.assert_allclose(result.per_joint_error, np.nanmean(result.errors.per_entry, axis=0))
    assert np.isnan(result.errors.per_entry[~valid]).all()


# --------------------------------------------------------------------------- priors, inputs, determinism


def test_hyperextended_targets_do_not_hyperextend_the_fit(body):
    """A skeleton whose knees bend backwards by up to 20 degrees is fitted with straight knees."""
    poses, trans, betas = known_motion(20, seed=3, knee_range=(-0.35, 0.3))
    truth = body.pose(poses, trans, betas).joints.astype(np.float64)
    options = FitOptions(body_iterations=120)
    result = fit_smplh(truth[:, NTU], None, NTU, body, options)
    assert result.knee_flexion.min() >= 0.0
    assert result.elbow_flexion.min() >= 0.0


def test_pairs_map_nans_and_missing_first_frames(body):
    """A (target, smplx) pair list, NaN for missing, unmapped extra joints, leading empty frames."""
    poses, trans, betas = known_motion(12, seed=5)
    truth = body.pose(poses, trans, betas).joints.astype(np.float64)
    target = np.concatenate([truth[:, NTU], np.full((12, 1, 3), 7.0)], axis=1)  # joint 25: unmapped
    target[:2] = np.nan
    pairs = [(i, int(j)) for i, j in enumerate(NTU)]
    result = fit_smplh(target, None, pairs, body, FitOptions(body_iterations=80))
    assert np.isfinite(result.poses).all() and np.isfinite(result.trans).all()
    assert np.isnan(result.fitted_joints[:, 25]).all() and np.isnan(result.per_joint_error[25])
    assert np.isnan(result.per_frame_error[:2]).all()
    err = np.linalg.norm(result.fitted_joints[2:, :25] - truth[2:, NTU], axis=-1)
    assert err.mean() < 0.03
    # The empty frames borrow from their neighbours and stay close to them.
    assert np.linalg.norm(result.trans[0] - result.trans[2]) < 0.1


def test_a_13_joint_skeleton_without_pelvis_or_landmarks(body):
    """A Smarthome-like (LCR-Net) skeleton: head, shoulders, elbows, wrists, hips, knees, ankles."""
    smplh = [J[n] for n in ("head", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist",
                            "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
                            "right_ankle")]  # fmt: skip  # a table, in rows as its source has them
    poses, trans, betas = known_motion(30, seed=9)
    truth = body.pose(poses, trans, betas).joints.astype(np.float64)
    result = fit_smplh(truth[:, smplh], None, list(enumerate(smplh)), body, FitOptions(body_iterations=120))
    assert result.mean_error < 0.01
    assert np.linalg.norm(result.model_joints[:, :22] - truth[:, :22], axis=-1).mean() < 0.03
    assert result.knee_flexion.min() >= 0.0


def test_fixed_betas_and_determinism(body):
    poses, trans, betas = known_motion(10, seed=6)
    target = body.pose(poses, trans, betas).joints.astype(np.float64)[:, NTU]
    options = FitOptions(estimate_shape=False, refine_betas=False, betas=betas, body_iterations=40)
    first = fit_smplh(target, None, NTU, body, options)
    second = fit_smplh(target, None, NTU, body, options)
    np.testing.assert_allclose(first.betas, betas)
    np.testing.assert_array_equal(first.poses, second.poses)
    np.testing.assert_array_equal(first.trans, second.trans)
    assert first.iterations["shape"] == 0


def test_single_frame(body):
    poses, trans, betas = known_motion(1, seed=7)
    target = body.pose(poses, trans, betas).joints.astype(np.float64)[:, NTU]
    result = fit_smplh(target, np.ones((1, 25), bool), NTU, body, FitOptions(body_iterations=100))
    assert isinstance(result, FitResult) and result.poses.shape == (1, 156)
    assert result.mean_error < 0.03


@pytest.mark.parametrize(
    ("target", "valid", "joint_map", "message"),
    [
        (np.zeros((5, 25)), None, NTU, "shape"),
        (np.zeros((5, 25, 3)), np.ones((5, 24), bool), NTU, "valid"),
        (np.zeros((5, 25, 3)), None, NTU[:10], "one entry per target"),
        (np.zeros((5, 25, 3)), None, [(0, 80)], "smplx indices"),
        (np.zeros((5, 25, 3)), None, [(30, 0)], "target indices"),
        (np.zeros((5, 25, 3)), np.zeros((5, 25), bool), NTU, "no valid"),
    ],
)
def test_bad_inputs_are_refused(body, target, valid, joint_map, message):
    with pytest.raises(ValueError, match=message):
        fit_smplh(target, valid, joint_map, body)


def test_leaves_torch_threads_as_it_found_them(body):
    before = torch.get_num_threads()
    poses, trans, betas = known_motion(3, seed=8)
    target = body.pose(poses, trans, betas).joints.astype(np.float64)[:, NTU]
    fit_smplh(target, None, NTU, body, FitOptions(body_iterations=5, num_threads=1))
    assert torch.get_num_threads() == before
