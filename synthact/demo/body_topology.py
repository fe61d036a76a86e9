"""A small polygon-mesh builder for closed surfaces made of extruded tubes.

Every operation keeps the surface a closed, consistently oriented 2-manifold
of genus 0: a region (a disk of faces) is cut out and a tube is grown from its
boundary; tubes change their ring size through triangle strips and end in
grid caps or domes. The builder does not know final positions: each vertex
gets a ray (an anchor inside the body and a direction) and a body part, and
``cast`` later moves it to where its ray leaves that part of ``BodySdf``.

Orientation rule: a ring winds positively (right-hand rule) around the
direction in which its tube grows, and the faces between ring P and the next
ring Q are ``(P_i, P_i+1, Q_i+1, Q_i)``, so all normals point outwards.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from synthact.demo.body_sdf import PARTS, BodySdf

_CAPACITY = 12000  # vertices, including region interiors that extrusions orphan

Tilt = Callable[[np.ndarray], np.ndarray]  # ray offsets (n, 3) -> extra offsets (n, 3)


@dataclass
class Ring:
    """A closed loop of vertex ids, winding positively about ``frame[2]``."""

    ids: np.ndarray
    center: np.ndarray
    frame: np.ndarray  # rows e1, e2, t with e1 x e2 = t


def frame_from(t: np.ndarray, up: np.ndarray) -> np.ndarray:
    """Orthonormal (e1, e2, t): e1 is ``up`` made perpendicular to t."""
    t = t / np.linalg.norm(t)
    e1 = up - (up @ t) * t
    e1 /= np.linalg.norm(e1)
    return np.stack([e1, np.cross(t, e1), t])


def walk(a: int, b: int) -> np.ndarray:
    """Boundary of an a x b grid as (i, j) pairs, counter-clockwise, from (0, 0)."""
    bottom = [(i, 0) for i in range(a)]
    right = [(a, j) for j in range(b)]
    top = [(i, b) for i in range(a, 0, -1)]
    left = [(0, j) for j in range(b, 0, -1)]
    return np.array(bottom + right + top + left)


class Builder:
    """Grows the mesh; vertices carry rays until ``cast`` places them."""

    def __init__(self) -> None:
        self.anchor = np.zeros((_CAPACITY, 3))
        self.direction = np.zeros((_CAPACITY, 3))
        self.rough = np.zeros((_CAPACITY, 3))
        self.reach = np.zeros(_CAPACITY)
        self.part = np.zeros(_CAPACITY, dtype=np.int8)
        self.side = np.zeros(_CAPACITY, dtype=np.int8)
        self.n = 0
        self.faces: list[tuple[int, ...] | None] = []

    # ------------------------------------------------------------------ vertices and faces

    def add(
        self, anchor: Sequence[float] | np.ndarray, offsets: np.ndarray, part: str, side: int, reach: float
    ) -> np.ndarray:
        """Add vertices on rays ``anchor + s * offset``; rough position at s = 1.

        Args:
            anchor: A point inside ``part`` where the rays start.
            offsets: (n, 3) ray offsets; their length is the rough radius.
            part: Body part (``body_sdf.PARTS``) the rays are cast against.
            side: +1 left, -1 right, 0 midline.
            reach: How far (metres) ``cast`` searches along each ray.

        Returns:
            The new vertex ids.
        """
        offsets = np.atleast_2d(offsets)
        ids = np.arange(self.n, self.n + len(offsets))
        self.n += len(offsets)
        anchor = np.broadcast_to(anchor, offsets.shape)
        self.anchor[ids] = anchor
        self.direction[ids] = offsets / np.linalg.norm(offsets, axis=1, keepdims=True)
        self.rough[ids] = anchor + offsets
        self.reach[ids] = reach
        self.part[ids] = PARTS.index(part)
        self.side[ids] = side
        return ids

    def face(self, *ids: int) -> int:
        """Add one polygon; returns its face id."""
        self.faces.append(tuple(int(i) for i in ids))
        return len(self.faces) - 1

    def cut_region(self, face_ids: Iterable[int]) -> np.ndarray:
        """Remove a disk of faces and return its boundary loop, in face order."""
        directed: set[tuple[int, int]] = set()
        for f in face_ids:
            poly = self.faces[f]
            assert poly is not None, f"face {f} is already cut"
            directed.update(zip(poly, poly[1:] + poly[:1], strict=True))
            self.faces[f] = None
        step = {u: v for u, v in directed if (v, u) not in directed}
        loop = [min(step)]
        while len(loop) < len(step):
            loop.append(step[loop[-1]])
        if step[loop[-1]] != loop[0]:
            raise ValueError("region is not a disk")
        return np.array(loop)

    # ------------------------------------------------------------------ rings and tubes

    def angles(self, ring: Ring) -> np.ndarray:
        """Increasing angles of a ring's rough positions about its axis."""
        d = self.rough[ring.ids] - ring.center
        theta = np.unwrap(np.arctan2(d @ ring.frame[1], d @ ring.frame[0]))
        if theta[-1] < theta[0]:
            raise ValueError("ring winds the wrong way")
        return theta

    def ring(
        self,
        center: np.ndarray,
        frame: np.ndarray,
        theta: np.ndarray,
        radii: tuple[float, float],
        part: str,
        side: int,
        tilt: Tilt | None = None,
    ) -> Ring:
        """New ring of rays from ``center`` at angles theta, with elliptic radii along (e1, e2)."""
        offsets = np.outer(radii[0] * np.cos(theta), frame[0]) + np.outer(radii[1] * np.sin(theta), frame[1])
        if tilt is not None:
            offsets = offsets + tilt(offsets)
        ids = self.add(center, offsets, part, side, reach=3.0 * max(radii))
        return Ring(ids, np.asarray(center, float), frame)

    def quads(self, p: Ring, q: Ring) -> list[int]:
        """Connect two rings of equal size; returns the face ids."""
        n = len(p.ids)
        return [self.face(p.ids[i], p.ids[(i + 1) % n], q.ids[(i + 1) % n], q.ids[i]) for i in range(n)]

    def strip(self, p: Ring, q: Ring) -> None:
        """Connect two rings of any sizes with triangles.

        Edges of both rings are taken in the order of their mid-angles; an edge
        of one ring gets the other ring's vertex between its neighbouring edges
        as apex. That choice does not depend on the direction of travel, so
        mirrored rings are zipped into mirrored strips.
        """
        a = self.angles(p)
        b = self.angles(Ring(q.ids, q.center, p.frame))
        a_mid = 0.5 * (a + np.append(a[1:], a[0] + 2 * np.pi)) - a[0]
        b_mid = (0.5 * (b + np.append(b[1:], b[0] + 2 * np.pi)) - a[0]) % (2 * np.pi)
        start = int(np.argmin(b_mid))
        qi, b_mid = np.roll(q.ids, -start), np.roll(b_mid, -start)
        n, m = len(p.ids), len(qi)
        i = j = 0
        while i < n or j < m:
            if j == m or (i < n and self._advance_p(a_mid[i], b_mid[j], p.ids, qi, i, j)):
                self.face(p.ids[i], p.ids[(i + 1) % n], qi[j % m])
                i += 1
            else:
                self.face(p.ids[i % n], qi[(j + 1) % m], qi[j])
                j += 1

    def _advance_p(self, a_mid: float, b_mid: float, p_ids: np.ndarray, q_ids: np.ndarray, i: int, j: int) -> bool:
        """Zipper step; a tie takes the shorter diagonal."""
        if abs(a_mid - b_mid) > 1e-9:
            return a_mid < b_mid
        n, m = len(p_ids), len(q_ids)
        via_p = np.linalg.norm(self.rough[p_ids[(i + 1) % n]] - self.rough[q_ids[j % m]])
        via_q = np.linalg.norm(self.rough[p_ids[i % n]] - self.rough[q_ids[(j + 1) % m]])
        return bool(via_p < via_q - 1e-9)  # a true tie always advances q

    def tube(
        self,
        base: Ring,
        centers: Sequence[np.ndarray] | np.ndarray,
        frames: Sequence[np.ndarray] | np.ndarray,
        radii: Sequence[tuple[float, float]],
        part: str,
        side: int,
        count: int | None = None,
        settle: int = 3,
        tilt: Callable[[int], Tilt | None] | None = None,
        phase: float = 0.0,
    ) -> Ring:
        """Grow a tube of rings from ``base``; returns the last ring.

        Args:
            base: The loop the tube starts from.
            centers, frames, radii: Per new ring: axis point, (e1, e2, t) frame, half sizes.
            part, side: Tags of the new vertices.
            count: None keeps the base's ring size, and the angles relax from the
                base's to uniform over ``settle`` rings. Otherwise the first ring has
                ``count`` uniform angles, the first at ``phase`` (0: on e1, which keeps
                mirrored limbs mirrored), and joins the base through a strip.
            settle: See ``count``.
            tilt: Per ring index, an optional bend of its rays.
            phase: See ``count``.
        """
        theta = self.angles(Ring(base.ids, centers[0], frames[0]))
        n = len(theta) if count is None else count
        uniform = np.arange(n) * 2 * np.pi / n
        if count is None:
            # Best-fitting rotation, snapped to a multiple of pi/n: such angle sets
            # are their own mirror images, so mirrored limbs get mirrored rings.
            half_step = np.pi / n
            uniform += half_step * np.round(np.mean(theta - uniform) / half_step)
        else:
            uniform += phase
        prev = base
        for k, (c, f, r) in enumerate(zip(centers, frames, radii, strict=True)):
            alpha = 1.0 if count is not None else min(1.0, (k + 1) / settle)
            angles = uniform if count is not None else (1 - alpha) * theta + alpha * uniform
            ring = self.ring(c, f, angles, r, part, side, tilt(k) if tilt else None)
            if k == 0 and count is not None:
                self.strip(prev, ring)
            else:
                self.quads(prev, ring)
            prev = ring
        return prev

    def dome(
        self,
        last: Ring,
        anchor: np.ndarray,
        tip: float,
        radii: tuple[float, float],
        part: str,
        side: int,
        counts: Sequence[int],
    ) -> int:
        """Close a tube with shrinking rings and a pole; returns the pole's vertex id.

        Args:
            last: The ring to close.
            anchor: Inside point the dome's rays start from.
            tip: Rough distance from ``anchor`` to the pole, along the ring's axis.
            radii: Half sizes of the dome across (e1, e2).
            part, side: Tags of the new vertices.
            counts: Sizes of the rings between ``last`` and the pole.
        """
        e1, e2, t = last.frame
        d = self.rough[last.ids] - anchor
        start = np.mean(np.arccos(np.clip(d @ t / np.linalg.norm(d, axis=1), -1, 1)))
        prev = last
        for m, phi in zip(counts, np.linspace(start, 0, len(counts) + 2)[1:-1], strict=True):
            same = m == len(prev.ids)  # then follow the previous ring's angles, with quads
            # Otherwise a vertex at angle 0 keeps mirrored domes mirrored.
            theta = self.angles(Ring(prev.ids, anchor, last.frame)) if same else np.arange(m) * 2 * np.pi / m
            offsets = (
                np.outer(np.sin(phi) * radii[0] * np.cos(theta), e1)
                + np.outer(np.sin(phi) * radii[1] * np.sin(theta), e2)
                + np.cos(phi) * tip * t
            )
            ring = Ring(self.add(anchor, offsets, part, side, 3.0 * tip), np.asarray(anchor, float), last.frame)
            self.quads(prev, ring) if same else self.strip(prev, ring)
            prev = ring
        pole = int(self.add(anchor, t * tip, part, side, 3.0 * tip)[0])
        n = len(prev.ids)
        for i in range(n):
            self.face(prev.ids[i], prev.ids[(i + 1) % n], pole)
        return pole

    def grid_cap(
        self,
        ring_ids: np.ndarray,
        a: int,
        b: int,
        targets: Callable[[np.ndarray, np.ndarray], np.ndarray],
        anchor: Sequence[float] | np.ndarray,
        part: str,
        side: int,
        at_start: bool,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Close a ring laid out as ``walk(a, b)`` with an a x b grid of quads.

        Args:
            ring_ids: The ring, in ``walk(a, b)`` order.
            a, b: Grid cells along the frame's e1 and e2.
            targets: Rough positions (n, 3) of grid points given u, w in [-1, 1].
            anchor: Inside point the rays of the new vertices start from.
            part, side: Tags of the new vertices.
            at_start: True when the ring starts its tube (the cap faces backwards).

        Returns:
            Vertex ids (a + 1, b + 1) and face ids (a, b) of the grid.
        """
        grid = -np.ones((a + 1, b + 1), dtype=np.int64)
        for (i, j), vid in zip(walk(a, b), ring_ids, strict=True):
            grid[i, j] = vid
        ii, jj = np.nonzero(grid < 0)
        pts = targets(2.0 * ii / a - 1.0, 2.0 * jj / b - 1.0)
        grid[ii, jj] = self.add(anchor, pts - anchor, part, side, 3.0 * np.abs(pts - anchor).max())
        faces = np.zeros((a, b), dtype=np.int64)
        for i in range(a):
            for j in range(b):
                quad = [grid[i, j], grid[i + 1, j], grid[i + 1, j + 1], grid[i, j + 1]]
                faces[i, j] = self.face(*(quad[::-1] if at_start else quad))
        return grid, faces

    # ------------------------------------------------------------------ placement

    def cast(self, sdf: BodySdf, steps: int = 48, refine: int = 18) -> np.ndarray:
        """Positions (n, 3): where each vertex's ray first leaves its own body part.

        The ray is sampled at ``steps`` points up to its reach, and the first
        crossing refined by bisection; a ray that never leaves keeps its rough spot.
        """
        pos = self.rough[: self.n].copy()
        for p, name in enumerate(PARTS):
            ids = np.nonzero(self.part[: self.n] == p)[0]
            if ids.size:
                pos[ids] = self._cast_part(sdf, name, ids, steps, refine)
        return pos

    def _cast_part(self, sdf: BodySdf, name: str, ids: np.ndarray, steps: int, refine: int) -> np.ndarray:
        o, d, reach = self.anchor[ids], self.direction[ids], self.reach[ids]

        def outside(s: np.ndarray) -> np.ndarray:
            return sdf.part(name, o + d * (s * reach)[:, None]) > 0

        lo, hi = np.zeros(ids.size), np.ones(ids.size)
        found = np.zeros(ids.size, dtype=bool)
        for s in np.linspace(0, 1, steps + 1)[1:]:
            out = outside(np.full(ids.size, s)) & ~found
            hi[out] = s
            found |= out
            lo[~found] = s
        for _ in range(refine):
            mid = 0.5 * (lo + hi)
            out = outside(mid)
            hi, lo = np.where(out, mid, hi), np.where(out, lo, mid)
        hit = o + d * (0.5 * (lo + hi) * reach)[:, None]
        return np.where(found[:, None], hit, self.rough[ids])

    def live(self) -> tuple[list[tuple[int, ...]], np.ndarray]:
        """Faces still in the mesh, and the ids of the vertices they use."""
        faces = [f for f in self.faces if f is not None]
        used = np.unique(np.concatenate([np.array(f) for f in faces]))
        return faces, used
