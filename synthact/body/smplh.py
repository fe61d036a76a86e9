"""Pose the SMPL-H body with smplx, all frames of a clip in one batch.

smplx 0.1.28 silently keeps only 10 of AMASS's 16 shape coefficients for
SMPL+H (smplx issue 109). ``BodyModel`` restores every shape component the
model file has, so the betas stored in a motion file are used in full.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from synthact.body import model_files
from synthact.body.skeleton import NUM_JOINTS, POSE_WIDTH


@dataclass(frozen=True)
class PosedBody:
    """Posed meshes and joints, world coordinates (Z-up, metres)."""

    vertices: np.ndarray  # (T, V, 3) float32
    joints: np.ndarray  # (T, 73, 3) float32: 52 joints + 21 landmarks


class BodyModel:
    """One SMPL-H model (one gender), ready to pose batches of frames."""

    def __init__(self, model_path: str | Path, gender: str = "neutral", device: str = "cpu"):
        import smplx

        self.path, arrays = model_files.load_smplh_arrays(model_path, gender)
        self.gender = gender
        self.device = torch.device(device)
        self.num_betas = arrays["shapedirs"].shape[-1]
        # smplx prints "only 10 shape coefficients" here; that is no longer
        # true once the full shapedirs are restored below, so keep it quiet.
        with contextlib.redirect_stdout(io.StringIO()):
            self._model = self._build_layer(smplx, arrays)
        # Undo smplx's silent cap at 10 betas: keep every component of the file.
        self._model.register_buffer(
            "shapedirs",
            torch.tensor(np.asarray(arrays["shapedirs"]), dtype=torch.float32, device=self.device),
        )
        self._model._num_betas = self.num_betas
        self.faces = np.asarray(arrays["f"], dtype=np.int64)
        self.lbs_weights = np.asarray(arrays["weights"], dtype=np.float32)

    def _build_layer(self, smplx: Any, arrays: dict) -> Any:  # smplx (untyped) and its SMPLH layer
        return smplx.SMPLH(
            model_path=str(self.path),
            data_struct=model_files.as_struct(arrays),
            num_betas=self.num_betas,
            use_pca=False,
            flat_hand_mean=True,
            batch_size=1,
        ).to(self.device)

    @property
    def smplx_layer(self) -> Any:
        """The underlying ``smplx.SMPLH`` (all 16 shape components restored).

        For differentiable use, e.g. fitting; ``pose`` is the inference path.
        """
        return self._model

    @torch.no_grad()
    def pose(self, poses: np.ndarray, trans: np.ndarray, betas: np.ndarray) -> PosedBody:
        """Pose T frames at once.

        Args:
            poses: (T, 156) axis-angle, AMASS SMPL+H order.
            trans: (T, 3) AMASS translation (pelvis = J0(betas) + trans).
            betas: (B,) shape coefficients; zero-padded or cut to the model's count.
        """
        poses = np.asarray(poses, dtype=np.float32)
        if poses.ndim != 2 or poses.shape[1] != POSE_WIDTH:
            raise ValueError(f"poses must have shape (T, {POSE_WIDTH}), got {poses.shape}")
        n = poses.shape[0]
        p = torch.from_numpy(poses).to(self.device)
        out = self._model(
            global_orient=p[:, 0:3],
            body_pose=p[:, 3:66],
            left_hand_pose=p[:, 66:111],
            right_hand_pose=p[:, 111:156],
            betas=self._betas(betas).expand(n, -1),
            transl=torch.from_numpy(np.asarray(trans, dtype=np.float32)).to(self.device),
            return_verts=True,
        )
        return PosedBody(
            vertices=out.vertices.cpu().numpy().astype(np.float32),
            joints=out.joints.cpu().numpy().astype(np.float32),
        )

    @torch.no_grad()
    def rest_joints(self, betas: np.ndarray) -> np.ndarray:
        """The 52 rest-pose joints for these betas, template space (J(betas))."""
        b = self._betas(betas)
        v_shaped = self._model.v_template + torch.einsum("bl,mkl->bmk", b, self._model.shapedirs)
        return torch.einsum("jv,bvk->bjk", self._model.J_regressor, v_shaped)[0, :NUM_JOINTS].cpu().numpy()

    def _betas(self, betas: np.ndarray) -> torch.Tensor:
        b = np.zeros(self.num_betas, dtype=np.float32)
        given = np.asarray(betas, dtype=np.float32).ravel()[: self.num_betas]
        b[: given.size] = given
        return torch.from_numpy(b).to(self.device)[None]
