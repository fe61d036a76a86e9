"""Rig the demo body mesh: skinning weights, joint regressor, pose correctives, hand PCA.

Everything is derived from the mesh and the skeleton alone:
- Skinning weights: each vertex first belongs to one bone (the segment a joint
  rotates), found from its body part and where it lies along the skeleton;
  the one-hot weights are then diffused over the surface, so they blend
  across each joint over a few edge rings and never leak between fingers.
- Joint regressor: each joint is a convex combination of nearby vertices on
  the two bones that meet there (maximum-entropy weights, exact at the rest
  pose), so joints follow the surface when the shape changes.
- Pose correctives: a volume-keeping bulge around bending joints.
"""

from __future__ import annotations

import itertools

import numpy as np

from synthact.body.skeleton import FINGERS, JOINT_NAMES, NUM_JOINTS, PARENTS
from synthact.demo.body_sdf import PARTS, finger_chain

_J = {name: i for i, name in enumerate(JOINT_NAMES)}


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted unit vertex normals."""
    a, b, c = (vertices[faces[:, k]] for k in range(3))
    fn = np.cross(b - a, c - a)
    n = np.zeros_like(vertices)
    for k in range(3):
        np.add.at(n, faces[:, k], fn)
    return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)


def edges(faces: np.ndarray) -> np.ndarray:
    """Unique undirected edges (E, 2)."""
    pairs = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    return np.unique(np.sort(pairs, axis=1), axis=0)


def diffuse(values: np.ndarray, edge: np.ndarray, rate: np.ndarray, iterations: int) -> np.ndarray:
    """Blend per-vertex values with their neighbours' mean, ``rate`` per vertex."""
    n = len(values)
    both = np.concatenate([edge, edge[:, ::-1]])
    both = both[np.lexsort((both[:, 1], both[:, 0]))]  # grouped by vertex
    starts = np.searchsorted(both[:, 0], np.arange(n))
    deg = np.diff(np.append(starts, len(both)))[:, None].astype(float)
    flat = values.reshape(n, -1)
    for _ in range(iterations):
        mean = np.add.reduceat(flat[both[:, 1]], starts, axis=0) / deg
        flat = flat + rate[:, None] * (mean - flat)
    return flat.reshape(values.shape)


# ----------------------------------------------------------------------------- bones


def _chain_position(points: np.ndarray, chain: np.ndarray) -> np.ndarray:
    """Arc length along a polyline of each point's closest spot on it."""
    best = np.full(len(points), np.inf)
    s_best = np.zeros(len(points))
    start = 0.0
    for a, b in itertools.pairwise(chain):
        ab = b - a
        t = np.clip((points - a) @ ab / (ab @ ab), 0.0, 1.0)
        d = np.linalg.norm(points - a - t[:, None] * ab, axis=1)
        closer = d < best
        best[closer], s_best[closer] = d[closer], start + t[closer] * np.linalg.norm(ab)
        start += np.linalg.norm(ab)
    return s_best


def _side(name: str, sx: int | np.ndarray) -> int | np.ndarray:
    """Index of the left (sx > 0) or right joint called ``name``."""
    return np.where(np.asarray(sx) > 0, _J[f"left_{name}"], _J[f"right_{name}"])


def _torso_bones(v: np.ndarray, joints: np.ndarray) -> np.ndarray:
    """Spine joints by height; the hip joints below the groin, the collars atop the shoulders."""
    x, y = v[:, 0], v[:, 1]
    spine_y = joints[[_J["spine1"], _J["spine2"], _J["spine3"]], 1]
    bone = np.select(
        [y < spine_y[0], y < spine_y[1], y < spine_y[2]], [_J["pelvis"], _J["spine1"], _J["spine2"]], _J["spine3"]
    )
    bone = np.where((y < joints[_J["left_hip"], 1] - 0.02) & (np.abs(x) > 0.03), _side("hip", x), bone)
    return np.where((y > joints[_J["left_collar"], 1] - 0.07) & (np.abs(x) > 0.085), _side("collar", x), bone)


def _arm_bones(v: np.ndarray, sx: int, joints: np.ndarray) -> np.ndarray:
    """Shoulder, elbow or wrist joint by how far out along the arm (T-pose: along x)."""
    ax = np.abs(v[:, 0])
    cuts = [ax < joints[_J["left_elbow"], 0], ax < joints[_J["left_wrist"], 0]]
    return np.select(cuts, [_side("shoulder", sx), _side("elbow", sx)], _side("wrist", sx))


def _finger_bones(v: np.ndarray, finger: str, sx: int) -> np.ndarray:
    """Finger joint 1, 2 or 3 by the phalanx each vertex lies along."""
    chain = finger_chain(finger) * (sx, 1, 1)
    pos = _chain_position(v, chain)
    ends = np.cumsum(np.linalg.norm(np.diff(chain, axis=0), axis=1))
    return np.select(
        [pos < ends[0], pos < ends[1]], [_side(f"{finger}1", sx), _side(f"{finger}2", sx)], _side(f"{finger}3", sx)
    )


def _leg_bones(v: np.ndarray, is_leg_part: np.ndarray, sx: int, joints: np.ndarray) -> np.ndarray:
    """Hip above the knee, knee down the shin, ankle for the foot, foot joint for the toes."""
    y, z = v[:, 1], v[:, 2]
    ankle, foot = joints[_J["left_ankle"]], joints[_J["left_foot"]]
    # The foot part starts a little above the ankle: its top and back still ride the shin.
    shin = is_leg_part | ((y > ankle[1] + 0.01) & (z < ankle[2] + 0.05))
    return np.select(
        [y > joints[_J["left_knee"], 1], shin, z < foot[2]],
        [_side("hip", sx), _side("knee", sx), _side("ankle", sx)],
        _side("foot", sx),
    )


def bone_of_vertex(vertices: np.ndarray, part: np.ndarray, side: np.ndarray, joints: np.ndarray) -> np.ndarray:
    """The joint whose rotation carries each vertex, before blending.

    Args:
        vertices: (V, 3) neutral template.
        part: (V,) index into ``body_sdf.PARTS``.
        side: (V,) +1 left, -1 right, 0 midline.
        joints: (52, 3) rest joints.
    """
    names = np.array(PARTS)[part]
    bone = np.zeros(len(vertices), dtype=np.int64)
    torso = names == "torso"
    bone[torso] = _torso_bones(vertices[torso], joints)
    bone[names == "neck"] = _J["neck"]
    bone[names == "head"] = _J["head"]
    for sx in (1, -1):
        on = side == sx
        arm, legs = on & (names == "arm"), on & np.isin(names, ("leg", "foot"))
        bone[arm] = _arm_bones(vertices[arm], sx, joints)
        bone[on & (names == "palm")] = _side("wrist", sx)
        for finger in FINGERS:
            sel = on & (names == finger)
            bone[sel] = _finger_bones(vertices[sel], finger, sx)
        bone[legs] = _leg_bones(vertices[legs], names[legs] == "leg", sx, joints)
    return bone


def skinning_weights(
    vertices: np.ndarray,
    faces: np.ndarray,
    part: np.ndarray,
    side: np.ndarray,
    joints: np.ndarray,
    iterations: int = 10,
) -> np.ndarray:
    """Smooth LBS weights (V, 52): non-negative, rows sum to 1, at most 3 joints per vertex.

    One-hot bones (``bone_of_vertex``) are diffused over the surface for
    ``iterations`` passes, then each vertex keeps its 3 largest weights.
    """
    bone = bone_of_vertex(vertices, part, side, joints)
    w = np.zeros((len(vertices), NUM_JOINTS))
    w[np.arange(len(vertices)), bone] = 1.0
    names = np.array(PARTS)[part]
    # Fingers and palm are dense: diffuse them less so finger joints stay crisp.
    rate = np.where(np.isin(names, ("palm",) + FINGERS), 0.2, 0.5)
    w = diffuse(w, edges(faces), rate, iterations)
    keep = np.argsort(-w, axis=1, kind="stable")[:, :3]
    top = np.take_along_axis(w, keep, axis=1)
    top[top < 0.02] = 0.0
    out = np.zeros_like(w)
    np.put_along_axis(out, keep, top / top.sum(axis=1, keepdims=True), axis=1)
    return out


# ----------------------------------------------------------------------------- joint regressor


def _max_entropy_weights(points: np.ndarray, target: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """Non-negative weights, closest to ``prior``, whose weighted mean is ``target``."""
    d = points - target
    lam = np.zeros(3)
    for _ in range(100):
        logits = np.log(prior) + d @ lam
        w = np.exp(logits - logits.max())
        w /= w.sum()
        mean = w @ d
        if np.linalg.norm(mean) < 1e-12:
            break
        cov = (d * w[:, None]).T @ d - np.outer(mean, mean)
        step = np.linalg.solve(cov + 1e-12 * np.eye(3), mean)
        lam -= step
    if np.linalg.norm(w @ d) > 1e-9:
        raise ValueError("joint is outside the hull of its vertices")
    return w


def joint_regressor(vertices: np.ndarray, weights: np.ndarray, joints: np.ndarray) -> np.ndarray:
    """(52, V) regressor: each row convex, exact for ``joints`` on ``vertices``."""
    dominant = np.argmax(weights, axis=1)
    reg = np.zeros((NUM_JOINTS, len(vertices)))
    for j in range(NUM_JOINTS):
        bones = [j] if PARENTS[j] < 0 else [j, PARENTS[j]]
        cand = np.nonzero(np.isin(dominant, bones))[0]
        dist = np.linalg.norm(vertices[cand] - joints[j], axis=1)
        for widen in (1.6, 2.0, 2.6, 3.5):
            near = cand[dist <= widen * dist.min()]
            sigma = dist.min()
            prior = np.exp(-0.5 * (np.linalg.norm(vertices[near] - joints[j], axis=1) / sigma) ** 2)
            try:
                reg[j, near] = _max_entropy_weights(vertices[near], joints[j], prior)
                break
            except (ValueError, np.linalg.LinAlgError):
                continue
        else:
            raise ValueError(f"cannot regress joint {JOINT_NAMES[j]}")
    return reg


# ----------------------------------------------------------------------------- pose correctives

# Bending joints and the bulge (metres at 90 degrees) that keeps their volume.
_BULGE = {"elbow": 0.006, "knee": 0.008, "shoulder": 0.008, "hip": 0.008, "wrist": 0.003, "ankle": 0.004}


def pose_correctives(normals: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """posedirs (V, 3, 459): an outward bulge ~ (1 - cos angle) at each joint.

    smplx multiplies posedirs with (R - I) of joints 1..51; the trace of R - I
    is 2 (cos angle - 1) whatever the axis, so putting -bulge/2 on the three
    diagonal entries gives an offset of bulge * (1 - cos angle).
    """
    posedirs = np.zeros((len(normals), 3, 9 * (NUM_JOINTS - 1)))
    for name, amount in _BULGE.items():
        for side in ("left", "right"):
            j = _J[f"{side}_{name}"]
            # Largest where the joint's bone and its parent's share the vertex.
            blend = 4.0 * weights[:, j] * weights[:, PARENTS[j]]
            offset = -0.5 * amount * blend[:, None] * normals
            for k in (0, 4, 8):
                posedirs[:, :, 9 * (j - 1) + k] = offset
    return posedirs


# ----------------------------------------------------------------------------- hand PCA


def hand_components(side: str) -> tuple[np.ndarray, np.ndarray]:
    """(45, 45) orthonormal hand basis and a relaxed mean pose (45,).

    The first rows are synergies: curl of all fingers, spread, thumb opposition;
    the rest completes an orthonormal basis. Axis-angle per finger joint in the
    template frame; the right hand mirrors the left (y and z flip sign).
    """
    curl, spread, thumb = np.zeros((3, 15, 3))
    for f, finger in enumerate(FINGERS):
        rows = slice(3 * f, 3 * f + 3)
        if finger == "thumb":
            thumb[rows] = (0.0, -0.3, -0.6)
            curl[rows] = (0.0, -0.3, -0.3)
        else:
            curl[rows] = (0.0, 0.0, -1.0)  # fingers point +x, palm down: curl is about -z
            spread[3 * f] = (0.0, {"index": 1.0, "middle": 0.3, "ring": -0.4, "pinky": -1.0}[finger], 0.0)
    mirror = np.array([1.0, -1.0, -1.0]) if side == "right" else np.ones(3)
    synergies = np.stack([curl, spread, thumb]).reshape(3, 45) * np.tile(mirror, 15)
    q, _ = np.linalg.qr(np.vstack([synergies, np.eye(45)]).T)
    basis = q[:, :45].T
    signs = np.ones(45)
    signs[:3] = np.where(np.sum(basis[:3] * synergies, axis=1) < 0, -1.0, 1.0)  # QR's signs are arbitrary
    basis *= signs[:, None]
    mean = 0.15 * curl.reshape(45) * np.tile(mirror, 15)
    return basis, mean
