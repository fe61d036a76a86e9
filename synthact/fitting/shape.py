"""Stage 1 of fitting: body shape (betas) from the target skeleton's bone lengths.

Bone lengths do not depend on the pose, so the median length of each target
bone over the clip is a robust, pose-free measurement of the body's
proportions. Each target joint is paired with its nearest mapped ancestor in
the SMPL-H tree; the betas whose rest-pose distances match those medians best
(under an L2 prior) are the shape estimate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from synthact.body.skeleton import PARENTS
from synthact.fitting.kinematics import NUM_BODY_POSE_JOINTS, SmplhKinematics

# A distance through an unobserved body joint (say spine1 to spine3, over
# spine2) changes with that joint's rotation: trust it less.
NON_RIGID_WEIGHT = 0.25


@dataclass(frozen=True)
class Segment:
    """A pair of mapped outputs whose distance measures the shape."""

    child: int  # slot in the mapped outputs
    parent: int  # slot of its nearest mapped ancestor
    weight: float  # 1 for a rigid distance, less when a free joint lies between


def target_segments(output_indices: np.ndarray, anchors: np.ndarray) -> list[Segment]:
    """Pair every mapped output with its nearest mapped ancestor.

    Args:
        output_indices: (K,) smplx output index of each slot (joints < 52, landmarks above).
        anchors: (K,) the joint each slot moves with (itself for a joint).
    """
    slot_of_joint: dict[int, int] = {}
    for slot, index in enumerate(output_indices):
        if index < len(PARENTS):
            slot_of_joint.setdefault(int(index), slot)
    segments = []
    for slot, (index, anchor) in enumerate(zip(output_indices, anchors, strict=True)):
        is_joint = index < len(PARENTS)
        # A joint's own rotation does not change its distance to an ancestor; a
        # landmark's anchor rotation does, so the search starts one step lower.
        joint = int(PARENTS[anchor]) if is_joint else int(anchor)
        between: list[int] = []
        while joint >= 0 and slot_of_joint.get(joint, slot) == slot:
            between.append(joint)
            joint = int(PARENTS[joint])
        if joint < 0:
            continue
        # Hand joints stay flat, so a path through them is rigid.
        rigid = all(j > NUM_BODY_POSE_JOINTS for j in between)
        segments.append(Segment(slot, slot_of_joint[joint], 1.0 if rigid else NON_RIGID_WEIGHT))
    return segments


def median_lengths(targets: np.ndarray, valid: np.ndarray, segments: list[Segment]) -> np.ndarray:
    """Median target length of each segment over frames where both ends are valid (NaN if none)."""
    out = np.full(len(segments), np.nan)
    for i, seg in enumerate(segments):
        both = valid[:, seg.child] & valid[:, seg.parent]
        if both.any():
            diff = targets[both, seg.child] - targets[both, seg.parent]
            out[i] = float(np.median(np.linalg.norm(diff, axis=-1)))
    return out


def estimate_betas(
    kinematics: SmplhKinematics,
    targets: np.ndarray,
    valid: np.ndarray,
    prior_weight: float,
    iterations: int = 50,
) -> tuple[np.ndarray, dict[str, float]]:
    """Betas whose rest-pose segment lengths match the target's median lengths.

    Args:
        kinematics: the differentiable model, with the slots' outputs.
        targets: (T, K, 3) target positions per slot.
        valid: (T, K) which entries are observed.
        prior_weight: weight of ``|betas|^2`` against the squared length errors (m^2).
        iterations: L-BFGS iterations (the problem is small and nearly linear).

    Returns:
        The betas (num_betas,) and a summary: segment count, RMS length error
        before (mean shape) and after, L-BFGS iterations.
    """
    segments = target_segments(kinematics.output_indices, kinematics.anchor_joints())
    lengths = median_lengths(targets, valid, segments)
    keep = [i for i, length in enumerate(lengths) if np.isfinite(length)]
    dtype = kinematics.joint_template.dtype
    betas = torch.zeros(kinematics.num_betas, dtype=dtype, requires_grad=True)
    if not keep:
        return betas.detach().numpy(), {"segments": 0, "iterations": 0}
    child = torch.as_tensor([segments[i].child for i in keep])
    parent = torch.as_tensor([segments[i].parent for i in keep])
    weight = torch.as_tensor([segments[i].weight for i in keep], dtype=dtype)
    goal = torch.as_tensor(lengths[keep], dtype=dtype)

    def length_error(b: torch.Tensor) -> torch.Tensor:
        rest = kinematics.rest_points(b)
        return (rest[child] - rest[parent]).norm(dim=-1) - goal

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = (weight * length_error(betas) ** 2).sum() + prior_weight * (betas**2).sum()
        loss.backward()
        return loss

    with torch.no_grad():
        before = float(length_error(betas).pow(2).mean().sqrt())
    optimizer = torch.optim.LBFGS([betas], lr=1.0, max_iter=iterations, line_search_fn="strong_wolfe")
    optimizer.step(closure)
    with torch.no_grad():
        after = float(length_error(betas).pow(2).mean().sqrt())
    summary = {
        "segments": len(keep),
        "rms_length_error_before_m": before,
        "rms_length_error_after_m": after,
        "iterations": int(optimizer.state_dict()["state"][0]["n_iter"]),
    }
    return betas.detach().numpy().copy(), summary
