"""Seats under the demo's sitters: found from the motion, touching the body, never sunk into, rendered as not-person."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from synthact.scene import supports
from synthact.scene.appearance import Appearance, furnish, sample_appearance
from tests.fixtures.render_scene import HDRIS, make_camera


@pytest.fixture(scope="module")
def demo_takes(tmp_path_factory: pytest.TempPathFactory, demo_body_model_dir: Path) -> dict[str, dict]:
    """The demo's sequences posed (vertices at the demo's 30 fps or below), with their frame labels."""
    from synthact.body.skeleton import vertex_parts
    from synthact.body.smplh import BodyModel
    from synthact.demo.dataset import write_demo_dataset
    from synthact.sources.amass import load_motion

    root = tmp_path_factory.mktemp("demo")
    write_demo_dataset(root, demo_body_model_dir, num_sequences=12, seed=0)
    entries = {}
    for name in ("train.json", "val.json"):
        entries.update(json.loads((root / "babel" / name).read_text()))
    takes = {}
    for sid, entry in sorted(entries.items()):
        motion = load_motion(root / "amass" / entry["feat_p"])
        model = BodyModel(demo_body_model_dir, motion.gender)
        step = max(1, round(motion.fps / 30))
        posed = model.pose(motion.poses[::step], motion.trans[::step], np.asarray(motion.betas, np.float32))
        takes[sid] = {
            "vertices": posed.vertices,
            "parts": vertex_parts(model.lbs_weights),
            "fps": motion.fps / step,
            "labels": [label["act_cat"][0] for label in entry["frame_ann"]["labels"]],
        }
    return takes


def test_the_demo_sit_takes_get_seats_that_carry_them(demo_takes: dict[str, dict]) -> None:
    sitters = {sid: take for sid, take in demo_takes.items() if "sit" in take["labels"]}
    assert len(sitters) >= 2
    for sid, take in sitters.items():
        verts, parts, fps = take["vertices"], take["parts"], take["fps"]
        seats = supports.place_seats(verts, parts, fps)
        assert len(seats) == 1, sid  # one chair, however often the take sits on it
        assert supports.place_supports(verts, parts, fps) == seats, sid  # no bed or step besides
        seat = seats[0]
        assert 0.3 < seat.size[2] < 0.6 and 0.2 < min(seat.size[:2]) <= max(seat.size[:2]) < 0.7, seat
        for span in supports.sitting_spans(verts, parts, fps):
            frames = supports.sitting_frames(verts, parts, span)
            fit = supports.fit(seat, verts, parts, frames)
            assert fit.frames >= 2 and fit.max_gap_m <= 0.02 and fit.max_sink_m <= 0.01, (sid, fit)


def test_takes_that_do_not_sit_get_no_support(demo_takes: dict[str, dict]) -> None:
    others = {sid: take for sid, take in demo_takes.items() if not {"sit", "stand up"} & set(take["labels"])}
    assert any("squat" in take["labels"] for take in others.values())  # a squat rests on its own feet
    for sid, take in others.items():
        assert supports.place_supports(take["vertices"], take["parts"], take["fps"]) == (), sid  # nor a step: a jump


def test_props_are_named_in_the_appearance() -> None:
    seat = supports.Prop("seat", (0.5, -0.2, 0.22), (0.4, 0.38, 0.44), 15.0)
    look = furnish(sample_appearance(5, HDRIS), [seat], seed=5)
    assert look.props == (seat,) and look.prop_surface is not None
    assert look.to_dict()["props"] == [seat.to_dict()]
    assert Appearance.from_dict(json.loads(json.dumps(look.to_dict()))) == look
    assert "props" not in sample_appearance(5, HDRIS).to_dict()
    assert furnish(sample_appearance(5, HDRIS), [], seed=5) == sample_appearance(5, HDRIS)
    inside = seat.local(np.array([[0.5, -0.2, 0.1], [0.5, -0.2, 0.5]]))
    np.testing.assert_allclose(inside[0], (0.0, 0.0, -0.12), atol=1e-9)
    np.testing.assert_allclose(seat.depth_inside(np.array([[0.5, -0.2, 0.43], [0.5, -0.2, 0.5]])), (0.01, 0.0))


@pytest.mark.slow
def test_a_seat_or_step_renders_in_every_view_and_is_not_the_person(
    demo_takes: dict[str, dict], demo_neutral_arrays
) -> None:
    from synthact.render.blender import BlenderScene
    from synthact.render.renderer import RenderSettings

    take = next(t for t in demo_takes.values() if "sit" in t["labels"])
    verts, parts, fps = take["vertices"], take["parts"], take["fps"]
    (seat,) = supports.place_seats(verts, parts, fps)
    frame = int(supports.sitting_frames(verts, parts, supports.sitting_spans(verts, parts, fps)[0])[0])
    faces = demo_neutral_arrays["f"]
    body = verts[frame : frame + 1]
    plain = dataclasses.replace(sample_appearance(1, HDRIS), sun_strength=0.0)
    seated = furnish(plain, [seat], seed=1)
    # A step behind the seat, away from the feet: every kind of prop is the same box to the renderer.
    forward = np.array([np.cos(np.radians(seat.yaw_deg)), np.sin(np.radians(seat.yaw_deg))])
    step = supports.Prop("step", (*(np.array(seat.centre[:2]) - 0.6 * forward), 0.1), (0.3, 0.5, 0.2), seat.yaw_deg)
    stepped = furnish(plain, [step], seed=1)
    centre = np.array([*seat.centre[:2], 0.6])
    yaw = np.radians(seat.yaw_deg)
    side = np.array([np.sin(yaw), -np.cos(yaw), 0.0])  # the seat's side, where it shows beside the sitter
    views = [make_camera(centre + 2.6 * side + (0, 0, 0.4), centre, 70.0, 64, 64)]
    views.append(make_camera(centre - 2.6 * side + (0, 0, 0.4), centre, 70.0, 64, 64))
    with BlenderScene(RenderSettings(width=64, height=64, samples=1), faces, parts) as scene:
        for cam in views:
            without = scene.render_clip(body, cam, plain)
            for look in (seated, stepped):
                with_prop = scene.render_clip(body, cam, look)
                prop = with_prop.depth[0] != without.depth[0]
                assert prop.sum() > 30, look.props  # the prop shows
                assert not with_prop.mask[0][prop].any() and (with_prop.parts[0][prop] == 0).all()
                # Where the prop hides nothing, the person's labels are unchanged.
                np.testing.assert_array_equal(with_prop.mask[0][~prop], without.mask[0][~prop])
                np.testing.assert_array_equal(with_prop.parts[0][~prop], without.parts[0][~prop])
