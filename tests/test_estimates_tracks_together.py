"""``tracks: together``: every track of a video becomes one body of a single take.

A PHALP file (tests/fixtures/estimates.py) holds two tracks: the known motion
(tid 1, lost for frames 30-39) and a second person (tid 2, frames 5-24). Converted
together they are one take with two bodies on the video's whole range.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from synthact.body.smplh import BodyModel
from synthact.config_sections import RunConfig
from synthact.demo.estimator_models import write_source_models
from synthact.fitting.convert import effective_motion, run_fit
from synthact.fitting.estimates.records import Track
from synthact.fitting.estimates.tracks import choose_tracks
from synthact.fitting.export import ground_translation
from synthact.sources.amass import load_motion
from synthact.sources.babel import PARTNERS_KEY
from synthact.takes.index import IndexSettings, build_index
from synthact.takes.records import read_take_table
from tests.fixtures.estimates import KnownMotion, estimates_config, known_motion, write_phalp

BODY_JOINTS = 22


@pytest.fixture(scope="module")
def models(tmp_path_factory, demo_body_model_dir):
    folder = tmp_path_factory.mktemp("models")
    shutil.copytree(demo_body_model_dir, folder / "smplh_models")
    with np.load(folder / "smplh_models" / "smplh" / "SMPLH_NEUTRAL.npz") as data:
        neutral = {k: data[k] for k in data.files}
    return folder / "smplh_models", write_source_models(folder / "estimator_models", neutral)


@pytest.fixture(scope="module")
def truth(models) -> KnownMotion:
    return known_motion(BodyModel(models[0], "neutral"), models[1])


@pytest.fixture(scope="module")
def together(tmp_path_factory, models, truth) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("together")
    write_phalp(root / "estimates", truth, hole=range(30, 40), second_track=range(5, 25))
    (root / "labels.csv").write_text("video,start_s,end_s,label,split\nclip,0,10,walk,train\n")
    config = estimates_config(root, models, estimates={"max_gap_s": 0.2, "tracks": "together"})
    report = run_fit(config)
    run = RunConfig.from_dict({**config, "motion": effective_motion(config)})
    settings = IndexSettings.from_sections(run.motion, run.clips, run.render)
    build_index(settings, root / "takes.jsonl", root / "index_report.json")
    fitted = Path(effective_motion(config)["amass_root"]) / "estimates"
    return {"report": report, "takes": list(read_take_table(root / "takes.jsonl")), "fitted": fitted}


def test_two_tracks_become_one_take_with_two_bodies(together):
    (take,) = together["takes"]
    assert take.partners == ("estimates/estimates/clip_person1_poses.npz",) and take.num_persons == 2
    assert take.source == "estimates/estimates/clip_poses.npz"
    video = together["report"].videos["clip"]
    assert (video["mode"], video["kept"], video["dropped"], video["frames"]) == ("together", ["1", "2"], [], [0, 47])
    entry = json.loads((together["fitted"] / "labels" / "csv" / "train.json").read_text())["clip"]
    assert entry[PARTNERS_KEY] == ["estimates/estimates/clip_person1_poses.npz"]
    assert [m["motion"] for m in together["report"].motions] == ["clip", "clip_person1"]


def test_gaps_and_the_frames_outside_a_track_are_absent_not_frozen(together):
    body0 = load_motion(together["fitted"] / "estimates" / "clip_poses.npz")
    body1 = load_motion(together["fitted"] / "estimates" / "clip_person1_poses.npz")
    assert body0.num_frames == body1.num_frames == 48
    expected0 = np.ones(48, bool)
    expected0[30:40] = False  # a 10-frame hole, longer than max_gap_s: absent, not cut
    np.testing.assert_array_equal(body0.present, expected0)
    np.testing.assert_array_equal(body1.present, (np.arange(48) >= 5) & (np.arange(48) < 25))
    (gap,) = together["report"].videos["clip"]["gaps"]
    assert (gap["track"], gap["first_missing"], gap["last_missing"], gap["action"]) == ("1", 30, 39, "absent")


def test_the_first_body_is_the_known_motion_where_it_is_present(together, models, truth):
    body = BodyModel(models[0], "neutral")
    motion = load_motion(together["fitted"] / "estimates" / "clip_poses.npz")
    grounded, _ = ground_translation(body, truth.poses, truth.trans, truth.betas16, "sequence")
    expected = body.pose(truth.poses, grounded, truth.betas16).joints[:, :BODY_JOINTS]
    got = body.pose(motion.poses, motion.trans, motion.betas).joints[:, :BODY_JOINTS]
    error = np.linalg.norm(got - expected, axis=-1)[motion.present]
    print(f"\nbody 0 over its present frames: mean {100 * error.mean():.2f} cm")
    assert error.mean() < 0.03


def bare_track(track_id: str, frame_ids: np.ndarray) -> Track:
    """A body sliding along +X one centimetre per frame, so rows say which frame they came from."""
    n = len(frame_ids)
    trans = np.zeros((n, 3))
    trans[:, 0] = 0.01 * frame_ids
    return Track(
        "phalp",
        Path("clip.pkl"),
        "clip",
        track_id,
        np.asarray(frame_ids),
        np.repeat(np.eye(3)[None], n, 0),
        np.zeros((n, 21, 3)),
        trans,
        np.zeros(10),
        body="smpl",
        frame="opencv",
    )


def test_bodies_are_ordered_by_first_frame_then_id_and_spread_over_the_video():
    late = bare_track("7", np.array([5, 6, 7]))
    holes = bare_track("3", np.r_[0:4, 6:8, 12:14])  # a 2-frame gap (filled) and a 4-frame one (absent)
    early = bare_track("10", np.array([0, 1]))
    kept, report = choose_tracks([late, holes, early], "together", max_gap_frames=3)
    assert [t.track_id for t in kept] == ["3", "10", "7"] and report["frames"] == [0, 13]
    assert [(g.track, g.start, g.stop, g.action) for g in report["gaps"]] == [
        ("3", 4, 6, "filled"),
        ("3", 8, 12, "absent"),
    ]
    for track in kept:
        np.testing.assert_array_equal(track.frame_ids, np.arange(14))
    np.testing.assert_array_equal(kept[0].present, ~np.isin(np.arange(14), [8, 9, 10, 11]))
    np.testing.assert_allclose(kept[0].trans[:, 0], 0.01 * np.arange(14))  # interpolated placeholders
    np.testing.assert_array_equal(kept[2].present, np.isin(np.arange(14), [5, 6, 7]))
    np.testing.assert_allclose(kept[2].trans[:5, 0], 0.05)  # held at the first sighting before the track
    np.testing.assert_allclose(kept[1].trans[2:, 0], 0.01)  # and at the last after it
