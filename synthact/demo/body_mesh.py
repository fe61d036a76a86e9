"""Mesh the demo body: one closed genus-0 triangle surface with exactly 6890 vertices.

The surface is grown as tubes (``body_topology.Builder``): a torso tube with
grid caps, legs from the bottom cap, the neck and head from the top cap, arms
from the side walls, a palm with fingers from its end cap and a thumb from its
side. Rings sit across the bones, so edge loops fall around the joints, which
is what skinning wants. Vertices are then cast onto ``BodySdf``, relaxed
along the surface, triangulated, and edges are split until the vertex count
is exactly the SMPL-H count (a closed genus-0 surface then has 2V - 4 faces).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from synthact.demo.body_sdf import FINGER_RADIUS, BodySdf, finger_chain, joint
from synthact.demo.body_topology import Builder, Ring, Tilt, frame_from, walk

NUM_VERTICES = 6890
X, Y, Z = np.eye(3)

# Torso tube: a grid of T_A cells across z and T_B across x, rings at T_LEVELS.
T_A, T_B = 8, 16
T_LEVELS = np.linspace(0.80, 1.43, 37)
T_HALF = (0.16, 0.10)  # rough half width (x) and depth (z)
ARM_LEVELS = 6  # side-wall segments under the top cap that each arm replaces
# Palm end cap: P_A cells across the hand, P_B through it; 2 x 2 cells per finger.
P_A, P_B = 11, 2
FINGER_COLUMNS = {"pinky": 0, "ring": 3, "middle": 6, "index": 9}
PALM_XS = np.array([0.69, 0.705, 0.72, 0.735, 0.75, 0.765])
PALM_CENTER = (1.396, -0.021)  # y, z of the palm's axis
PALM_HALF = (0.0425, 0.0135)  # across (z) and through (y) the hand


@dataclass(frozen=True)
class BodyMesh:
    """The template surface and, per vertex, its body part and side."""

    vertices: np.ndarray  # (V, 3) float64
    faces: np.ndarray  # (F, 3) int64, outward, counter-clockwise
    part: np.ndarray  # (V,) index into body_sdf.PARTS
    side: np.ndarray  # (V,) +1 left, -1 right, 0 midline


@dataclass(frozen=True)
class _TorsoRegions:
    """Face ids of the torso that the neck, legs and arms (by side) grow from."""

    neck: np.ndarray
    leg: dict[int, np.ndarray]
    arm: dict[int, np.ndarray]


def _mirror(p: np.ndarray, sx: float) -> np.ndarray:
    return np.array([p[0] * sx, p[1], p[2]])


def _along(points: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Points at arc lengths s along a polyline."""
    seg = np.linalg.norm(np.diff(points, axis=0), axis=1)
    cum = np.concatenate([[0], np.cumsum(seg)])
    return np.column_stack([np.interp(s, cum, points[:, k]) for k in range(3)])


# ----------------------------------------------------------------------------- torso


def _torso(b: Builder) -> _TorsoRegions:
    """Torso rings from the crotch to the shoulders, closed by grid caps."""
    wk = walk(T_A, T_B)
    u, w = 2.0 * wk[:, 0] / T_A - 1.0, 2.0 * wk[:, 1] / T_B - 1.0
    frame = np.stack([Z, X, Y])  # e1 across z, e2 across x: rings wind about +y
    rings = []
    for y in T_LEVELS:
        c = np.array([0.0, y, -0.012])
        offsets = np.column_stack([w * T_HALF[0], np.zeros_like(w), u * T_HALF[1]])
        rings.append(Ring(b.add(c, offsets, "torso", 0, 0.35), c, frame))
    walls = np.array([b.quads(p, q) for p, q in itertools.pairwise(rings)])

    def bottom(uu: np.ndarray, ww: np.ndarray) -> np.ndarray:
        return np.column_stack([ww * T_HALF[0], np.full_like(uu, 0.78), uu * T_HALF[1] * 0.9 - 0.012])

    def top(uu: np.ndarray, ww: np.ndarray) -> np.ndarray:
        return np.column_stack([ww * T_HALF[0], np.full_like(uu, 1.45), uu * T_HALF[1] - 0.02])

    _, low = b.grid_cap(rings[0].ids, T_A, T_B, bottom, (0, 0.88, -0.012), "torso", 0, at_start=True)
    _, high = b.grid_cap(rings[-1].ids, T_A, T_B, top, (0, 1.28, -0.02), "torso", 0, at_start=False)
    mid_w, mid_u = 0.5 * (w + np.roll(w, -1)), 0.5 * (u + np.roll(u, -1))
    # Arms: the middle 6 of 8 side-wall cells, top ARM_LEVELS rows. Legs: all of the
    # bottom cap but the two middle columns, which stay as the crotch. Neck: 6 x 6 cells.
    return _TorsoRegions(
        neck=high[1 : T_A - 1, 5 : T_B - 5].ravel(),
        leg={1: low[:, T_B // 2 + 1 :].ravel(), -1: low[:, : T_B // 2 - 1].ravel()},
        arm={sx: walls[-ARM_LEVELS:, (mid_w == sx) & (np.abs(mid_u) < 0.8)].ravel() for sx in (1, -1)},
    )


# ----------------------------------------------------------------------------- head


def _head(b: Builder, loop: np.ndarray) -> None:
    """Neck rings, then 40-vertex head rings up to a dome on the crown."""
    frame = frame_from(Y, Z)  # e1 = +z, e2 = +x
    base = Ring(loop, b.rough[loop].mean(axis=0), frame)
    neck_ys = np.array([1.462, 1.482])
    centers = [np.array([0, y, -0.012]) for y in neck_ys]
    ring = b.tube(base, centers, [frame] * 2, [(0.05, 0.05)] * 2, "neck", 0, settle=2)
    ys = 1.495 + 0.0118 * np.arange(16)
    centers = [np.array([0, y, np.interp(y, (1.49, 1.58, 1.68), (0.02, 0.012, -0.006))]) for y in ys]
    radii = [(np.interp(y, (1.49, 1.6, 1.68), (0.08, 0.1, 0.08)), 0.075) for y in ys]

    def tilt(k: int) -> Tilt:
        # The lowest rings look down the front so the underside of the jaw gets vertices.
        amount = (1.4, 0.8, 0.35)[k] if k < 3 else 0.0
        return lambda off: np.outer(-amount * np.maximum(off @ Z, 0.0), Y)

    # With phase 0 one vertex looks straight ahead: the face has a midline (nose tip, chin).
    ring = b.tube(ring, centers, [frame] * len(ys), radii, "head", 0, count=40, tilt=tilt)
    b.dome(ring, np.array([0, 1.60, -0.006]), 0.1, (0.097, 0.076), "head", 0, counts=(32, 24, 16, 8))


# ----------------------------------------------------------------------------- arm and hand


def _arm(b: Builder, loop: np.ndarray, sx: int) -> None:
    """Upper arm (rings of the shoulder loop's size) and forearm (18), then the hand."""
    sh, el, wr = (_mirror(joint(n), sx) for n in ("left_shoulder", "left_elbow", "left_wrist"))
    frame = frame_from(sx * X, Z)
    chain = np.stack([sh, el, wr])
    xs = np.concatenate([np.linspace(0.218, 0.44, 12), np.linspace(0.462, 0.672, 11)])
    centers = _along(chain, xs - 0.185)
    half = [
        (
            np.interp(x, (0.2, 0.44, 0.5, 0.68), (0.05, 0.038, 0.042, 0.027)),
            np.interp(x, (0.2, 0.44, 0.5, 0.68), (0.05, 0.036, 0.037, 0.02)),
        )
        for x in xs
    ]
    base = Ring(loop, b.rough[loop].mean(axis=0), frame)
    upper = b.tube(base, centers[:12], [frame] * 12, half[:12], "arm", sx)
    fore = b.tube(upper, centers[12:], [frame] * 11, half[12:], "arm", sx, count=18)
    _hand(b, fore, sx, frame)


def _palm_ring(b: Builder, x: float, sx: int, frame: np.ndarray) -> Ring:
    """A palm cross-section laid out as ``walk(P_A, P_B)``, so a grid can close it."""
    wk = walk(P_A, P_B)
    u, w = 2.0 * wk[:, 0] / P_A - 1.0, 2.0 * wk[:, 1] / P_B - 1.0
    c = np.array([sx * x, *PALM_CENTER])
    offsets = np.outer(u * PALM_HALF[0], frame[0]) + np.outer(w * PALM_HALF[1], frame[1])
    return Ring(b.add(c, offsets, "palm", sx, 0.1), c, frame)


def _hand(b: Builder, fore: Ring, sx: int, frame: np.ndarray) -> None:
    """Palm rings and knuckle cap; fingers grow from the cap, the thumb from the side."""
    rings = [_palm_ring(b, x, sx, frame) for x in PALM_XS]
    b.strip(fore, rings[0])
    walls = np.array([b.quads(p, q) for p, q in itertools.pairwise(rings)])
    end = np.array([sx * (PALM_XS[-1] + 0.016), *PALM_CENTER])

    def targets(uu: np.ndarray, ww: np.ndarray) -> np.ndarray:
        return end + np.outer(uu * PALM_HALF[0], frame[0]) + np.outer(ww * PALM_HALF[1], frame[1])

    anchor = np.array([sx * 0.735, *PALM_CENTER])
    _, cap = b.grid_cap(rings[-1].ids, P_A, P_B, targets, anchor, "palm", sx, at_start=False)
    for finger, col in FINGER_COLUMNS.items():
        _finger(b, b.cut_region(cap[col : col + 2, :].ravel()), finger, sx)
    wk = walk(P_A, P_B)
    thumb_side = (wk[:, 0] == P_A) & (np.roll(wk[:, 0], -1) == P_A)
    _finger(b, b.cut_region(walls[1:3, thumb_side].ravel()), "thumb", sx)


def _finger(b: Builder, loop: np.ndarray, finger: str, sx: int) -> None:
    """Eight-vertex rings every 8.5 mm along the finger's joints, and a round tip."""
    chain = np.array([_mirror(p, sx) for p in finger_chain(finger)])
    length = np.linalg.norm(np.diff(chain, axis=0), axis=1).sum()
    start = 0.03 if finger == "thumb" else 0.007
    s = np.arange(start, length - 0.005, 0.0085)
    centers = _along(chain, s)
    t = np.gradient(centers, axis=0) if len(s) > 1 else chain[-1:] - chain[:1]
    frames = [frame_from(tk, Y if finger == "thumb" else Z) for tk in t]
    r0 = FINGER_RADIUS[finger]
    radii = [(r, r) for r in np.interp(s, (0, length), (r0, r0 * 0.8))]
    base = Ring(loop, b.rough[loop].mean(axis=0), frames[0])
    ring = b.tube(base, centers, frames, radii, finger, sx, settle=2)
    # The capsule's round end reaches one radius past the chain's tip.
    b.dome(ring, centers[-1], length - s[-1] + radii[-1][0], radii[-1], finger, sx, counts=(8,))


# ----------------------------------------------------------------------------- leg and foot


def _leg(b: Builder, loop: np.ndarray, sx: int) -> None:
    """Horizontal rings down the leg: 30 around the thigh, 24 the shin, 20 the ankle."""
    hip, knee, ankle = (_mirror(joint(n), sx) for n in ("left_hip", "left_knee", "left_ankle"))
    chain = np.stack([hip, knee, ankle])
    ys = np.linspace(0.765, 0.13, 33)
    centers = np.column_stack([np.interp(-ys, -chain[:, 1], chain[:, k]) for k in range(3)])
    centers[:, 1] = ys
    t = np.gradient(centers, axis=0)
    frames = [frame_from(tk, Z) for tk in t]
    r = np.interp(-ys, (-0.77, -0.49, -0.35, -0.13), (0.075, 0.052, 0.05, 0.034))
    radii = list(zip(r, r, strict=True))
    base = Ring(loop, b.rough[loop].mean(axis=0), frames[0])
    thigh = b.tube(base, centers[:14], frames[:14], radii[:14], "leg", sx)
    shin = b.tube(thigh, centers[14:24], frames[14:24], radii[14:24], "leg", sx, count=24)
    ankle_ring = b.tube(shin, centers[24:], frames[24:], radii[24:], "leg", sx, count=20)
    _foot(b, ankle_ring, centers[-1], sx)


def _fan_frame(psi: float) -> np.ndarray:
    """Ring frame turned by psi about x: psi = 0 across the shin, pi/2 across the foot."""
    e1, t = np.array([0, np.sin(psi), np.cos(psi)]), np.array([0, -np.cos(psi), np.sin(psi)])
    return np.stack([e1, np.cross(t, e1), t])


def _foot(b: Builder, ankle_ring: Ring, shin_end: np.ndarray, sx: int) -> None:
    """Rings that turn from across the shin to across the foot, then to the toes."""
    # The turning ring planes all share one line in front of the ankle, outside the
    # body, so they fan out through the heel and never cross inside the foot.
    line = np.array([shin_end[0], shin_end[1], 0.065])
    psi = np.linspace(0, np.pi / 2, 8)[1:]
    frames = [_fan_frame(a) for a in psi]
    reach = np.interp(psi, (0, np.pi / 2), (line[2] - shin_end[2], shin_end[1] - 0.035))
    centers = [line + s * np.array([0, -np.sin(a), -np.cos(a)]) for a, s in zip(psi, reach, strict=True)]
    radii = [
        (np.interp(a, (0, 1.0, np.pi / 2), (0.034, 0.05, 0.032)), np.interp(a, (0, np.pi / 2), (0.034, 0.045)))
        for a in psi
    ]
    ring = b.tube(ankle_ring, centers, frames, radii, "foot", sx, settle=1)
    zs = np.linspace(0.08, 0.145, 6)
    centers = [np.array([sx * 0.108, np.interp(z, (0.06, 0.15), (0.035, 0.022)), z]) for z in zs]
    ring = b.tube(ring, centers, [frames[-1]] * len(zs), [(0.028, 0.046)] * len(zs), "foot", sx, settle=1)
    b.dome(ring, centers[-1], 0.167 - zs[-1], (0.022, 0.046), "foot", sx, counts=(14, 8))


# ----------------------------------------------------------------------------- surface clean-up


def _edges(faces: list[tuple[int, ...]]) -> np.ndarray:
    """Unique undirected edges (E, 2) of polygons."""
    pairs = np.array([(f[k], f[(k + 1) % len(f)]) for f in faces for k in range(len(f))])
    return np.unique(np.sort(pairs, axis=1), axis=0)


def _neighbour_mean(pos: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Mean position of each vertex's neighbours (the umbrella operator's target)."""
    n = len(pos)
    deg = np.bincount(edges.ravel(), minlength=n).astype(float)
    cols = [
        np.bincount(edges[:, 0], pos[edges[:, 1], k], n) + np.bincount(edges[:, 1], pos[edges[:, 0], k], n)
        for k in range(3)
    ]
    return np.column_stack(cols) / deg[:, None]


def _relax(pos: np.ndarray, edges: np.ndarray, sdf: BodySdf, iterations: int, step: float) -> np.ndarray:
    """Even out the vertex spacing, sliding along the surface and re-projecting."""
    for _ in range(iterations):
        _, g = sdf.value_and_gradient(pos)
        normal = _unit(g)
        move = _neighbour_mean(pos, edges) - pos
        pos = pos + step * (move - (move * normal).sum(axis=1, keepdims=True) * normal)
        # One Newton step back onto the surface; the slide was short, so the old gradient will do.
        pos = pos - (sdf(pos) / np.maximum((g * g).sum(axis=1), 1e-12))[:, None] * g
    return pos


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)


def project(pos: np.ndarray, sdf: BodySdf, steps: int = 3) -> np.ndarray:
    """Newton steps onto the zero level set of the whole-body field."""
    for _ in range(steps):
        f, g = sdf.value_and_gradient(pos)
        pos = pos - (f / np.maximum((g * g).sum(axis=1), 1e-12))[:, None] * g
    return pos


def _triangulate(pos: np.ndarray, faces: list[tuple[int, ...]]) -> np.ndarray:
    """Triangles: quads split along their shorter diagonal."""
    tris = [f for f in faces if len(f) == 3]
    for a, b_, c, d in (f for f in faces if len(f) == 4):
        # Near-ties go to the a-c diagonal, so rounding noise cannot change the topology.
        if np.linalg.norm(pos[a] - pos[c]) <= np.linalg.norm(pos[b_] - pos[d]) + 1e-7:
            tris += [(a, b_, c), (a, c, d)]
        else:
            tris += [(a, b_, d), (b_, c, d)]
    return np.array(tris, dtype=np.int64)


def _split_longest(pos: np.ndarray, tris: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split ``count`` of the longest edges at their midpoints.

    Each split adds one vertex and two faces and keeps the surface closed; edges
    are taken longest first, skipping any that shares a face with one already split.

    Returns:
        Positions, triangles, and for each new vertex the vertex it copies tags from.
    """
    if count <= 0:
        return pos, tris, np.zeros(0, dtype=np.int64)
    directed = np.stack([tris, np.roll(tris, -1, axis=1)], axis=2).reshape(-1, 2)
    # Lengths in whole micrometres: equal-looking edges are ordered by vertex id, not by rounding noise.
    length = np.round(np.linalg.norm(pos[directed[:, 0]] - pos[directed[:, 1]], axis=1) * 1e6)
    order = np.lexsort((directed[:, 1], directed[:, 0], -length))
    owner = {(int(u), int(v)): i // 3 for i, (u, v) in enumerate(directed)}
    busy = np.zeros(len(tris), dtype=bool)
    tris = tris.copy()
    new_pos: list[np.ndarray] = []
    parent: list[int] = []
    extra: list[tuple[int, int, int]] = []
    for u, v in directed[order].tolist():
        if u > v or busy[owner[(u, v)]] or busy[owner[(v, u)]]:
            continue
        m = len(pos) + len(new_pos)
        new_pos.append(0.5 * (pos[u] + pos[v]))
        parent.append(u)
        for a, b in ((u, v), (v, u)):
            f = owner[(a, b)]
            busy[f] = True
            tri = tris[f].tolist()
            other = tri[(tri.index(a) + 2) % 3]
            tris[f] = (a, m, other)
            extra.append((m, b, other))
        if len(new_pos) == count:
            break
    if len(new_pos) < count:
        raise ValueError("not enough independent edges to split")
    return np.vstack([pos, new_pos]), np.vstack([tris, extra]), np.array(parent, dtype=np.int64)


def _grow(b: Builder) -> None:
    """The whole body's topology: torso, then head, arms and legs from its regions."""
    regions = _torso(b)
    _head(b, b.cut_region(regions.neck))
    for sx in (1, -1):
        _arm(b, b.cut_region(regions.arm[sx]), sx)
        _leg(b, b.cut_region(regions.leg[sx]), sx)


def build_body_mesh(relax_iterations: int = 12) -> BodyMesh:
    """Build the neutral demo body surface, deterministically.

    Args:
        relax_iterations: Smoothing passes that even out the vertex spacing.

    Returns:
        The closed surface with exactly ``NUM_VERTICES`` vertices.
    """
    sdf = BodySdf()
    b = Builder()
    _grow(b)
    pos = b.cast(sdf)
    faces, used = b.live()  # extruded regions leave their inner grid vertices unused
    if len(used) > NUM_VERTICES:
        raise ValueError(f"body mesh has {len(used)} vertices, more than {NUM_VERTICES}")
    remap = -np.ones(b.n, dtype=np.int64)
    remap[used] = np.arange(used.size)
    faces = [tuple(int(remap[i]) for i in f) for f in faces]
    pos, part, side = pos[used], b.part[used], b.side[used]
    pos = project(_relax(project(pos, sdf), _edges(faces), sdf, relax_iterations, 0.5), sdf, steps=2)
    tris = _triangulate(pos, faces)
    pos, tris, parent = _split_longest(pos, tris, NUM_VERTICES - len(pos))  # about 70 edges
    pos[len(part) :] = project(pos[len(part) :], sdf)
    return BodyMesh(pos, tris, np.concatenate([part, part[parent]]), np.concatenate([side, side[parent]]))
