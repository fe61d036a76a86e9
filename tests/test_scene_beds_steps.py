"""Beds under bodies that lie and steps under feet planted above the ground: found from the posed body, touching
it within 2 cm, never sunk into by more than 1 cm."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from synthact.scene import supports
from synthact.scene.appearance import Appearance, furnish, sample_appearance
from tests.fixtures.render_scene import HDRIS

FPS = 30.0
STANDING = np.array([np.pi / 2, 0.0, 0.0])  # the model stands up +Y; this turns it to stand up +Z
LYING_ON_BACK = np.zeros(3)  # unturned, the model lies face up along +Y


@pytest.fixture(scope="module")
def body(demo_body_model_dir: Path):
    """A function posing the demo model, arms down: (root turn, per-frame lift of its lowest point, per-frame step
    back along Y) -> vertices, parts."""
    from synthact.body.skeleton import vertex_parts
    from synthact.body.smplh import BodyModel

    model = BodyModel(demo_body_model_dir, "neutral")
    parts = vertex_parts(model.lbs_weights)
    betas = np.zeros(10, np.float32)

    def pose(root: np.ndarray, lifts: list[float], back: list[float] | None = None) -> tuple[np.ndarray, np.ndarray]:
        poses = np.zeros((len(lifts), 156), np.float32)
        poses[:, :3] = root
        poses[:, 48 + 2], poses[:, 51 + 2] = -1.2, 1.2  # arms down by the sides, out of the T-pose
        rest = model.pose(poses[:1], np.zeros((1, 3), np.float32), betas).vertices[0]
        trans = np.zeros((len(lifts), 3), np.float32)
        trans[:, 2] = np.asarray(lifts) - rest[:, 2].min()
        trans[:, 1] = 0.4 - np.asarray(back or [0.0] * len(lifts))  # off the origin: nothing depends on it
        return model.pose(poses, trans, betas).vertices, parts

    return pose


def _fits(prop: supports.Prop, verts: np.ndarray, parts: np.ndarray, frames: np.ndarray) -> supports.SeatFit:
    fit = supports.fit(prop, verts, parts, frames)
    assert fit.frames == len(frames) and fit.max_gap_m <= 0.02 and fit.max_sink_m <= 0.01, (prop, fit)
    return fit


def test_a_body_lying_still_above_the_ground_gets_a_bed_that_carries_it(body) -> None:
    verts, parts = body(LYING_ON_BACK, [0.45] * 12)
    (bed,) = supports.place_supports(verts, parts, FPS)
    assert bed.kind == "bed"
    assert abs(bed.size[2] - 0.45) < 0.01  # its top meets the lowest of back, hips and thighs
    assert 1.0 < max(bed.size[:2]) < 2.2 and 0.3 < min(bed.size[:2]) < 1.2, bed
    assert abs(abs(bed.yaw_deg) - 90.0) < 5.0  # long along the body, which lies along Y
    (span,) = supports.lying_spans(verts, parts, FPS)
    _fits(bed, verts, parts, supports.resting_frames(verts, parts, span))


def test_lying_on_the_floor_moving_or_too_briefly_gets_no_bed(body) -> None:
    on_floor, parts = body(LYING_ON_BACK, [0.0] * 12)
    assert supports.place_supports(on_floor, parts, FPS) == ()
    brief, _ = body(LYING_ON_BACK, [0.45] * 4)  # 0.13 s
    assert supports.place_beds(brief, parts, FPS) == ()
    sinking, _ = body(LYING_ON_BACK, list(np.linspace(0.9, 0.3, 12)))  # falling at 1.5 m/s
    assert supports.place_beds(sinking, parts, FPS) == ()


def test_feet_planted_above_the_ground_get_steps_and_feet_on_the_ground_none(body) -> None:
    # Stands half a metre back, then steps up 18 cm onto what is in front, and stands there.
    verts, parts = body(STANDING, [0.0] * 10 + [0.18] * 12, [0.5] * 10 + [0.0] * 12)
    steps = supports.place_supports(verts, parts, FPS)
    assert [s.kind for s in steps] == ["step", "step"]  # one under each foot
    for step in steps:
        assert abs(step.size[2] - 0.18) < 0.005 and 0.05 <= min(step.size[:2]) and max(step.size[:2]) < 0.4, step
        fit = _fits(step, verts, parts, np.arange(10, 22))
        assert fit.max_gap_m >= -1e-6
    left, right = (steps[0].centre, steps[1].centre)
    assert abs(left[0] - right[0]) > 0.08  # side by side, each under its own foot
    standing, _ = body(STANDING, [0.0] * 22)
    assert supports.place_supports(standing, parts, FPS) == ()
    low, _ = body(STANDING, [0.03] * 22)  # within the ground's 5 cm: no step
    assert supports.place_steps(low, parts, FPS) == ()


def test_beds_and_steps_are_named_in_the_appearance() -> None:
    bed = supports.Prop("bed", (0.2, 0.4, 0.225), (1.8, 0.8, 0.45), 90.0)
    step = supports.Prop("step", (1.0, 0.0, 0.09), (0.3, 0.14, 0.18), 0.0)
    look = furnish(sample_appearance(3, HDRIS), [bed, step], seed=3)
    assert [p["kind"] for p in look.to_dict()["props"]] == ["bed", "step"]
    assert Appearance.from_dict(json.loads(json.dumps(look.to_dict()))) == look
