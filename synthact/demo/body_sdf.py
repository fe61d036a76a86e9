"""A signed distance field of a neutral human in T-pose, built from simple solids.

The demo body mesh is fitted to the zero level set of this field. Every solid
is placed relative to ``skeleton.DEMO_REST_JOINTS`` (template space: Y-up,
facing +Z, left = +X, metres, floor at y = 0), so the mesh wraps the skeleton.

The body is mirror-symmetric: only the midline and the left-side solids are
listed, and the field is evaluated at ``(|x|, y, z)``. Solids are grouped into
parts (torso, arm, fingers, ...); each part is a smooth union of its solids,
and the whole body a smooth union of the parts. The mesher casts rays against
single parts, so that a ray from the spine does not run down an arm.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from synthact.body.skeleton import DEMO_REST_JOINTS, JOINT_NAMES

PARTS = ("torso", "neck", "head", "arm", "palm", "index", "middle", "pinky", "ring", "thumb", "leg", "foot")
FINGER_PARTS = ("index", "middle", "pinky", "ring", "thumb")

# Finger radius at the knuckle and length of the last phalanx past joint 3 (metres).
FINGER_RADIUS = {"index": 0.0092, "middle": 0.0095, "pinky": 0.0078, "ring": 0.0088, "thumb": 0.0115}
FINGER_TIP = {"index": 0.016, "middle": 0.018, "pinky": 0.014, "ring": 0.017, "thumb": 0.017}


def joint(name: str) -> np.ndarray:
    """Neutral rest position of a joint by SMPL-H name."""
    return DEMO_REST_JOINTS[JOINT_NAMES.index(name)].copy()


def finger_chain(finger: str) -> np.ndarray:
    """(4, 3) points of a left finger: joints 1, 2, 3 and the tip."""
    pts = np.stack([joint(f"left_{finger}{k}") for k in (1, 2, 3)])
    step = pts[2] - pts[1]
    return np.vstack([pts, pts[2] + step / np.linalg.norm(step) * FINGER_TIP[finger]])


# ----------------------------------------------------------------------------- solids


@dataclass(frozen=True)
class Solid:
    """One primitive: an ellipsoid, a tapered capsule or a rounded box."""

    kind: str  # "ellipsoid" | "capsule" | "box"
    a: tuple[float, float, float]  # centre, or capsule start
    b: tuple[float, float, float]  # radii, capsule end, or box half size
    r: tuple[float, float] = (0.0, 0.0)  # capsule radii at a and b; box rounding in r[0]

    def distance(self, p: np.ndarray) -> np.ndarray:
        """Signed distance (approximate for ellipsoids) of points (N, 3)."""
        a, b = np.asarray(self.a), np.asarray(self.b)
        if self.kind == "ellipsoid":
            # Inigo Quilez's bound: exact on the surface, good enough off it.
            q = (p - a) / b
            k0 = _norm(q)
            k1 = _norm(q / b)
            return k0 * (k0 - 1.0) / np.maximum(k1, 1e-12)
        if self.kind == "capsule":
            ab = b - a
            t = np.clip((p - a) @ (ab / (ab @ ab)), 0.0, 1.0)
            radius = self.r[0] + t * (self.r[1] - self.r[0])
            return _norm(p - a - t[:, None] * ab) - radius
        q = np.abs(p - a) - (b - self.r[0])
        return _norm(np.maximum(q, 0.0)) + np.minimum(q.max(axis=1), 0.0) - self.r[0]


def _norm(v: np.ndarray) -> np.ndarray:
    return np.sqrt(np.einsum("ij,ij->i", v, v))


def smin(a: np.ndarray, b: np.ndarray, k: float) -> np.ndarray:
    """Polynomial smooth minimum: a union that fills creases of width ~k."""
    if k <= 0.0:
        return np.minimum(a, b)
    h = np.maximum(k - np.abs(a - b), 0.0) / k
    return np.minimum(a, b) - h * h * k * 0.25


Vec = Sequence[float] | np.ndarray


def _e(center: Vec, radii: Vec) -> Solid:
    """An axis-aligned ellipsoid."""
    return Solid("ellipsoid", tuple(map(float, center)), tuple(map(float, radii)))


def _c(a: Vec, b: Vec, ra: float, rb: float) -> Solid:
    """A capsule from a to b whose radius goes from ra to rb."""
    return Solid("capsule", tuple(map(float, a)), tuple(map(float, b)), (ra, rb))


def _torso() -> list[Solid]:
    return [
        _e((0, 0.905, -0.012), (0.150, 0.125, 0.100)),  # pelvis
        _e((0.082, 0.835, -0.008), (0.080, 0.085, 0.082)),  # hip / top of thigh
        _e((0.062, 0.872, -0.052), (0.074, 0.082, 0.068)),  # buttock
        _e((0, 1.070, -0.004), (0.128, 0.140, 0.088)),  # waist
        _e((0, 1.000, 0.028), (0.118, 0.095, 0.070)),  # lower belly
        _e((0, 1.245, -0.012), (0.142, 0.165, 0.098)),  # rib cage
        _e((0.068, 1.300, 0.030), (0.072, 0.058, 0.058)),  # pectoral
        _e((0.066, 1.305, -0.055), (0.075, 0.090, 0.050)),  # shoulder blade
        _c((-0.13, 1.382, -0.028), (0.13, 1.382, -0.028), 0.058, 0.058),  # shoulder girdle
        _c((0.0, 1.405, -0.030), (0.15, 1.390, -0.028), 0.045, 0.040),  # trapezius
    ]


def _arm() -> list[Solid]:
    sh, el, wr = joint("left_shoulder"), joint("left_elbow"), joint("left_wrist")
    return [
        _e(sh + (0.012, -0.004, 0.0), (0.062, 0.056, 0.056)),  # deltoid
        _c(sh, el, 0.046, 0.035),  # upper arm
        _e(sh + (0.12, 0.0, 0.004), (0.095, 0.041, 0.043)),  # biceps / triceps
        _c(el, wr, 0.036, 0.024),  # forearm
        _e(el + (0.075, 0.002, 0.0), (0.10, 0.036, 0.042)),  # forearm muscles
        _e(wr + (-0.01, 0.0, 0.0), (0.030, 0.019, 0.027)),  # wrist, flat like the palm
    ]


def _palm() -> list[Solid]:
    wr = joint("left_wrist")
    return [
        Solid("box", tuple(wr + (0.041, -0.002, -0.006)), (0.050, 0.0135, 0.0425), (0.012, 0.0)),
        _e(wr + (-0.01, 0.0, 0.0), (0.030, 0.019, 0.027)),  # the wrist, so the palm's first ring is whole
    ]


def _finger(finger: str) -> list[Solid]:
    pts = finger_chain(finger)
    r0 = FINGER_RADIUS[finger]
    radii = (r0, r0 * 0.92, r0 * 0.85, r0 * 0.76)
    solids = [_c(pts[k], pts[k + 1], radii[k], radii[k + 1]) for k in range(3)]
    if finger == "thumb":  # the fleshy ball of the thumb, joined to the palm
        solids.append(_c(joint("left_wrist") + (0.012, -0.008, 0.0), pts[1], 0.013, r0))
    return solids


def _leg() -> list[Solid]:
    hip, knee, ankle = joint("left_hip"), joint("left_knee"), joint("left_ankle")
    return [
        _c(hip + (0.003, 0.02, -0.005), knee, 0.078, 0.050),  # thigh
        _e(hip + (0.008, -0.17, 0.012), (0.066, 0.17, 0.066)),  # quadriceps
        _e(knee + (0.0, 0.0, 0.004), (0.050, 0.055, 0.052)),  # knee
        _c(knee, ankle, 0.047, 0.030),  # shin
        _e(knee + (0.003, -0.14, -0.028), (0.047, 0.12, 0.048)),  # calf
    ]


def _foot() -> list[Solid]:
    ankle = joint("left_ankle")
    return [
        _c(ankle + (0, 0.03, 0), ankle + (0.003, -0.04, 0.03), 0.032, 0.036),  # ankle to instep
        _e(ankle + (0.0, -0.045, -0.005), (0.034, 0.040, 0.040)),  # heel
        _e(ankle + (0.005, -0.045, 0.075), (0.043, 0.040, 0.105)),  # arch
        _e(ankle + (0.012, -0.060, 0.155), (0.046, 0.024, 0.047)),  # ball and toes
    ]


def _head() -> list[Solid]:
    return [
        _e((0, 1.604, -0.006), (0.075, 0.096, 0.097)),  # cranium
        _e((0, 1.548, 0.030), (0.060, 0.066, 0.070)),  # face and jaw
        _e((0, 1.497, 0.066), (0.030, 0.024, 0.030)),  # chin
        _c((0, 1.603, 0.090), (0, 1.566, 0.110), 0.008, 0.012),  # nose
        _e((0.076, 1.580, -0.008), (0.012, 0.030, 0.019)),  # ear
    ]


def _neck() -> list[Solid]:
    return [_c((0, 1.37, -0.032), (0, 1.53, -0.004), 0.052, 0.050)]


# Smooth-union width inside each part.
_PART_BLEND = {"torso": 0.045, "neck": 0.0, "head": 0.018, "arm": 0.025, "palm": 0.02, "leg": 0.035, "foot": 0.025}


_FAR = 1.0  # field value for points far from a part: "outside, and too far to blend"
_MARGIN = 0.06  # a part is evaluated only within this distance of its bounding box (> any blend)


def _bounds(solid: Solid) -> tuple[np.ndarray, np.ndarray]:
    """Axis-aligned bounding box (low, high) of a solid."""
    a, b = np.asarray(solid.a), np.asarray(solid.b)
    if solid.kind == "capsule":
        r = max(solid.r)
        return np.minimum(a, b) - r, np.maximum(a, b) + r
    return a - b, a + b


class BodySdf:
    """The neutral body field; ``part`` for one part, ``__call__`` for the whole body.

    Each part is evaluated only near its bounding box, elsewhere it reads
    ``_FAR``: far solids cannot change a smooth union, and skipping them makes
    the field several times cheaper.
    """

    def __init__(self) -> None:
        self.solids: dict[str, list[Solid]] = {
            "torso": _torso(),
            "neck": _neck(),
            "head": _head(),
            "arm": _arm(),
            "palm": _palm(),
            "leg": _leg(),
            "foot": _foot(),
        }
        for finger in FINGER_PARTS:
            self.solids[finger] = _finger(finger)
        self.box: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for name, solids in self.solids.items():
            lo, hi = zip(*(_bounds(s) for s in solids), strict=True)
            self.box[name] = (np.min(lo, axis=0) - _MARGIN, np.max(hi, axis=0) + _MARGIN)

    def part(self, name: str, p: np.ndarray) -> np.ndarray:
        """Field of one part at points (N, 3)."""
        q = np.column_stack([np.abs(p[:, 0]), p[:, 1], p[:, 2]])
        return self._part(name, q)

    def _part(self, name: str, q: np.ndarray) -> np.ndarray:
        """Field of one part at already mirrored points (|x|, y, z)."""
        lo, hi = self.box[name]
        near = np.nonzero(np.all((q >= lo) & (q <= hi), axis=1))[0]
        out = np.full(len(q), _FAR)
        if near.size == 0:
            return out
        qn = q[near]
        k = _PART_BLEND.get(name, 0.0)
        d = None
        for solid in self.solids[name]:
            s = solid.distance(qn)
            d = s if d is None else smin(d, s, k)
        if name == "foot":
            d = np.maximum(d, -qn[:, 1])  # flat sole on the floor
        out[near] = d
        return out

    def __call__(self, p: np.ndarray) -> np.ndarray:
        """Field of the whole body at points (N, 3)."""
        q = np.column_stack([np.abs(p[:, 0]), p[:, 1], p[:, 2]])

        def part(name: str) -> np.ndarray:
            return self._part(name, q)

        fingers = np.minimum.reduce([part(f) for f in FINGER_PARTS[:4]])
        hand = smin(part("palm"), fingers, 0.006)  # webs between fingers
        hand = smin(hand, part("thumb"), 0.012)
        arm = smin(part("arm"), hand, 0.012)
        leg = smin(part("leg"), part("foot"), 0.025)
        body = smin(part("torso"), leg, 0.03)
        body = smin(body, arm, 0.03)
        body = smin(body, part("neck"), 0.035)
        body = smin(body, part("head"), 0.025)
        return np.maximum(body, -p[:, 1])

    def value_and_gradient(self, p: np.ndarray, eps: float = 1e-5) -> tuple[np.ndarray, np.ndarray]:
        """Whole-body field and its finite-difference gradient, one stacked call.

        Central in x, so that mirrored points get exactly mirrored gradients
        and the mesh stays left-right symmetric; forward in y and z.
        """
        n = len(p)
        steps = np.array([(eps, 0, 0), (-eps, 0, 0), (0, eps, 0), (0, 0, eps)])
        f = self(np.concatenate([p] + [p + s for s in steps])).reshape(5, n)
        grad = np.column_stack([(f[1] - f[2]) / (2 * eps), (f[3] - f[0]) / eps, (f[4] - f[0]) / eps])
        return f[0], grad
