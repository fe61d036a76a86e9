"""The fitting objective: a data term plus anatomical and temporal priors.

Every term is a per-frame sum averaged over frames, so the weights mean the
same thing for a 30-frame clip and a 3000-frame one. Positions are in metres
and angles in radians; smoothness terms use plain frame differences, so their
weights assume a frame rate near the 20-30 fps of Kinect-era datasets.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from synthact.body.skeleton import JOINT_NAMES
from synthact.fitting.kinematics import NUM_BODY_POSE_JOINTS, PosedPoints
from synthact.fitting.rotations import axis_angle_to_matrix

_J = {name: i for i, name in enumerate(JOINT_NAMES)}
KNEES = (_J["left_knee"], _J["right_knee"])
ELBOWS = (_J["left_elbow"], _J["right_elbow"])
BODY_JOINTS = NUM_BODY_POSE_JOINTS + 1  # pelvis and the 21 posed body joints


@dataclass(frozen=True)
class PriorWeights:
    """Weights of the regularisers (see ``FitOptions`` for their meaning)."""

    pose: float
    hinge_limit: float
    hinge_axis: float
    joint_accel: float
    pose_velocity: float
    root_velocity: float
    betas: float
    knee_max: float
    elbow_max: float
    flexion_margin: float


class Variables(torch.nn.Module):
    """The optimised quantities, in the parameterisation the optimiser sees.

    The root orientation is a per-frame correction ``exp(delta)`` applied to a
    fixed initial rotation, so the optimised vector stays small and far from
    axis-angle's singularity at 180 degrees (a Z-up clip's root orientation
    is often near it).
    """

    root_init: torch.Tensor  # a buffer; declared so that type checkers see a Tensor

    def __init__(self, root_init: torch.Tensor, trans: torch.Tensor, body_pose: torch.Tensor, betas: torch.Tensor):
        super().__init__()
        self.register_buffer("root_init", root_init)
        self.root_delta = torch.nn.Parameter(torch.zeros_like(trans))
        self.trans = torch.nn.Parameter(trans.clone())
        self.body_pose = torch.nn.Parameter(body_pose.clone())
        self.betas = torch.nn.Parameter(betas.clone())

    def root_rot(self) -> torch.Tensor:
        """(T, 3, 3) global orientation."""
        return self.root_init @ axis_angle_to_matrix(self.root_delta)


def gmof(squared: torch.Tensor, sigma: float | None) -> torch.Tensor:
    """Geman-McClure robust cost of squared residuals (identity when ``sigma`` is None).

    Close to the squared residual below ``sigma``, bounded by ``sigma^2`` above,
    so a few wild Kinect joints cannot drag the whole body.
    """
    if sigma is None:
        return squared
    s2 = sigma * sigma
    return s2 * squared / (s2 + squared)


def data_term(points: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor, sigma: float | None) -> torch.Tensor:
    """Weighted robust distance of model points to targets; missing entries have weight 0."""
    squared = ((points - targets) ** 2).sum(-1)
    return (weights * gmof(squared, sigma)).sum() / points.shape[0]


def flexion_angles(local_rots: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Knee and elbow flexion (T, 2) each, in radians; positive bends the natural way.

    Measured from where each joint's rotation sends its rest bone direction:
    the shin (-Y) swings back (-Z) when the knee flexes; the left forearm (+X)
    and the right forearm (-X) swing forward (+Z) when the elbow flexes.
    """
    knee = local_rots[:, list(KNEES)]
    knee_flex = torch.atan2(knee[..., 2, 1], knee[..., 1, 1])
    elbow = local_rots[:, list(ELBOWS)]
    side = torch.tensor([1.0, -1.0], dtype=elbow.dtype)
    elbow_flex = torch.atan2(side * elbow[..., 2, 0], elbow[..., 0, 0])
    return knee_flex, elbow_flex


def _outside(angle: torch.Tensor, low: float, high: float) -> torch.Tensor:
    """Sum of squared distances of angles outside ``[low, high]``."""
    return (torch.relu(low - angle) ** 2 + torch.relu(angle - high) ** 2).sum()


def pose_priors(posed: PosedPoints, body_pose: torch.Tensor, w: PriorWeights) -> dict[str, torch.Tensor]:
    """Per-frame anatomical priors, averaged over frames."""
    n = body_pose.shape[0]
    knee_flex, elbow_flex = flexion_angles(posed.local_rots)
    margin = w.flexion_margin
    # Knees and elbows bend one way only: penalise bending the other way
    # (and past the anatomical maximum) with a one-sided quadratic.
    limit = _outside(knee_flex, margin, w.knee_max) + _outside(elbow_flex, margin, w.elbow_max)
    # They are hinges: the knee's axis is X; the elbow's is Y, with twist about X free.
    knees = body_pose[:, [k - 1 for k in KNEES]]
    elbows = body_pose[:, [e - 1 for e in ELBOWS]]
    off_axis = (knees[..., 1:] ** 2).sum() + (elbows[..., 2] ** 2).sum()
    return {
        "pose": w.pose * (body_pose**2).sum() / n,
        "hinge_limit": w.hinge_limit * limit / n,
        "hinge_axis": w.hinge_axis * off_axis / n,
    }


def smoothness(
    posed: PosedPoints, body_pose: torch.Tensor, root_rot: torch.Tensor, w: PriorWeights
) -> dict[str, torch.Tensor]:
    """Temporal priors: joint acceleration and pose velocity, averaged over frames."""
    n = body_pose.shape[0]
    zero = body_pose.new_zeros(())
    joints = posed.joints[:, :BODY_JOINTS]
    accel = (joints[2:] - 2 * joints[1:-1] + joints[:-2]).pow(2).sum() if n > 2 else zero
    pose_vel = (body_pose[1:] - body_pose[:-1]).pow(2).sum() if n > 1 else zero
    root_vel = (root_rot[1:] - root_rot[:-1]).pow(2).sum() if n > 1 else zero
    return {
        "joint_accel": w.joint_accel * accel / n,
        "pose_velocity": w.pose_velocity * pose_vel / n,
        "root_velocity": w.root_velocity * root_vel / n,
    }


def shape_prior(betas: torch.Tensor, w: PriorWeights) -> dict[str, torch.Tensor]:
    """L2 prior on the shape coefficients (not per frame: the clip has one body)."""
    return {"betas": w.betas * (betas**2).sum()}
