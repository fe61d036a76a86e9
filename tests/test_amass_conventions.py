"""AMASS's coordinate conventions, through our loader and body posing:
the world is Z-up, the Y-up body template is turned upright by the root
orientation, and trans is not the pelvis: pelvis = J0(betas) + trans."""

import math

import numpy as np
import pytest

from synthact.body.smplh import BodyModel
from synthact.sources.amass import load_motion

UPRIGHT = np.array([math.pi / 2, 0.0, 0.0])  # template +Y (up) -> world +Z


@pytest.fixture(scope="module")
def body(demo_body_model_dir) -> BodyModel:
    return BodyModel(demo_body_model_dir, "female")


def write_standing_motion(path, body: BodyModel, betas: np.ndarray, heading_deg: float, frames: int = 4) -> None:
    """A motion file in the real AMASS layout: standing still at the origin."""
    rest = body.rest_joints(betas)
    heading = np.array([0.0, 0.0, math.radians(heading_deg)])
    root = _compose(heading, UPRIGHT)
    poses = np.zeros((frames, 156))
    poses[:, :3] = root
    # With trans = 0 the body turns about J0 and its soles sit at height
    # `sole`; pelvis = J0 + trans, so this trans puts the pelvis above the
    # origin and the soles on z = 0.
    sole = body.pose(np.r_[UPRIGHT, np.zeros(153)][None], np.zeros((1, 3)), betas).vertices[0, :, 2].min()
    trans = np.tile([-rest[0, 0], -rest[0, 1], -sole], (frames, 1))
    np.savez(
        path,
        poses=poses,
        trans=trans,
        betas=betas,
        dmpls=np.zeros((frames, 8)),
        gender=np.array("female"),
        mocap_framerate=np.array(120.0),
    )


def _rotation(axis_angle: np.ndarray) -> np.ndarray:
    angle = np.linalg.norm(axis_angle)
    if angle < 1e-12:
        return np.eye(3)
    k = axis_angle / angle
    K = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + math.sin(angle) * K + (1 - math.cos(angle)) * K @ K


def _compose(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Axis-angle of R(first) @ R(second)."""
    R = _rotation(first) @ _rotation(second)
    angle = math.acos(np.clip((np.trace(R) - 1) / 2, -1, 1))
    axis = np.array([R[2, 1] - R[1, 2], R[0, 2] - R[2, 0], R[1, 0] - R[0, 1]]) / (2 * math.sin(angle))
    return axis * angle


@pytest.mark.parametrize("heading_deg", [0.0, 90.0, -135.0])
def test_standing_body_rests_on_the_ground_upright(tmp_path, body, heading_deg):
    betas = np.zeros(16)
    betas[0] = 1.0  # taller than the template: J0 moves, trans compensates
    path = tmp_path / "stand_poses.npz"
    write_standing_motion(path, body, betas, heading_deg)
    motion = load_motion(path)
    posed = body.pose(motion.poses, motion.trans, motion.betas)
    z = posed.vertices[..., 2]
    assert np.abs(z.min(axis=1)).max() < 0.005  # feet on the ground plane z = 0
    assert 1.6 < z.max() < 1.95  # head up: Z is up, the body about 1.7-1.8 m tall
    # pelvis = J0(betas) + trans, whatever the root orientation.
    assert np.allclose(posed.joints[:, 0], body.rest_joints(motion.betas)[0] + motion.trans, atol=1e-5)
    # The template faces +Z; upright, with no heading, the body faces world -Y.
    nose = posed.joints[0, 52]  # smplx landmark 'nose'
    facing = nose[:2] - posed.joints[0, 0, :2]
    expected = math.radians(heading_deg - 90.0)
    assert facing @ np.array([math.cos(expected), math.sin(expected)]) > 0.05
