"""Rotation helpers for the fitter: differentiable in torch, exact in numpy.

Axis-angle vectors are ``(..., 3)``; rotation matrices are ``(..., 3, 3)`` and
act on column vectors. scipy is not a dependency, so the conversions live here.
"""

from __future__ import annotations

import numpy as np
import torch

# Below this squared angle the closed forms lose precision, so Taylor series are used.
_SMALL_ANGLE_SQ = 1e-8


def skew(v: torch.Tensor) -> torch.Tensor:
    """Cross-product matrices ``[v]x`` of ``(..., 3)`` vectors."""
    x, y, z = v.unbind(-1)
    zero = torch.zeros_like(x)
    rows = (zero, -z, y, z, zero, -x, -y, x, zero)
    return torch.stack(rows, dim=-1).reshape(v.shape[:-1] + (3, 3))


def axis_angle_to_matrix(v: torch.Tensor) -> torch.Tensor:
    """Rodrigues' formula with gradients that stay finite at the zero rotation.

    Body poses start at exactly zero, where ``sin(t)/t`` and its derivative must
    come from Taylor series: the closed form would divide by zero.
    """
    theta_sq = (v * v).sum(-1, keepdim=True)
    small = theta_sq < _SMALL_ANGLE_SQ
    safe_sq = torch.where(small, torch.ones_like(theta_sq), theta_sq)
    theta = safe_sq.sqrt()
    a = torch.where(small, 1.0 - theta_sq / 6.0, torch.sin(theta) / theta)
    b = torch.where(small, 0.5 - theta_sq / 24.0, (1.0 - torch.cos(theta)) / safe_sq)
    k = skew(v)
    eye = torch.eye(3, dtype=v.dtype, device=v.device).expand_as(k)
    return eye + a[..., None] * k + b[..., None] * (k @ k)


def matrix_to_quaternion_np(r: np.ndarray) -> np.ndarray:
    """Unit quaternions ``(..., 4)`` in ``(w, x, y, z)`` order, with ``w >= 0``.

    Shepperd's method: pick the largest of the four squared components as the
    pivot so the division is always well conditioned, including near 180 degrees.
    """
    r = np.asarray(r, dtype=np.float64)
    m = r.reshape(-1, 3, 3)
    trace = np.trace(m, axis1=1, axis2=2)
    # 4w^2 - 1 = trace and 4x^2 - 1 = 2 m00 - trace (likewise y, z): compare those.
    diag = np.stack([trace, 2 * m[:, 0, 0] - trace, 2 * m[:, 1, 1] - trace, 2 * m[:, 2, 2] - trace], axis=1)
    pivot = np.argmax(diag, axis=1)
    q = np.empty((m.shape[0], 4))
    for k in range(4):
        rows = pivot == k
        q[rows] = _quaternion_from_pivot(m[rows], k)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    q *= np.where(q[:, :1] < 0.0, -1.0, 1.0)
    return q.reshape(r.shape[:-2] + (4,))


def _quaternion_from_pivot(m: np.ndarray, k: int) -> np.ndarray:
    """Quaternions of matrices whose largest quaternion component is number ``k``."""
    m00, m11, m22 = m[:, 0, 0], m[:, 1, 1], m[:, 2, 2]
    s_yz, d_yz = m[:, 2, 1] + m[:, 1, 2], m[:, 2, 1] - m[:, 1, 2]
    s_xz, d_xz = m[:, 0, 2] + m[:, 2, 0], m[:, 0, 2] - m[:, 2, 0]
    s_xy, d_xy = m[:, 1, 0] + m[:, 0, 1], m[:, 1, 0] - m[:, 0, 1]
    if k == 0:
        t = 1.0 + m00 + m11 + m22
        q = (t, d_yz, d_xz, d_xy)
    elif k == 1:
        t = 1.0 + m00 - m11 - m22
        q = (d_yz, t, s_xy, s_xz)
    elif k == 2:
        t = 1.0 - m00 + m11 - m22
        q = (d_xz, s_xy, t, s_yz)
    else:
        t = 1.0 - m00 - m11 + m22
        q = (d_xy, s_xz, s_yz, t)
    return np.stack(q, axis=1) * (0.5 / np.sqrt(np.maximum(t, 1e-300)))[:, None]


def matrix_to_axis_angle_np(r: np.ndarray) -> np.ndarray:
    """Axis-angle vectors ``(..., 3)`` with angles in ``[0, pi]``."""
    q = matrix_to_quaternion_np(r)
    xyz = q[..., 1:]
    sin_half = np.linalg.norm(xyz, axis=-1, keepdims=True)
    angle = 2.0 * np.arctan2(sin_half, q[..., :1])
    # angle / sin(angle / 2) tends to 2 at zero; guard the division there.
    scale = np.where(sin_half > 1e-12, angle / np.maximum(sin_half, 1e-12), 2.0)
    return xyz * scale


def axis_angle_to_matrix_np(v: np.ndarray) -> np.ndarray:
    """Numpy twin of :func:`axis_angle_to_matrix` (float64)."""
    return axis_angle_to_matrix(torch.from_numpy(np.asarray(v, dtype=np.float64))).numpy()


def kabsch_rotations(source: np.ndarray, target: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Per-frame rotations that best map centred ``source`` points onto ``target``.

    Args:
        source: (N, 3) points, the same for every frame (the model at rest).
        target: (T, N, 3) points per frame.
        weights: (T, N) non-negative weights (0 for missing points).

    Returns:
        (T, 3, 3) proper rotations ``R`` minimising
        ``sum_i w_i |R (s_i - s_mean) - (t_i - t_mean)|^2`` with weighted means.
    """
    w = weights / np.maximum(weights.sum(1, keepdims=True), 1e-12)
    s_mean = np.einsum("tn,nk->tk", w, source)
    t_mean = np.einsum("tn,tnk->tk", w, target)
    s_c = source[None] - s_mean[:, None]
    t_c = target - t_mean[:, None]
    cov = np.einsum("tn,tna,tnb->tab", w, t_c, s_c)
    u, _, vt = np.linalg.svd(cov)
    # Flip the last axis where needed so the result is a rotation, not a reflection.
    sign = np.sign(np.linalg.det(u @ vt))
    sign[sign == 0] = 1.0
    fix = np.ones((cov.shape[0], 3))
    fix[:, 2] = sign
    return (u * fix[:, None, :]) @ vt
