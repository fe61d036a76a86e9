"""From an estimator's body (SMPL or SMPL-X, 10 betas) to SMPL-H's 16 betas, by fitting.

The betas of different models are coordinates in different shape spaces: padding
SMPL's 10 with zeros gives another body. Both models are linear in their betas
(rest vertices v = T + S b, rest joints J v), so the SMPL-H betas are *fitted*:

- ``vertices`` (SMPL: the same 6890-vertex mesh as SMPL-H): the betas whose
  rest mesh is nearest, vertex by vertex, to the estimator's rest mesh. Linear
  least squares with a small ridge, solved exactly (no iterations).
- ``joints`` (SMPL-X: another mesh): the project's bone-length shape fit
  (``synthact.fitting.shape.estimate_betas``) against the estimator body's first
  22 rest joints, which SMPL, SMPL-H and SMPL-X share by name and order. Bone
  lengths fix proportions, not girth: an approximation.

The estimator's body model is needed for that (it defines what its betas mean):
``motion.estimates.source_models_dir`` names the folder that holds
``smpl/SMPL_NEUTRAL.pkl`` (or ``.npz``) and, for GVHMR, ``smplx/SMPLX_NEUTRAL.npz``,
the files the estimators themselves load. Only ``v_template``, ``shapedirs`` and
``J_regressor`` are read. The pelvis offset J0(betas) of that body is also what
turns the estimator's translation into a pelvis position (``conversion``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from synthact.body.model_files import BodyModelError, read_body_model_arrays
from synthact.body.smplh import BodyModel
from synthact.fitting.estimates.records import EstimateError
from synthact.fitting.kinematics import SmplhKinematics
from synthact.fitting.options import FitOptions
from synthact.fitting.shape import estimate_betas

SOURCE_BETAS = 10  # what every estimator predicts
BODY_JOINTS = 22  # shared by SMPL, SMPL-H and SMPL-X
RIDGE = 1e-6  # keeps the vertex fit well posed; tiny against squared vertex errors (m^2)
_CANDIDATES = {
    "smpl": (
        "smpl/SMPL_NEUTRAL.pkl",
        "smpl/SMPL_NEUTRAL.npz",
        "SMPL_NEUTRAL.pkl",
        "SMPL_NEUTRAL.npz",
        "smpl/basicmodel_neutral_lbs_10_207_0_v1.1.0.pkl",
        "smpl/basicModel_neutral_lbs_10_207_0_v1.0.0.pkl",
    ),
    "smplx": ("smplx/SMPLX_NEUTRAL.npz", "smplx/SMPLX_NEUTRAL.pkl", "SMPLX_NEUTRAL.npz", "SMPLX_NEUTRAL.pkl"),
}


@dataclass(frozen=True, eq=False)
class SourceShape:
    """The linear shape space of an estimator's body model."""

    path: Path
    body: str
    v_template: np.ndarray  # (V, 3)
    shapedirs: np.ndarray  # (V, 3, 10)
    j_regressor: np.ndarray  # (22, V): the shared body joints only

    def rest_vertices(self, betas: np.ndarray) -> np.ndarray:
        return self.v_template + self.shapedirs @ _ten(betas)

    def rest_joints(self, betas: np.ndarray) -> np.ndarray:
        """(22, 3) rest joints for ``betas``."""
        return self.j_regressor @ self.rest_vertices(betas)


def _ten(betas: np.ndarray) -> np.ndarray:
    b = np.zeros(SOURCE_BETAS)
    given = np.asarray(betas, dtype=np.float64).ravel()[:SOURCE_BETAS]
    b[: given.size] = given
    return b


def find_source_model(models_dir: str | Path, body: str) -> Path:
    """The neutral SMPL or SMPL-X file under ``models_dir``; the error says where to put it."""
    folder = Path(models_dir) if models_dir else None
    if folder is None or not folder.is_dir():
        raise EstimateError(
            f"motion.estimates.source_models_dir: {str(folder) if folder else '(empty)'} is not a folder; the "
            f"estimates are {body.upper()} bodies, so point it at the folder with {_CANDIDATES[body][0]} "
            "(the body model your estimator used)"
        )
    for name in _CANDIDATES[body]:
        if (folder / name).is_file():
            return folder / name
    raise EstimateError(f"motion.estimates.source_models_dir: no {' or '.join(_CANDIDATES[body][:2])} under {folder}")


def load_source_shape(path: Path, body: str) -> SourceShape:
    """Read the shape space of an SMPL / SMPL-X file (plain or chumpy pickle, or npz)."""
    try:
        arrays = read_body_model_arrays(path)
    except BodyModelError as exc:
        raise EstimateError(str(exc)) from exc
    for key in ("v_template", "shapedirs", "J_regressor"):
        if key not in arrays:
            raise EstimateError(f"{path}: body model lacks key {key!r}")
    v = np.asarray(arrays["v_template"], dtype=np.float64)
    dirs = np.asarray(arrays["shapedirs"], dtype=np.float64)
    reg = np.asarray(arrays["J_regressor"], dtype=np.float64)
    if v.ndim != 2 or v.shape[1] != 3:
        raise EstimateError(f"{path}: key 'v_template' has shape {v.shape}, expected (V, 3)")
    if dirs.ndim != 3 or dirs.shape[:2] != v.shape or dirs.shape[2] < SOURCE_BETAS:
        raise EstimateError(f"{path}: key 'shapedirs' has shape {dirs.shape}, expected ({len(v)}, 3, >= 10)")
    if reg.ndim != 2 or reg.shape[1] != len(v) or reg.shape[0] < BODY_JOINTS:
        raise EstimateError(f"{path}: key 'J_regressor' has shape {reg.shape}, expected (>= 22, {len(v)})")
    # SMPL-X files put 10 (or 300) shape components first, then the expression ones.
    return SourceShape(path, body, v, dirs[..., :SOURCE_BETAS], reg[:BODY_JOINTS])


@dataclass(frozen=True)
class ShapeFit:
    """SMPL-H betas fitted to an estimator body, with what it cost and how close it came."""

    betas: np.ndarray  # (16,) or the SMPL-H model's count
    method: str  # vertices | joints | given
    rms_vertex_error_m: float | None
    rms_joint_error_m: float  # root-relative rest joints
    seconds: float

    def summary(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "rms_vertex_error_m": self.rms_vertex_error_m,
            "rms_joint_error_m": self.rms_joint_error_m,
            "seconds": round(self.seconds, 4),
        }


class SmplhShapeSpace:
    """SMPL-H's rest mesh and joints as linear functions of its betas (from the loaded model)."""

    def __init__(self, body: BodyModel):
        layer = body.smplx_layer
        self.body = body
        self.v_template = layer.v_template.detach().cpu().numpy().astype(np.float64)
        self.shapedirs = layer.shapedirs.detach().cpu().numpy().astype(np.float64)
        self.j_regressor = layer.J_regressor.detach().cpu().numpy().astype(np.float64)[:BODY_JOINTS]
        self.num_betas = self.shapedirs.shape[2]

    def rest_vertices(self, betas: np.ndarray) -> np.ndarray:
        return self.v_template + self.shapedirs @ betas

    def rest_joints(self, betas: np.ndarray) -> np.ndarray:
        return self.j_regressor @ self.rest_vertices(betas)

    def pelvis(self, betas: np.ndarray) -> np.ndarray:
        """J0(betas): pelvis = J0 + trans in AMASS's convention."""
        return self.rest_joints(betas)[0]


def fit_betas(space: SmplhShapeSpace, source: SourceShape, betas: np.ndarray, method: str = "auto") -> ShapeFit:
    """SMPL-H betas for the estimator body ``source`` with ``betas``.

    ``auto`` fits by vertices when the meshes match (SMPL), else by joints (SMPL-X).
    """
    started = time.perf_counter()
    same_mesh = source.v_template.shape == space.v_template.shape
    if method == "auto":
        method = "vertices" if same_mesh else "joints"
    if method == "vertices" and not same_mesh:
        raise EstimateError(
            f"{source.path}: fit by vertices needs SMPL-H's mesh ({len(space.v_template)} vertices), "
            f"this model has {len(source.v_template)}; use motion.estimates.shape_fit: joints"
        )
    target_vertices = source.rest_vertices(betas)
    target_joints = source.rest_joints(betas)
    fitted = _fit_vertices(space, target_vertices) if method == "vertices" else _fit_joints(space, target_joints)
    joints = space.rest_joints(fitted)
    joint_error = _rms((joints - joints[0]) - (target_joints - target_joints[0]))
    vertex_error = _rms(space.rest_vertices(fitted) - target_vertices) if same_mesh else None
    return ShapeFit(fitted, method, vertex_error, joint_error, time.perf_counter() - started)


def _fit_vertices(space: SmplhShapeSpace, target: np.ndarray) -> np.ndarray:
    a = space.shapedirs.reshape(-1, space.num_betas)
    y = (target - space.v_template).reshape(-1)
    return np.linalg.solve(a.T @ a + RIDGE * np.eye(space.num_betas), a.T @ y)


def _fit_joints(space: SmplhShapeSpace, target: np.ndarray) -> np.ndarray:
    """The skeleton fit's stage 1 (bone lengths) with the rest joints as a one-frame target."""
    kin = SmplhKinematics(space.body, np.arange(BODY_JOINTS))
    options = FitOptions()
    betas, _ = estimate_betas(
        kin, target[None], np.ones((1, BODY_JOINTS), dtype=bool), options.shape_prior_weight, iterations=100
    )
    return np.asarray(betas, dtype=np.float64)


def _rms(diff: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.sum(diff**2, axis=-1))))
