"""Fit SMPL-H to a 3D skeleton sequence (NTU RGB+D, Toyota Smarthome, ...).

Synthetic NTU and Smarthome re-render the original datasets' own skeletons, so
each clip's joints must become an AMASS-layout SMPL-H motion first. The fit
runs in three stages, each a batched L-BFGS over all frames at once:

1. shape: betas from the median target bone lengths (``shape.py``);
2. global: root orientation and translation, from a per-frame Kabsch
   alignment of the torso, refined on the torso joints only, then the trunk;
   arms and legs then start from analytic two-bone IK (``limbs.py``);
3. body: the full body pose (and, lightly, the betas) against every mapped
   joint, under pose, hinge-joint, smoothness and shape priors.

Hands stay flat: skeletons of these datasets carry no finger articulation.
"""

from __future__ import annotations

import functools
import operator
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
import torch

from synthact.body.skeleton import NUM_BETAS, NUM_OUTPUT_JOINTS, POSE_WIDTH
from synthact.body.smplh import BodyModel
from synthact.fitting import objective
from synthact.fitting.kinematics import NUM_BODY_POSE_JOINTS, SmplhKinematics
from synthact.fitting.limbs import initial_limb_poses, nearest_true
from synthact.fitting.options import FitOptions
from synthact.fitting.result import FitResult, fit_errors
from synthact.fitting.rotations import axis_angle_to_matrix_np, kabsch_rotations, matrix_to_axis_angle_np
from synthact.fitting.shape import estimate_betas

T = TypeVar("T")

# NTU RGB+D's 25 Kinect v2 joints as indices into smplx's 73 SMPL-H outputs,
# in NTU order (the mapping BABEL's action-recognition code uses).
NTU_JOINT_MAP = (0, 3, 12, 15, 16, 18, 20, 22, 17, 19, 21, 37, 1, 4, 7, 10, 2, 5, 8, 11, 9, 63, 64, 68, 69)

# Joints that move with the trunk: they fix the root orientation in stage 2.
TORSO_JOINTS = frozenset({0, 1, 2, 3, 6, 9, 12, 13, 14, 15, 16, 17})

# The template is Y-up and the world Z-up: a +90 degree turn about X, the
# root orientation used where a frame has too few torso joints to align.
_Y_UP_TO_Z_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])


@dataclass
class _Problem:
    """Inputs of one fit, in the slot order of the mapped joints."""

    target_index: np.ndarray  # (K,) target joint of each slot
    output_index: np.ndarray  # (K,) smplx output joint of each slot
    targets: np.ndarray  # (T, K, 3), zeros where missing
    valid: np.ndarray  # (T, K) bool
    weights: np.ndarray  # (T, K) data weights (0 where missing)
    num_target_joints: int
    timings: dict[str, float] = field(default_factory=dict)
    cpu_timings: dict[str, float] = field(default_factory=dict)
    iterations: dict[str, int] = field(default_factory=dict)


def fit_smplh(
    target_joints: np.ndarray,
    valid: np.ndarray | None,
    joint_map: Sequence[tuple[int, int]] | np.ndarray,
    body_model: BodyModel,
    options: FitOptions | None = None,
) -> FitResult:
    """Fit an SMPL-H motion to a 3D skeleton sequence.

    Args:
        target_joints: (T, J, 3) joint positions, world Z-up, metres. NaN marks
            a missing joint as well.
        valid: (T, J) bool, False where a joint (or a whole frame) is missing;
            None means every finite joint is valid.
        joint_map: (target_index, smplx_output_index) pairs, or a (J,) array of
            indices into smplx's 73 output joints (-1: leave that joint out).
        body_model: the SMPL-H model to fit (its gender's).
        options: fitting settings; defaults suit 20-30 fps Kinect skeletons.

    Returns:
        The fitted AMASS-layout motion and its error statistics.
    """
    options = options or FitOptions()
    problem = _prepare(target_joints, valid, joint_map, options.joint_weights)
    with _torch_threads(options.num_threads):
        kin = SmplhKinematics(body_model, problem.output_index)
        betas, shape_summary = _timed(problem, "shape", lambda: _stage_shape(kin, problem, options))
        variables = _timed(problem, "global", lambda: _stage_global(kin, problem, betas, options))
        _timed(problem, "limbs", lambda: _stage_limbs(kin, problem, variables))
        terms = _timed(problem, "body", lambda: _stage_body(kin, problem, variables, options))
        return _result(kin, problem, variables, body_model, terms, shape_summary)


# --------------------------------------------------------------------------- inputs


def _prepare(
    target_joints: np.ndarray,
    valid: np.ndarray | None,
    joint_map: Sequence[tuple[int, int]] | np.ndarray,
    joint_weights: Sequence[float] | None,
) -> _Problem:
    """Check shapes, resolve the joint map, and zero (and invalidate) missing entries."""
    targets = np.asarray(target_joints, dtype=np.float64)
    if targets.ndim != 3 or targets.shape[2] != 3 or targets.shape[0] == 0:
        raise ValueError(f"target_joints must have shape (T, J, 3) with T > 0, got {targets.shape}")
    t, j, _ = targets.shape
    ok = np.ones((t, j), dtype=bool) if valid is None else np.asarray(valid, dtype=bool)
    if ok.shape != (t, j):
        raise ValueError(f"valid must have shape {(t, j)}, got {ok.shape}")
    ok = ok & np.isfinite(targets).all(-1)
    target_index, output_index = _resolve_joint_map(joint_map, j)
    sub_valid = ok[:, target_index]
    if not sub_valid.any():
        raise ValueError("no valid target joint to fit")
    sub = np.where(sub_valid[..., None], targets[:, target_index], 0.0)
    weights = sub_valid.astype(np.float64)
    if joint_weights is not None:
        per_joint = np.asarray(joint_weights, dtype=np.float64)
        if per_joint.shape != (j,):
            raise ValueError(f"joint_weights must have shape ({j},), got {per_joint.shape}")
        weights = weights * per_joint[target_index]
    return _Problem(target_index, output_index, sub, sub_valid, weights, j)


def _resolve_joint_map(
    joint_map: Sequence[tuple[int, int]] | np.ndarray, num_targets: int
) -> tuple[np.ndarray, np.ndarray]:
    """(target indices, smplx output indices) of the mapped joints."""
    array = np.asarray(joint_map, dtype=np.int64)
    if array.ndim == 1:
        if array.shape[0] != num_targets:
            raise ValueError(f"a joint-map array needs one entry per target joint ({num_targets})")
        array = np.stack([np.arange(num_targets), array], axis=1)
    if array.ndim != 2 or array.shape[1] != 2:
        raise ValueError("joint_map must be (target, smplx) pairs or a (J,) index array")
    array = array[array[:, 1] >= 0]
    if array.size == 0:
        raise ValueError("joint_map maps no joint")
    if array[:, 0].min() < 0 or array[:, 0].max() >= num_targets:
        raise ValueError(f"joint_map target indices must lie in 0..{num_targets - 1}")
    if array[:, 1].max() >= NUM_OUTPUT_JOINTS:
        raise ValueError(f"joint_map smplx indices must lie in 0..{NUM_OUTPUT_JOINTS - 1}")
    return array[:, 0], array[:, 1]


@contextmanager
def _torch_threads(count: int | None) -> Iterator[None]:
    previous = torch.get_num_threads()
    if count:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _timed(problem: _Problem, stage: str, run: Callable[[], T]) -> T:
    """Run one stage, recording its wall time and the process's CPU time."""
    start, cpu_start = time.perf_counter(), time.process_time()
    out = run()
    problem.timings[stage] = time.perf_counter() - start
    problem.cpu_timings[stage] = time.process_time() - cpu_start
    return out


# --------------------------------------------------------------------------- stages


def _stage_shape(kin: SmplhKinematics, problem: _Problem, options: FitOptions) -> tuple[np.ndarray, dict]:
    """Stage 1: starting betas, from the options and/or the bone lengths."""
    betas = np.zeros(kin.num_betas)
    if options.betas is not None:
        given = np.asarray(options.betas, dtype=np.float64).ravel()[: kin.num_betas]
        betas[: given.size] = given
    if not options.estimate_shape:
        problem.iterations["shape"] = 0
        return betas, {}
    estimated, summary = estimate_betas(
        kin, problem.targets, problem.valid, options.shape_prior_weight, options.shape_iterations
    )
    problem.iterations["shape"] = int(summary.pop("iterations", 0))
    return estimated, summary


def _stage_global(
    kin: SmplhKinematics, problem: _Problem, betas: np.ndarray, options: FitOptions
) -> objective.Variables:
    """Stage 2: align the root to the torso, refine root and translation, then the trunk."""
    root, trans = _initial_root(kin, problem, betas)
    variables = objective.Variables(
        torch.from_numpy(root),
        torch.from_numpy(trans),
        torch.from_numpy(_initial_body_pose(len(trans), options)),
        torch.from_numpy(betas),
    )
    torso = np.isin(problem.output_index, list(TORSO_JOINTS))
    weights = torch.from_numpy(problem.weights * torso)
    targets = torch.from_numpy(problem.targets)
    priors = options.prior_weights()

    def loss() -> torch.Tensor:
        root = variables.root_rot()
        posed = kin(root, variables.body_pose, variables.trans, variables.betas)
        data = objective.data_term(posed.points, targets, weights, options.robust_sigma)
        # Only torso joints are matched here, so the limbs feel nothing but the priors.
        terms = objective.pose_priors(posed, variables.body_pose, priors)
        terms.update(objective.smoothness(posed, variables.body_pose, root, priors))
        return data + sum(terms.values())

    rigid = [variables.root_delta, variables.trans]
    count = _minimise(rigid, loss, options.global_iterations, options.tolerance)
    count += _minimise(rigid + [variables.body_pose], loss, options.global_iterations, options.tolerance)
    problem.iterations["global"] = count
    return variables


def _stage_limbs(kin: SmplhKinematics, problem: _Problem, variables: objective.Variables) -> None:
    """Between stages 2 and 3: start arms and legs from their analytic (IK) poses."""
    with torch.no_grad():
        posed = kin(variables.root_rot(), variables.body_pose, variables.trans, variables.betas)
        rest = kin.rest_joints(variables.betas).numpy()
        joint_targets = {}
        for slot, joint in enumerate(problem.output_index):
            if joint < NUM_BODY_POSE_JOINTS + 1 and int(joint) not in joint_targets:
                joint_targets[int(joint)] = (problem.targets[:, slot], problem.valid[:, slot])
        pose = initial_limb_poses(variables.body_pose.numpy(), posed.global_rots.numpy(), rest, joint_targets)
        variables.body_pose.copy_(torch.from_numpy(pose))


def _stage_body(
    kin: SmplhKinematics, problem: _Problem, variables: objective.Variables, options: FitOptions
) -> dict[str, float]:
    """Stage 3: every variable against every mapped joint; returns the final loss terms."""
    weights = torch.from_numpy(problem.weights)
    targets = torch.from_numpy(problem.targets)
    priors = options.prior_weights()

    def terms() -> dict[str, torch.Tensor]:
        root = variables.root_rot()
        posed = kin(root, variables.body_pose, variables.trans, variables.betas)
        out = {"data": objective.data_term(posed.points, targets, weights, options.robust_sigma)}
        out.update(objective.pose_priors(posed, variables.body_pose, priors))
        out.update(objective.smoothness(posed, variables.body_pose, root, priors))
        out.update(objective.shape_prior(variables.betas, priors))
        return out

    params = [variables.root_delta, variables.trans, variables.body_pose]
    if options.refine_betas:
        params.append(variables.betas)

    def loss() -> torch.Tensor:
        return functools.reduce(operator.add, terms().values())

    problem.iterations["body"] = _minimise(params, loss, options.body_iterations, options.tolerance)
    with torch.no_grad():
        return {name: float(value) for name, value in terms().items()}


def _minimise(
    params: Sequence[torch.Tensor], loss_fn: Callable[[], torch.Tensor], iterations: int, tolerance: float
) -> int:
    """Run L-BFGS (strong Wolfe line search); returns the iterations it took."""
    if iterations <= 0:
        return 0
    optimizer = torch.optim.LBFGS(
        params,
        lr=1.0,
        max_iter=iterations,
        history_size=30,
        line_search_fn="strong_wolfe",
        tolerance_grad=1e-12,
        tolerance_change=tolerance,
    )

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = loss_fn()
        loss.backward()
        return loss

    optimizer.step(closure)
    return int(optimizer.state_dict()["state"][0]["n_iter"])


# --------------------------------------------------------------------------- initial values


def _initial_body_pose(num_frames: int, options: FitOptions) -> np.ndarray:
    """(T, 21, 3) zero pose with slightly bent knees and elbows (see FitOptions)."""
    pose = np.zeros((num_frames, NUM_BODY_POSE_JOINTS, 3))
    for knee in objective.KNEES:
        pose[:, knee - 1, 0] = options.init_knee_flexion  # flexion is +X
    for elbow, sign in zip(objective.ELBOWS, (-1.0, 1.0), strict=True):
        pose[:, elbow - 1, 1] = sign * options.init_elbow_flexion  # -Y left, +Y right
    return pose


def _initial_root(kin: SmplhKinematics, problem: _Problem, betas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame root rotation and translation from a Kabsch fit of the torso.

    Frames with fewer than three torso joints take the rotation of the nearest
    frame that has them, and a translation interpolated over time.
    """
    with torch.no_grad():
        rest = kin.rest_points(torch.from_numpy(betas)).numpy()
        pelvis = kin.rest_joints(torch.from_numpy(betas))[0].numpy()
    torso = np.flatnonzero(np.isin(problem.output_index, list(TORSO_JOINTS)))
    w = problem.valid[:, torso].astype(np.float64)
    good = w.sum(1) >= 3
    n = len(w)
    if not good.any():
        return np.repeat(_Y_UP_TO_Z_UP[None], n, 0), np.zeros((n, 3))
    rot = kabsch_rotations(rest[torso], problem.targets[:, torso], np.where(good[:, None], w, 1.0))
    nearest = nearest_true(good)
    rot = rot[nearest]
    wn = w / np.maximum(w.sum(1, keepdims=True), 1e-12)
    model_mean = wn @ rest[torso]
    target_mean = np.einsum("tn,tnk->tk", wn, problem.targets[:, torso])
    # Posed point = R (m - J0) + J0 + trans, and the means must coincide.
    trans = target_mean - np.einsum("tab,tb->ta", rot, model_mean - pelvis) - pelvis
    frames = np.arange(n)
    trans = np.stack([np.interp(frames, frames[good], trans[good, k]) for k in range(3)], axis=1)
    return rot, trans


# --------------------------------------------------------------------------- result


def _result(
    kin: SmplhKinematics,
    problem: _Problem,
    variables: objective.Variables,
    body_model: BodyModel,
    terms: dict[str, float],
    shape_summary: dict,
) -> FitResult:
    with torch.no_grad():
        root = variables.root_rot()
        posed = kin(root, variables.body_pose, variables.trans, variables.betas)
        knee, elbow = objective.flexion_angles(posed.local_rots)
    n = root.shape[0]
    poses = np.zeros((n, POSE_WIDTH))
    poses[:, :3] = matrix_to_axis_angle_np(root.numpy())
    body = variables.body_pose.detach().numpy()
    # Canonical axis-angle (angle <= pi) for the rare joint that wound past it.
    poses[:, 3 : 3 + 3 * NUM_BODY_POSE_JOINTS] = matrix_to_axis_angle_np(axis_angle_to_matrix_np(body)).reshape(n, -1)
    betas = np.zeros(max(NUM_BETAS, kin.num_betas))
    betas[: kin.num_betas] = variables.betas.detach().numpy()
    points = np.full((n, problem.num_target_joints, 3), np.nan)
    points[:, problem.target_index] = posed.points.numpy()
    targets = np.full_like(points, np.nan)
    targets[:, problem.target_index] = np.where(problem.valid[..., None], problem.targets, np.nan)
    return FitResult(
        poses=poses,
        trans=variables.trans.detach().numpy().copy(),
        betas=betas,
        gender=body_model.gender,
        fitted_joints=points,
        model_joints=posed.joints.numpy().copy(),
        errors=fit_errors(points, targets),
        iterations=dict(problem.iterations),
        seconds=dict(problem.timings),
        cpu_seconds=dict(problem.cpu_timings),
        loss_terms=terms,
        shape_summary=shape_summary,
        knee_flexion=knee.numpy().copy(),
        elbow_flexion=elbow.numpy().copy(),
    )
