"""A differentiable SMPL-H forward pass that computes only what fitting needs.

``BodyModel.pose`` runs smplx under ``no_grad`` and skins all 6890 vertices.
Fitting needs gradients, and only the 52 joints plus the few landmark vertices
(finger tips, toes, ...) that a target skeleton names, so this module poses
those directly from the smplx model's buffers. The maths is smplx's: joints
from the shaped template, pose blend shapes, then linear blend skinning.
Hands stay flat, so their pose blend shapes are zero and are skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from synthact.body.skeleton import NUM_JOINTS, NUM_OUTPUT_JOINTS, PARENTS
from synthact.body.smplh import BodyModel
from synthact.fitting.rotations import axis_angle_to_matrix

NUM_BODY_POSE_JOINTS = 21  # joints 1..21: the body pose of AMASS's layout
_POSE_FEATURE_WIDTH = 9 * NUM_BODY_POSE_JOINTS


@dataclass(frozen=True)
class PosedPoints:
    """Output of one forward pass (all tensors share the batch of T frames)."""

    joints: torch.Tensor  # (T, 52, 3) world positions
    points: torch.Tensor  # (T, K, 3) the requested smplx output joints
    local_rots: torch.Tensor  # (T, 22, 3, 3) root and body rotations, local
    global_rots: torch.Tensor  # (T, 52, 3, 3) world rotation of every joint


class SmplhKinematics(torch.nn.Module):
    """Differentiable joints and landmarks of one SMPL-H model.

    Args:
        body_model: the loaded model; its smplx buffers are copied, not shared.
        output_indices: indices into smplx's 73 output joints that the caller
            wants back as ``points``.
        dtype: computation dtype (float64 keeps L-BFGS line searches stable).
    """

    # Buffers, registered in _register_model_buffers and __init__; declared so that
    # type checkers see Tensors (Module.__getattr__ says Tensor | Module).
    joint_template: torch.Tensor
    joint_shapedirs: torch.Tensor
    vert_template: torch.Tensor
    vert_shapedirs: torch.Tensor
    vert_posedirs: torch.Tensor
    vert_weights: torch.Tensor
    pose_mean: torch.Tensor
    _ancestors: torch.Tensor

    def __init__(self, body_model: BodyModel, output_indices: np.ndarray, dtype: torch.dtype = torch.float64):
        super().__init__()
        smpl = body_model.smplx_layer
        idx = np.asarray(output_indices, dtype=np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= NUM_OUTPUT_JOINTS):
            raise ValueError(f"output indices must lie in 0..{NUM_OUTPUT_JOINTS - 1}")
        self.num_betas = int(body_model.num_betas)
        self.output_indices = idx
        landmark_ids = smpl.vertex_joint_selector.extra_joints_idxs.cpu().numpy()
        # Every requested landmark becomes one skinned vertex.
        self._landmark_slots = np.flatnonzero(idx >= NUM_JOINTS)
        vert_ids = landmark_ids[idx[self._landmark_slots] - NUM_JOINTS]
        self._register_model_buffers(smpl, vert_ids, dtype)
        body = NUM_BODY_POSE_JOINTS + 1
        self._levels = _tree_levels(PARENTS[:body])
        order = np.concatenate([[0]] + [j.numpy() for j, _ in self._levels])
        self._level_inverse = torch.as_tensor(np.argsort(order))
        self._parent_index = torch.as_tensor(np.maximum(PARENTS, 0))
        self._hand_wrist = torch.as_tensor(_wrist_of_hand_joints())
        self.register_buffer("_ancestors", torch.as_tensor(_ancestor_table(), dtype=dtype))
        # Landmark l sits at row 52 + l of cat([joints, landmarks]).
        slots = idx.copy()
        slots[self._landmark_slots] = NUM_JOINTS + np.arange(self._landmark_slots.size)
        self._output_slots = torch.as_tensor(slots)

    def _register_model_buffers(self, smpl: Any, vert_ids: np.ndarray, dtype: torch.dtype) -> None:
        # smpl: an smplx.SMPLH; Any, since Module.__getattr__ types its buffers as Tensor | Module.
        def buf(name: str, value: torch.Tensor) -> None:
            self.register_buffer(name, value.detach().to(dtype=dtype, device="cpu").clone())

        v_template = smpl.v_template
        shapedirs = smpl.shapedirs[..., : self.num_betas]
        j_reg = smpl.J_regressor[:NUM_JOINTS]
        # Joints are linear in betas: precompute the template joints and their shape basis.
        buf("joint_template", j_reg @ v_template)
        buf("joint_shapedirs", torch.einsum("jv,vkl->jkl", j_reg, shapedirs))
        ids = torch.as_tensor(vert_ids, dtype=torch.long)
        buf("vert_template", v_template[ids])
        buf("vert_shapedirs", shapedirs[ids])
        posedirs = smpl.posedirs.reshape(smpl.posedirs.shape[0], -1, 3)  # (459, V, 3)
        buf("vert_posedirs", posedirs[:_POSE_FEATURE_WIDTH, ids])
        buf("vert_weights", smpl.lbs_weights[ids, :NUM_JOINTS])
        pose_mean = getattr(smpl, "pose_mean", None)
        # With flat_hand_mean=True the mean pose is zero; keep it general anyway.
        mean = torch.zeros(3 * NUM_JOINTS) if pose_mean is None else pose_mean.reshape(-1)
        buf("pose_mean", mean[: 3 * (NUM_BODY_POSE_JOINTS + 1)])
        if bool(mean[3 * (NUM_BODY_POSE_JOINTS + 1) :].abs().max() > 0):
            raise ValueError("the fitter keeps hands flat and needs a model with flat_hand_mean=True")

    # ------------------------------------------------------------------ shape

    def anchor_joints(self) -> np.ndarray:
        """(K,) the joint each requested output moves with: itself, or a landmark's main skinning joint."""
        anchors = np.minimum(self.output_indices, NUM_JOINTS - 1).copy()
        if self._landmark_slots.size:
            anchors[self._landmark_slots] = self.vert_weights.argmax(dim=1).numpy()
        return anchors

    def rest_joints(self, betas: torch.Tensor) -> torch.Tensor:
        """(52, 3) rest joints, template space, for ``betas`` (num_betas,)."""
        return self.joint_template + self.joint_shapedirs @ betas

    def rest_points(self, betas: torch.Tensor) -> torch.Tensor:
        """(K, 3) rest positions of the requested outputs (zero pose, no translation)."""
        verts = self.vert_template + self.vert_shapedirs @ betas
        return self._gather_points(self.rest_joints(betas)[None], verts[None])[0]

    def _gather_points(self, joints: torch.Tensor, verts: torch.Tensor) -> torch.Tensor:
        """(T, K, 3) requested outputs from (T, 52, 3) joints and (T, L, 3) landmarks."""
        return torch.cat([joints, verts], dim=1).index_select(1, self._output_slots)

    # ------------------------------------------------------------------ pose

    def forward(
        self, root_rot: torch.Tensor, body_pose: torch.Tensor, trans: torch.Tensor, betas: torch.Tensor
    ) -> PosedPoints:
        """Pose T frames.

        Args:
            root_rot: (T, 3, 3) global orientation as matrices.
            body_pose: (T, 21, 3) axis-angle of joints 1..21.
            trans: (T, 3) AMASS translation (pelvis = J0(betas) + trans).
            betas: (num_betas,) shared by all frames.
        """
        pose = body_pose + self.pose_mean[3:].reshape(NUM_BODY_POSE_JOINTS, 3)
        body_rots = axis_angle_to_matrix(pose)
        local = torch.cat([root_rot[:, None], body_rots], dim=1)  # (T, 22, 3, 3)
        rest = self.rest_joints(betas)
        rots, joints = self._forward_kinematics(local, rest)
        verts = self._skin_landmarks(body_rots, rots, joints, rest, betas)
        points = self._gather_points(joints, verts)
        shift = trans[:, None]
        return PosedPoints(joints=joints + shift, points=points + shift, local_rots=local, global_rots=rots)

    def _forward_kinematics(self, local: torch.Tensor, rest: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Global rotations (T, 52, 3, 3) and positions (T, 52, 3), no translation.

        Rotations are chained one tree depth at a time (7 batched steps, not
        21); hands are flat, so every finger joint turns with its wrist.
        Positions then need no chaining: each joint is the root plus the sum of
        its ancestors' bones, each bone turned by its parent's rotation, which
        is one matrix product with the fixed ancestor table.
        """
        rot_levels = [local[:, :1]]
        for joints, parent_slots in self._levels:
            p_rot = rot_levels[-1].index_select(1, parent_slots)
            rot_levels.append(p_rot @ local.index_select(1, joints))
        body_rots = torch.cat(rot_levels, dim=1).index_select(1, self._level_inverse)
        rots = torch.cat([body_rots, body_rots.index_select(1, self._hand_wrist)], dim=1)
        bones = rest[1:] - rest.index_select(0, self._parent_index[1:])
        turned = (rots.index_select(1, self._parent_index[1:]) @ bones[None, :, :, None])[..., 0]
        return rots, rest[0] + self._ancestors @ turned

    def _skin_landmarks(
        self,
        body_rots: torch.Tensor,
        rots: torch.Tensor,
        joints: torch.Tensor,
        rest: torch.Tensor,
        betas: torch.Tensor,
    ) -> torch.Tensor:
        """Linear blend skinning of the requested landmark vertices, (T, K, 3)."""
        eye = torch.eye(3, dtype=body_rots.dtype)
        feature = (body_rots - eye).reshape(body_rots.shape[0], -1)  # (T, 189)
        offsets = torch.einsum("tp,pkc->tkc", feature, self.vert_posedirs)
        v_posed = self.vert_template + self.vert_shapedirs @ betas + offsets
        # Each joint moves a vertex by R_j (v - J_j) + x_j; blend those by the weights.
        shift = joints - (rots @ rest[None, :, :, None])[..., 0]
        blend_rot = torch.einsum("kj,tjab->tkab", self.vert_weights, rots)
        blend_shift = torch.einsum("kj,tja->tka", self.vert_weights, shift)
        return (blend_rot @ v_posed[..., None])[..., 0] + blend_shift


def _tree_levels(parents: np.ndarray) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Joints grouped by depth, each with the slots of its parents in the level above."""
    depth = np.zeros(len(parents), dtype=np.int64)
    for j in range(1, len(parents)):  # parents precede children
        depth[j] = depth[parents[j]] + 1
    levels = []
    previous = np.array([0])
    for d in range(1, depth.max() + 1):
        joints = np.flatnonzero(depth == d)
        slot_of = {int(j): s for s, j in enumerate(previous)}
        slots = np.array([slot_of[int(parents[j])] for j in joints])
        levels.append((torch.as_tensor(joints), torch.as_tensor(slots)))
        previous = joints
    return levels


def _wrist_of_hand_joints() -> np.ndarray:
    """(30,) the wrist (20 or 21) that each finger joint 22..51 hangs from."""
    body = NUM_BODY_POSE_JOINTS + 1
    wrists = []
    for j in range(body, NUM_JOINTS):
        while j >= body:
            j = int(PARENTS[j])
        wrists.append(j)
    return np.array(wrists)


def _ancestor_table() -> np.ndarray:
    """(52, 51) table: entry (j, b - 1) is 1 when bone b (joint b and its parent) lies on j's chain."""
    table = np.zeros((NUM_JOINTS, NUM_JOINTS - 1))
    for j in range(NUM_JOINTS):
        b = j
        while b > 0:
            table[j, b - 1] = 1.0
            b = int(PARENTS[b])
    return table
