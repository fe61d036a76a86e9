"""The demo body's 16 shape components, as analytic displacement fields.

Each component is a smooth per-vertex displacement computed from the template
surface and its joints (so vertex correspondence is kept), scaled so that
beta = 1 is about one standard deviation of adult variation. Components that
push the surface out use the vertex normals with a smooth amount field;
components that change proportions move whole body regions rigidly, with
smoothstep ramps across the joints in between.
"""

from __future__ import annotations

import numpy as np

from synthact.body.skeleton import JOINT_NAMES, NUM_BETAS
from synthact.demo.body_rig import diffuse, edges, vertex_normals
from synthact.demo.body_sdf import PARTS

SHAPE_COMPONENT_NAMES = (
    "height",  # 0: uniform scale about the floor point: +7 cm of stature
    "weight",  # 1: soft tissue everywhere, most on the trunk and thighs (+1.6 cm of waist radius)
    "leg_length",  # 2: legs longer, the upper body rides up (+3.5 cm)
    "arm_length",  # 3: arms longer, hands carried out (+2.5 cm per arm)
    "shoulder_width",  # 4: shoulders and arms out (+1.2 cm per side)
    "hip_width",  # 5: hips and upper thighs out (+1.5 cm per side)
    "torso_length",  # 6: longer waist; chest, arms and head ride up (+2.5 cm)
    "head_size",  # 7: head scaled about the head joint (+4 %)
    "belly",  # 8: belly pushed forward (+2.5 cm)
    "chest",  # 9: chest or bust pushed forward (+1.5 cm)
    "neck_length",  # 10: longer neck, the head rides up (+1.5 cm)
    "hand_size",  # 11: hands scaled about the wrists (+6 %)
    "foot_size",  # 12: feet scaled about the ankles, soles stay on the floor (+5 %)
    "waist",  # 13: waist thicker (+1.5 cm of radius)
    "limb_thickness",  # 14: arm and leg muscle (+0.5 to 0.8 cm of radius)
    "torso_depth",  # 15: trunk deeper front to back (chest and back each +1.3 cm)
)

# How the gendered templates differ from the neutral one, in these components.
GENDER_BETAS = {
    "neutral": {},
    "male": {
        "height": 0.6,
        "shoulder_width": 1.0,
        "hip_width": -0.6,
        "chest": 0.3,
        "waist": 0.3,
        "limb_thickness": 0.8,
        "neck_length": 0.3,
        "hand_size": 0.8,
        "foot_size": 0.8,
        "head_size": 0.3,
    },
    "female": {
        "height": -0.9,
        "shoulder_width": -0.9,
        "hip_width": 1.2,
        "chest": 1.3,
        "waist": -0.8,
        "limb_thickness": -0.6,
        "hand_size": -0.8,
        "foot_size": -0.8,
        "head_size": -0.3,
        "torso_depth": -0.3,
    },
}

_J = {name: i for i, name in enumerate(JOINT_NAMES)}


def gender_betas(gender: str) -> np.ndarray:
    """The (16,) betas that turn the neutral template into ``gender``'s."""
    betas = np.zeros(NUM_BETAS)
    for name, value in GENDER_BETAS[gender].items():
        betas[SHAPE_COMPONENT_NAMES.index(name)] = value
    return betas


def _ramp(x: np.ndarray, a: float, b: float) -> np.ndarray:
    """Smoothstep from 0 at ``a`` to 1 at ``b`` (either order)."""
    t = np.clip((x - a) / (b - a), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _bump(x: np.ndarray, center: float, width: float) -> np.ndarray:
    return np.exp(-(((x - center) / width) ** 2))


class _Fields:
    """Helpers shared by the components, for one template."""

    def __init__(self, vertices: np.ndarray, faces: np.ndarray, joints: np.ndarray, part: np.ndarray) -> None:
        self.v = vertices
        self.n = vertex_normals(vertices, faces)
        self.edges = edges(faces)
        self.j = {name: joints[i] for name, i in _J.items()}
        self.names = np.array(PARTS)[part]
        self.sign = np.where(vertices[:, 0] >= 0, 1.0, -1.0)

    def smooth_amount(self, per_part: dict[str, float]) -> np.ndarray:
        """A per-part amount, blended over the surface so part borders do not show."""
        a = np.array([per_part.get(name, 0.0) for name in self.names])
        return diffuse(a, self.edges, np.full(len(a), 0.5), 15)

    def side_joint(self, name: str) -> np.ndarray:
        """Per-vertex position of the left or right joint, by the vertex's side."""
        left = self.j[f"left_{name}"]
        return np.column_stack([left[0] * self.sign, np.full(len(self.v), left[1]), np.full(len(self.v), left[2])])


def _along_x(f: _Fields, dx: np.ndarray) -> np.ndarray:
    """Displacement dx outwards (away from the midline)."""
    return np.column_stack([f.sign * dx, np.zeros_like(dx), np.zeros_like(dx)])


def _along(axis: int, amount: np.ndarray) -> np.ndarray:
    out = np.zeros((len(amount), 3))
    out[:, axis] = amount
    return out


def _scale_about(f: _Fields, center: np.ndarray, amount: np.ndarray) -> np.ndarray:
    """Displacement of a scaling by ``amount`` (per vertex) about ``center``."""
    return (f.v - center) * amount[:, None]


def _components(f: _Fields) -> dict[str, np.ndarray]:
    """Each component's (V, 3) displacement for beta = 1."""
    x, y, z = f.v.T
    ax = np.abs(x)
    hip_y, neck_y, head = f.j["left_hip"][1], f.j["neck"][1], f.j["head"]
    sh_x, wr_x = f.j["left_shoulder"][0], f.j["left_wrist"][0]
    front = np.clip(f.n[:, 2], 0.0, 1.0)  # only forward-facing skin bulges forward
    leg_t = _ramp(y, hip_y - 0.06, hip_y + 0.06)
    weight = f.smooth_amount({"torso": 0.016, "neck": 0.006, "head": 0.003, "arm": 0.006, "leg": 0.010})
    ankle = np.column_stack([f.side_joint("ankle")[:, 0], np.zeros_like(y), np.full_like(y, f.j["left_ankle"][2])])
    arm_t = np.clip((ax - sh_x) / (wr_x - sh_x), 0.0, 1.0)  # 0 at the shoulder, 1 from the wrist out
    trunk = _ramp(y, 0.75, 0.85) * _ramp(y, 1.5, 1.42) * _ramp(ax, 0.25, 0.2)
    return {
        "height": f.v * (0.07 / 1.70),
        "weight": f.n * weight[:, None],
        # Legs stretch linearly from the floor; everything above the hips rides up.
        "leg_length": _along(1, 0.035 * ((1 - leg_t) * y / hip_y + leg_t)),
        "arm_length": _along_x(f, 0.025 * _ramp(ax, sh_x - 0.03, sh_x + 0.03) * arm_t),
        "shoulder_width": _along_x(f, 0.012 * np.minimum(ax / sh_x, 1.0) * _ramp(y, 1.2, 1.35)),
        "hip_width": _along_x(f, 0.015 * np.minimum(ax / 0.15, 1.0) * _bump(y, hip_y, 0.12)),
        "torso_length": _along(1, 0.025 * _ramp(y, 0.95, 1.35)),
        "head_size": _scale_about(f, head, 0.04 * _ramp(y, neck_y + 0.02, head[1])),
        "belly": f.n * (0.025 * np.exp(-((x / 0.11) ** 2) - ((y - 1.02) / 0.1) ** 2) * front)[:, None],
        "chest": f.n * (0.015 * np.exp(-(((ax - 0.075) / 0.06) ** 2) - ((y - 1.29) / 0.06) ** 2) * front)[:, None],
        "neck_length": _along(1, 0.015 * _ramp(y, neck_y - 0.02, neck_y + 0.05) * _ramp(ax, 0.11, 0.07)),
        "hand_size": _scale_about(f, f.side_joint("wrist"), 0.06 * _ramp(ax, wr_x - 0.03, wr_x)),
        # Scaled about the ankle's spot on the floor, so soles stay on it.
        "foot_size": _scale_about(f, ankle, 0.05 * _ramp(y, 0.16, 0.10)),
        "waist": f.n * (0.015 * _bump(y, 1.08, 0.08) * _ramp(ax, 0.25, 0.2))[:, None],
        "limb_thickness": f.n * f.smooth_amount({"arm": 0.005, "leg": 0.008})[:, None],
        "torso_depth": _along(2, 0.12 * (z + 0.01) * trunk),
    }


def shape_directions(vertices: np.ndarray, faces: np.ndarray, joints: np.ndarray, part: np.ndarray) -> np.ndarray:
    """shapedirs (V, 3, 16) for a template with its 52 rest joints."""
    fields = _components(_Fields(vertices, faces, joints, part))
    return np.stack([fields[name] for name in SHAPE_COMPONENT_NAMES], axis=2)
