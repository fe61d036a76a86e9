"""Camera math without Blender: intrinsics, look-at extrinsics, projection, rigs.

Cameras use the OpenCV convention: x right, y down, z forward, and
``X_cam = R @ X_world + t``. Pixel (i, j) covers [i, i+1) x [j, j+1), so the
principal point of a centred camera is (W/2, H/2). The world is Z-up, metres.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Camera:
    K: np.ndarray  # (3, 3) intrinsics, pixels
    R: np.ndarray  # (3, 3) world -> camera rotation
    t: np.ndarray  # (3,) world -> camera translation
    width: int
    height: int

    @property
    def position(self) -> np.ndarray:
        """Camera centre in world coordinates."""
        return -self.R.T @ self.t

    def to_dict(self) -> dict:
        return {
            "K": self.K.tolist(),
            "R": self.R.tolist(),
            "t": self.t.tolist(),
            "width": self.width,
            "height": self.height,
        }

    @classmethod
    def from_dict(cls, data: dict) -> Camera:
        return cls(
            K=np.asarray(data["K"], dtype=np.float64),
            R=np.asarray(data["R"], dtype=np.float64),
            t=np.asarray(data["t"], dtype=np.float64),
            width=int(data["width"]),
            height=int(data["height"]),
        )


def intrinsics(width: int, height: int, hfov_deg: float) -> np.ndarray:
    """Pinhole intrinsics with square pixels and a centred principal point."""
    fx = (width / 2.0) / math.tan(math.radians(hfov_deg) / 2.0)
    return np.array([[fx, 0.0, width / 2.0], [0.0, fx, height / 2.0], [0.0, 0.0, 1.0]])


def _norm(x: float, y: float, z: float) -> float:
    v = np.array((x, y, z))
    return math.sqrt(v.dot(v))


def look_at(
    position: Sequence[float], target: Sequence[float], up: Sequence[float] = (0.0, 0.0, 1.0)
) -> tuple[np.ndarray, np.ndarray]:
    """World->camera (R, t) of a camera at ``position`` looking at ``target``.

    Written on floats rather than 3-element arrays: numpy's per-call overhead
    (~45 us a call) was a quarter of the plan stage at AMARV scale (3.2M views).
    """
    px, py, pz = (float(v) for v in position)
    ux, uy, uz = (float(v) for v in up)
    fx, fy, fz = float(target[0]) - px, float(target[1]) - py, float(target[2]) - pz
    n = _norm(fx, fy, fz)
    fx, fy, fz = fx / n, fy / n, fz / n
    rx, ry, rz = fy * uz - fz * uy, fz * ux - fx * uz, fx * uy - fy * ux  # forward x up
    n = _norm(rx, ry, rz)
    if n < 1e-9:
        raise ValueError("camera looks straight along the up axis; pick another target")
    rx, ry, rz = rx / n, ry / n, rz / n
    # Rows: the camera's right, down (forward x right) and forward axes in world coordinates.
    R = np.array(((rx, ry, rz), (fy * rz - fz * ry, fz * rx - fx * rz, fx * ry - fy * rx), (fx, fy, fz)))
    return R, -R @ np.array((px, py, pz))


def to_camera(points: np.ndarray, camera: Camera) -> np.ndarray:
    """World points (..., 3) to camera coordinates (..., 3)."""
    return np.asarray(points, dtype=np.float64) @ camera.R.T + camera.t


def project(points_cam: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Camera-space points (..., 3) to pixel coordinates (..., 2)."""
    z = points_cam[..., 2:3]
    uvw = points_cam @ K.T
    with np.errstate(divide="ignore", invalid="ignore"):
        return uvw[..., :2] / z


def vertical_fov_deg(width: int, height: int, hfov_deg: float) -> float:
    return math.degrees(2 * math.atan(math.tan(math.radians(hfov_deg) / 2) * height / width))
