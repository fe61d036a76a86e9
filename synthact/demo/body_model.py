"""Generate licence-free SMPL-H body models for the demo, in AMASS's ``.npz`` layout.

The real SMPL-H files may not be redistributed, so the demo builds its own:
a human-shaped, closed genus-0 surface with SMPL-H's vertex and face counts
(``body_mesh``), rigged to the SMPL-H skeleton (``body_rig``), with 16
analytic shape components (``body_shape``). The male and female templates are
the neutral one moved through that shape space, so all three genders share
topology and vertex correspondence. Vertices are ordered so that the 21 ids
smplx reads as landmarks (nose, eyes, ears, toes, heels, finger tips) lie on
those body points. Everything is deterministic: same arrays on every run.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from synthact.body.skeleton import DEMO_REST_JOINTS, FINGERS, LANDMARK_VERTEX_IDS, NUM_JOINTS, PARENTS, vertex_parts
from synthact.demo.body_mesh import NUM_VERTICES, BodyMesh, build_body_mesh
from synthact.demo.body_rig import (
    hand_components,
    joint_regressor,
    pose_correctives,
    skinning_weights,
    vertex_normals,
)
from synthact.demo.body_sdf import PARTS, finger_chain
from synthact.demo.body_shape import SHAPE_COMPONENT_NAMES, gender_betas, shape_directions
from synthact.scene import textures

__all__ = ["GENDERS", "SHAPE_COMPONENT_NAMES", "build_demo_body_models", "write_demo_body_models"]

GENDERS = ("neutral", "male", "female")
_ROOT_PARENT = np.uint32(0xFFFFFFFF)  # how SMPL files spell "no parent"


def _nearest(mesh: BodyMesh, parts: tuple[str, ...], side: int, target: Sequence[float]) -> int:
    """Index of the vertex of those parts and side nearest to ``target``."""
    cand = np.nonzero(np.isin(mesh.part, [PARTS.index(p) for p in parts]) & (mesh.side == side))[0]
    return int(cand[np.argmin(np.linalg.norm(mesh.vertices[cand] - np.asarray(target), axis=1))])


def _finger_tip(mesh: BodyMesh, finger: str, side: int) -> int:
    """The vertex furthest along the finger's last phalanx."""
    chain = finger_chain(finger) * (side, 1, 1)
    axis = chain[-1] - chain[-2]
    cand = np.nonzero((mesh.part == PARTS.index(finger)) & (mesh.side == side))[0]
    return int(cand[np.argmax(mesh.vertices[cand] @ axis)])


def landmark_vertices(mesh: BodyMesh) -> dict[str, int]:
    """Where each smplx landmark lies on this mesh (vertex ids before reordering)."""
    head = np.nonzero(mesh.part == PARTS.index("head"))[0]
    found = {"nose": int(head[np.argmax(mesh.vertices[head, 2])])}
    for prefix, sx in (("l", 1), ("r", -1)):
        found[f"{prefix}eye"] = _nearest(mesh, ("head",), 0, (sx * 0.033, 1.600, 0.095))
        found[f"{prefix}ear"] = _nearest(mesh, ("head",), 0, (sx * 0.095, 1.580, -0.008))
        up = prefix.upper()
        found[f"{up}BigToe"] = _nearest(mesh, ("foot",), sx, (sx * 0.085, 0.020, 0.170))
        found[f"{up}SmallToe"] = _nearest(mesh, ("foot",), sx, (sx * 0.140, 0.015, 0.135))
        found[f"{up}Heel"] = _nearest(mesh, ("foot",), sx, (sx * 0.100, 0.000, -0.090))
        for finger in FINGERS:
            found[f"{prefix}{finger}"] = _finger_tip(mesh, finger, sx)
    if len(set(found.values())) != len(found):
        raise ValueError("two landmarks fell on the same vertex")
    return found


def _landmark_order(mesh: BodyMesh) -> np.ndarray:
    """New-to-old vertex order putting each landmark at smplx's vertex id."""
    found = landmark_vertices(mesh)
    order = np.full(NUM_VERTICES, -1, dtype=np.int64)
    for name, old in found.items():
        order[LANDMARK_VERTEX_IDS[name]] = old
    rest = np.setdiff1d(np.arange(NUM_VERTICES), list(found.values()))  # keep the others in build order
    order[order < 0] = rest
    return order


def _reorder(mesh: BodyMesh, order: np.ndarray) -> BodyMesh:
    new_id = np.empty_like(order)
    new_id[order] = np.arange(len(order))
    return BodyMesh(mesh.vertices[order], new_id[mesh.faces], mesh.part[order], mesh.side[order])


def _kintree() -> np.ndarray:
    parents = PARENTS.astype(np.int64).copy()
    table = np.stack([parents, np.arange(NUM_JOINTS)]).astype(np.uint32)
    table[0, 0] = _ROOT_PARENT
    return table


def build_demo_body_models() -> dict[str, dict[str, np.ndarray]]:
    """All three genders' SMPL-H arrays, keyed by gender."""
    mesh = build_body_mesh()
    mesh = _reorder(mesh, _landmark_order(mesh))
    v0, faces = mesh.vertices, mesh.faces
    weights = skinning_weights(v0, faces, mesh.part, mesh.side, DEMO_REST_JOINTS)
    regressor = joint_regressor(v0, weights, DEMO_REST_JOINTS)
    posedirs = pose_correctives(vertex_normals(v0, faces), weights).astype(np.float32)
    neutral_dirs = shape_directions(v0, faces, DEMO_REST_JOINTS, mesh.part)
    hands = {side: hand_components(side) for side in ("left", "right")}
    models = {}
    for gender in GENDERS:
        template = v0 + neutral_dirs @ gender_betas(gender)
        # The gendered shape spaces are the same fields, measured on the gendered body.
        dirs = neutral_dirs
        if gender != "neutral":
            dirs = shape_directions(template, faces, regressor @ template, mesh.part)
        models[gender] = {
            "v_template": template,
            "f": faces.astype(np.uint32),
            "J_regressor": regressor,
            "weights": weights,
            "kintree_table": _kintree(),
            "shapedirs": dirs,
            "posedirs": posedirs,
            "hands_componentsl": hands["left"][0],
            "hands_componentsr": hands["right"][0],
            "hands_meanl": hands["left"][1],
            "hands_meanr": hands["right"][1],
        }
    return models


def _write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write next to the target, then rename: readers never see half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_demo_body_models(out_dir: Path) -> dict[str, Path]:
    """Generate the demo SMPL-H models into ``out_dir/smplh/SMPLH_{GENDER}.npz``.

    Always regenerates (a few seconds). Loadable with
    ``smplx.create(out_dir, model_type='smplh', ext='npz', gender=g)`` and
    ``synthact.body.smplh.BodyModel(out_dir, g)``.

    Returns:
        The written file of each gender.
    """
    folder = Path(out_dir) / "smplh"
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for gender, arrays in build_demo_body_models().items():
        paths[gender] = folder / f"SMPLH_{gender.upper()}.npz"
        _write_npz(paths[gender], arrays)
    return paths


DEMO_UV_FILE = "demo_uv.obj"  # in the body-model folder: randomize.uv_file
DEMO_TEXTURES_DIR = "textures"  # in the body-model folder: randomize.textures_dir


def write_demo_appearance(out_dir: Path, count: int = 12, seed: int = 0, size: int = 512) -> tuple[Path, Path]:
    """Write the demo body's UV layout and procedural clothing textures in it.

    The layout is ``textures.cylinder_uv_layout`` of the neutral template (all
    genders share the topology); the textures are skin tones, fabrics,
    stripes, plaids and prints (``textures.generate_textures``).

    Returns:
        (``out_dir/demo_uv.obj``, ``out_dir/textures``): the values for
        ``randomize.uv_file`` and ``randomize.textures_dir``.
    """
    model = build_demo_body_models()["neutral"]
    verts, faces = model["v_template"], model["f"].astype(np.int64)
    face_uv = textures.cylinder_uv_layout(verts, faces, vertex_parts(model["weights"]))
    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    uv_path = root / DEMO_UV_FILE
    textures.write_uv_obj(uv_path, verts, faces, face_uv)
    textures.generate_textures(root / DEMO_TEXTURES_DIR, count=count, seed=seed, size=size)
    return uv_path, root / DEMO_TEXTURES_DIR
