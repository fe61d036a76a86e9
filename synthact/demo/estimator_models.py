"""Licence-free SMPL- and SMPL-X-layout body models derived from the demo SMPL-H model.

3D pose estimators predict SMPL (or SMPL-X) bodies with 10 betas; converting them
needs those models' shape spaces (``synthact.fitting.estimates.body_shape``), and the
real files may not ship. Tests and demos use these stand-ins instead:

- ``SMPL_NEUTRAL.npz``: SMPL's layout (6890 vertices, 24 joints, 10 betas, 207 pose
  correctives): the demo mesh and skinning with the fingers folded into SMPL's two
  hand joints.
- ``SMPLX_NEUTRAL.npz``: SMPL-X's joint layout (55 joints) on a *different* mesh (edge
  midpoints appended, 10475 vertices), with 10 shape and 10 expression components.

Their shape spaces are deliberately not SMPL-H's: the template is the demo body
moved by ``offset`` (16 SMPL-H betas) and each of the 10 components is a mix
``mixing`` (16 x 10) of SMPL-H's components. So SMPL betas b give the body of
SMPL-H betas ``offset + mixing @ b`` (the ground truth a test checks a fit
against), and padding b with zeros gives another body, as with real models. Like
the real SMPL and SMPL-H templates, which differ by millimetres, the stand-ins'
templates also carry a small deterministic per-vertex deviation
(``TEMPLATE_NOISE_M``) that no SMPL-H betas can reproduce, so a fit leaves a
residual, as it would with the real models.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from synthact.body.skeleton import JOINT_NAMES, NUM_JOINTS, PARENTS

SMPL_JOINTS = 24
SMPLX_JOINTS = 55
SMPLX_VERTICES = 10475
_SEED = 20260101
TEMPLATE_NOISE_M = 0.002  # std of the per-vertex deviation outside SMPL-H's shape space


@dataclass(frozen=True)
class SourceModels:
    """The written files and the exact SMPL-H equivalent of their betas."""

    smpl: Path
    smplx: Path
    offset: np.ndarray  # (16,)
    mixing: np.ndarray  # (16, 10)

    def smplh_betas(self, betas10: np.ndarray) -> np.ndarray:
        """The SMPL-H betas whose body equals these models' body with ``betas10``."""
        return self.offset + self.mixing @ np.asarray(betas10, dtype=np.float64)


def shape_mix(num_betas: int) -> tuple[np.ndarray, np.ndarray]:
    """The fixed (offset, mixing) of the derived shape spaces."""
    rng = np.random.default_rng(_SEED)
    offset = rng.normal(0.0, 0.3, num_betas)
    q, _ = np.linalg.qr(rng.normal(size=(num_betas, num_betas)))
    return offset, q[:, :10] * rng.uniform(0.7, 1.3, 10)


def smpl_arrays(smplh: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """SMPL-layout arrays from the demo SMPL-H arrays (shape space already mixed)."""
    left = [JOINT_NAMES.index(n) for n in JOINT_NAMES[22:] if n.startswith("left")]
    right = [JOINT_NAMES.index(n) for n in JOINT_NAMES[22:] if n.startswith("right")]
    reg = smplh["J_regressor"]
    middle = (JOINT_NAMES.index("left_middle1"), JOINT_NAMES.index("right_middle1"))
    weights = np.concatenate(
        [
            smplh["weights"][:, :22],
            smplh["weights"][:, left].sum(1, keepdims=True),
            smplh["weights"][:, right].sum(1, keepdims=True),
        ],
        axis=1,
    )
    kintree = np.stack([np.append(PARENTS[:22], [20, 21]), np.arange(SMPL_JOINTS)]).astype(np.uint32)
    kintree[0, 0] = np.uint32(0xFFFFFFFF)
    posedirs = np.zeros(smplh["posedirs"].shape[:2] + (9 * (SMPL_JOINTS - 1),), dtype=np.float32)
    posedirs[..., : 9 * 21] = smplh["posedirs"][..., : 9 * 21]
    return {
        "v_template": smplh["v_template"],
        "f": smplh["f"],
        "J_regressor": np.concatenate([reg[:22], reg[list(middle)]], axis=0),
        "weights": weights,
        "kintree_table": kintree,
        "shapedirs": smplh["shapedirs"],
        "posedirs": posedirs,
    }


def smplx_arrays(smplh: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """SMPL-X-layout arrays on a mesh with appended edge midpoints (another vertex count)."""
    faces = smplh["f"].astype(np.int64)
    edges = np.unique(np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1), axis=0)
    extra = edges[: SMPLX_VERTICES - len(smplh["v_template"])]
    mid = lambda a: 0.5 * (a[extra[:, 0]] + a[extra[:, 1]])  # noqa: E731
    reg = smplh["J_regressor"]
    head = JOINT_NAMES.index("head")
    # SMPL-X joints: 22 body, jaw, left eye, right eye, 15 + 15 finger joints (SMPL-H's order).
    rows = np.concatenate([reg[:22], reg[[head, head, head]], reg[22:NUM_JOINTS]], axis=0)
    expression = np.zeros(smplh["shapedirs"].shape[:2] + (10,))
    shapedirs = np.concatenate([smplh["shapedirs"], expression], axis=2)
    return {
        "v_template": np.concatenate([smplh["v_template"], mid(smplh["v_template"])]),
        "f": smplh["f"],
        "J_regressor": np.concatenate([rows, np.zeros((SMPLX_JOINTS, len(extra)))], axis=1),
        "shapedirs": np.concatenate([shapedirs, mid(shapedirs)]),
    }


def _mixed(arrays: dict[str, np.ndarray], offset: np.ndarray, mixing: np.ndarray) -> dict[str, np.ndarray]:
    dirs = np.asarray(arrays["shapedirs"], dtype=np.float64)
    noise = np.random.default_rng(_SEED + 1).normal(0.0, TEMPLATE_NOISE_M, arrays["v_template"].shape)
    return {**arrays, "v_template": arrays["v_template"] + dirs @ offset + noise, "shapedirs": dirs @ mixing}


def write_source_models(out_dir: Path, smplh: dict[str, np.ndarray]) -> SourceModels:
    """Write ``out_dir/smpl/SMPL_NEUTRAL.npz`` and ``out_dir/smplx/SMPLX_NEUTRAL.npz``.

    Args:
        smplh: the demo's neutral SMPL-H arrays (``build_demo_body_models()["neutral"]``).
    """
    offset, mixing = shape_mix(smplh["shapedirs"].shape[2])
    mixed = _mixed(smplh, offset, mixing)
    paths = {}
    for name, file, arrays in (
        ("smpl", "SMPL_NEUTRAL.npz", smpl_arrays(mixed)),
        ("smplx", "SMPLX_NEUTRAL.npz", smplx_arrays(mixed)),
    ):
        folder = Path(out_dir) / name
        folder.mkdir(parents=True, exist_ok=True)
        paths[name] = folder / file
        tmp = folder / f".{file}.{os.getpid()}.tmp"
        with open(tmp, "wb") as handle:
            np.savez(handle, **arrays)
        os.replace(tmp, paths[name])
    return SourceModels(paths["smpl"], paths["smplx"], offset, mixing)
