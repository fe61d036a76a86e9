"""Settings of the SMPL-H skeleton fit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from synthact.fitting.objective import PriorWeights


@dataclass(frozen=True)
class FitOptions:
    """Settings of :func:`fit_smplh`. Weights are relative to the data term,
    which is a per-frame sum of squared joint distances in metres.

    Attributes:
        shape_iterations: L-BFGS iterations of stage 1 (bone lengths to betas).
        global_iterations: L-BFGS iterations of each of stage 2's two passes
            (root and translation, then with the trunk).
        body_iterations: L-BFGS iterations of stage 3 (full pose).
        estimate_shape: run stage 1; otherwise start from ``betas`` (or zeros).
        refine_betas: let stage 3 adjust the betas too.
        betas: the shape to use when ``estimate_shape`` is off (fixed if
            ``refine_betas`` is off too); ignored by the bone-length estimate.
        robust_sigma: Geman-McClure scale in metres; None for plain least squares.
        joint_weights: optional (J,) weight per target joint.
        pose_weight: L2 prior on the body axis-angles.
        hinge_limit_weight: one-sided penalty on knees and elbows bending backwards
            (or past ``knee_max`` / ``elbow_max``).
        hinge_axis_weight: penalty on knee and elbow rotation off their hinge axis.
        flexion_margin: flexion (radians) below which the hinge penalty starts, so
            fitted knees and elbows stay at or above zero flexion.
        joint_accel_weight: squared second differences of the 22 body joints;
            raise it for noisy skeletons (it trades lag for smoothness).
        pose_velocity_weight: squared first differences of the body axis-angles.
        root_velocity_weight: squared first differences of the root rotation matrix.
        shape_prior_weight: L2 prior on betas in stage 1 (against squared length errors).
        betas_weight: L2 prior on betas in stage 3.
        init_knee_flexion: starting knee flexion; a slight bend tells the optimiser
            which way the knee folds (a straight joint has no twist gradient).
        init_elbow_flexion: starting elbow flexion, for the same reason.
        num_threads: torch CPU threads during the fit (the process-wide setting is
            restored afterwards). One is fastest for these small tensors; fit
            clips in parallel processes instead. None leaves torch's setting.
        tolerance: L-BFGS stops when the loss changes by less than this.
    """

    shape_iterations: int = 50
    global_iterations: int = 30
    body_iterations: int = 200
    estimate_shape: bool = True
    refine_betas: bool = True
    betas: Sequence[float] | None = None
    robust_sigma: float | None = 0.1
    joint_weights: Sequence[float] | None = None
    pose_weight: float = 1e-4
    hinge_limit_weight: float = 100.0
    hinge_axis_weight: float = 1e-2
    flexion_margin: float = float(np.deg2rad(1.0))
    knee_max: float = float(np.deg2rad(160.0))
    elbow_max: float = float(np.deg2rad(155.0))
    joint_accel_weight: float = 0.3
    pose_velocity_weight: float = 1e-3
    root_velocity_weight: float = 1e-3
    shape_prior_weight: float = 1e-5
    betas_weight: float = 1e-4
    init_knee_flexion: float = 0.2
    init_elbow_flexion: float = 0.3
    num_threads: int | None = 1
    tolerance: float = 1e-10

    def prior_weights(self) -> PriorWeights:
        """The regulariser weights as the objective takes them."""
        return PriorWeights(
            pose=self.pose_weight,
            hinge_limit=self.hinge_limit_weight,
            hinge_axis=self.hinge_axis_weight,
            joint_accel=self.joint_accel_weight,
            pose_velocity=self.pose_velocity_weight,
            root_velocity=self.root_velocity_weight,
            betas=self.betas_weight,
            knee_max=self.knee_max,
            elbow_max=self.elbow_max,
            flexion_margin=self.flexion_margin,
        )
