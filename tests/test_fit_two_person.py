"""NTU RGB+D two-person samples: two bodies fitted, written, labelled and indexed as one take.

The samples are synthetic ``.skeleton`` files in the exact format
(tests/fixtures/ntu_two_person.py): a handshake, a push whose second body arrives
three frames late, a waving one-person sample, a hug whose bodies interpenetrate,
and a two-person class whose file holds a single body.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from synthact.body.smplh import BodyModel
from synthact.config import validate_config
from synthact.config_sections import RunConfig
from synthact.fitting.convert import effective_motion, run_fit
from synthact.fitting.export import GROUND_PERCENTILE, ground_bodies, lowest_vertex_z
from synthact.fitting.skeleton_sources import read_ntu_world
from synthact.sources.amass import MotionError, load_motion
from synthact.sources.babel import PARTNERS_KEY, LabelError, load_babel_file
from synthact.sources.ntu import read_skeleton_file
from synthact.takes.index import IndexReport, IndexSettings, build_index
from synthact.takes.records import Take, read_take_table
from synthact.takes.trajectory import BodyPath, group_trajectory
from tests.fixtures.ntu_smarthome import BODY_LUF, write_skeleton
from tests.fixtures.ntu_two_person import (
    FIRST_ID,
    HANDSHAKE,
    ONE_PERSON,
    PUSH,
    PUSH_PARTNER_LATE,
    SECOND_ID,
    handshake_world,
    place,
    two_person_frames,
    write_two_person_folder,
)

HUG = "S001C001P003R001A055"  # hugging: pelvises 0.1 m apart, the bodies interpenetrate
LONE = "S001C001P004R001A058"  # handshaking, but the file holds one body
NUM_FRAMES = 30


def hug_frames() -> list:
    first = np.stack([place(BODY_LUF, (-0.05, 0.0), 0.0)] * NUM_FRAMES)
    second = np.stack([place(BODY_LUF, (0.05, 0.0), 180.0)] * NUM_FRAMES)
    return two_person_frames(first + np.linspace(0, 0.02, NUM_FRAMES)[:, None, None], second)


@pytest.fixture(scope="module")
def fitted(tmp_path_factory, demo_body_model_dir) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("two_person_fit")
    folder = root / "skeletons"
    write_two_person_folder(folder, NUM_FRAMES)
    write_skeleton(folder / f"{HUG}.skeleton", hug_frames())
    lone = [[frame[0]] for frame in two_person_frames(*handshake_world(NUM_FRAMES))]
    write_skeleton(folder / f"{LONE}.skeleton", lone)
    config = validate_config(
        {
            "output_dir": str(root / "output"),
            "demo": {"enabled": False},
            "motion": {
                "source": "ntu",
                "skeleton_dir": str(folder),
                "body_model_dir": str(demo_body_model_dir),
                "fit": {"body_iterations": 40},
            },
            "clips": {"fps": 5},
        }
    )
    report = run_fit(config)
    motion = effective_motion(config)
    return {
        "config": config,
        "report": report,
        "outcomes": {o["sample"]: o for o in report.samples},
        "root": Path(motion["amass_root"]),
        "labels": Path(motion["babel_dir"]),
        "skeletons": folder,
    }


def motion_file(fitted: dict[str, Any], sample: str, person: int = 0) -> Path:
    suffix = "" if person == 0 else f"_person{person}"
    return fitted["root"] / "ntu" / "ntu" / f"{sample}{suffix}_poses.npz"


def index(config: dict[str, Any], root: Path) -> tuple[IndexReport, list[Take]]:
    run = RunConfig.from_dict({**config, "motion": effective_motion(config)})
    settings = IndexSettings.from_sections(run.motion, run.clips, run.render)
    report = build_index(settings, root / "takes.jsonl", root / "index_report.json")
    return report, list(read_take_table(root / "takes.jsonl"))


# --------------------------------------------------------------------------- the fit


def test_two_person_samples_write_two_motion_files_one_person_samples_one(fitted):
    for sample in (HANDSHAKE, PUSH, HUG):
        assert motion_file(fitted, sample).is_file() and motion_file(fitted, sample, 1).is_file()
    for sample in (ONE_PERSON, LONE):
        assert motion_file(fitted, sample).is_file() and not motion_file(fitted, sample, 1).exists()
    with np.load(motion_file(fitted, ONE_PERSON)) as npz:
        assert "present" not in npz.files  # a one-person class is written as before
    assert fitted["report"].failures == []


def test_each_body_has_its_own_joint_errors(fitted):
    for sample in (HANDSHAKE, PUSH):
        outcome = fitted["outcomes"][sample]
        persons = outcome["persons"]
        print(
            f"\n{sample}: " + "; ".join(f"person {p['person']} mean {100 * p['mean_error_m']:.2f} cm" for p in persons)
        )
        assert [p["person"] for p in persons] == [0, 1]
        for person in persons:
            assert 0 < person["median_error_m"] <= person["p95_error_m"] <= person["max_error_m"]
            assert person["mean_error_m"] < 0.06 and person["max_error_m"] < 0.25
        assert outcome["max_error_m"] == max(p["max_error_m"] for p in persons)
        sidecar = json.loads((fitted["root"] / "ntu" / "fits" / f"{sample}.json").read_text())
        assert sidecar["persons"] == persons
    on_disk = json.loads((fitted["root"] / "ntu" / "fit_report.json").read_text())
    assert {s["sample"]: s.get("persons") for s in on_disk["samples"]}[PUSH] == fitted["outcomes"][PUSH]["persons"]


def test_present_marks_the_frames_a_body_is_in_the_file(fitted):
    push0, push1 = load_motion(motion_file(fitted, PUSH)), load_motion(motion_file(fitted, PUSH, 1))
    assert push0.present.all()
    assert not push1.present[:PUSH_PARTNER_LATE].any() and push1.present[PUSH_PARTNER_LATE:].all()
    assert push0.num_frames == push1.num_frames == NUM_FRAMES and push0.fps == push1.fps == 30.0
    assert fitted["outcomes"][PUSH]["persons"][1]["present_frames"] == NUM_FRAMES - PUSH_PARTNER_LATE


def test_frames_without_a_body_give_the_fit_no_target(fitted):
    sample = read_ntu_world(fitted["skeletons"] / f"{PUSH}.skeleton")
    late = sample.bodies[1]
    assert not late.valid[:PUSH_PARTNER_LATE].any() and late.valid[PUSH_PARTNER_LATE:].all()
    assert np.isfinite(late.joints).all()  # placeholders, held from the first sighting
    np.testing.assert_allclose(late.joints[:PUSH_PARTNER_LATE], late.joints[[PUSH_PARTNER_LATE] * PUSH_PARTNER_LATE])


def test_both_bodies_stand_on_one_floor(fitted, demo_body_model_dir):
    body = BodyModel(demo_body_model_dir, "neutral")
    for sample in (HANDSHAKE, PUSH):
        motions = [load_motion(motion_file(fitted, sample, person)) for person in (0, 1)]
        lows = [lowest_vertex_z(body, m.poses, m.trans, m.betas)[m.present] for m in motions]
        floor = np.percentile(np.concatenate(lows), GROUND_PERCENTILE)
        each = [np.percentile(low, GROUND_PERCENTILE) for low in lows]
        print(f"\n{sample}: floor {100 * floor:.2f} cm, each body's {[round(100 * e, 2) for e in each]} cm")
        assert abs(floor) < 1e-6
        assert all(abs(e) < 0.02 for e in each)  # the source stood both on one floor


def test_one_floor_keeps_the_bodies_heights_relative_to_each_other(demo_body_model_dir):
    body = BodyModel(demo_body_model_dir, "neutral")
    poses, betas = np.zeros((4, 156)), np.zeros(16)
    poses[:, 0] = np.pi / 2  # upright in the Z-up world
    low, high = np.zeros((4, 3)), np.zeros((4, 3)) + [1.0, 0.0, 0.3]
    present = [np.ones(4, bool), np.array([False, True, True, True])]
    grounded, shift = ground_bodies(body, [(poses, low, betas), (poses, high, betas)], present, "sequence")
    np.testing.assert_allclose(grounded[1] - grounded[0], high - low)  # one shift for both
    np.testing.assert_allclose(grounded[0][:, 2], shift)
    feet = lowest_vertex_z(body, poses, grounded[0], betas)
    np.testing.assert_allclose(feet, 0.0, atol=1e-6)


def test_body_order_is_the_order_of_the_file_not_the_variance_rule(fitted):
    path = fitted["skeletons"] / f"{PUSH}.skeleton"
    assert read_skeleton_file(path, max_bodies=2).body_ids == (SECOND_ID, FIRST_ID)  # the pusher moves most
    assert read_skeleton_file(path, max_bodies=2, order="file").body_ids == (FIRST_ID, SECOND_ID)
    for sample in (HANDSHAKE, PUSH):
        ids = [p["body_id"] for p in fitted["outcomes"][sample]["persons"]]
        assert ids == [str(FIRST_ID), str(SECOND_ID)]
    # The file's first body stands on the sensor's left half, the second on its right.
    first, second = (load_motion(motion_file(fitted, HANDSHAKE, person)).trans[:, 0].mean() for person in (0, 1))
    assert first < second - 0.7


def test_interpenetrating_bodies_and_lone_bodies_are_reported(fitted):
    report = fitted["report"]
    assert report.two_person_samples == 4
    assert (report.two_person_one_body_count, report.two_person_one_body) == (1, [LONE])
    assert report.close_pelvis_samples == [HUG]
    hug = fitted["outcomes"][HUG]
    assert hug["min_pelvis_distance_m"] < 0.2 and hug["close_pelvis_frames"] > 0
    assert fitted["outcomes"][HANDSHAKE]["min_pelvis_distance_m"] > 0.8
    lone = fitted["outcomes"][LONE]
    assert (lone["persons_expected"], len(lone["persons"]), lone["partner_files"]) == (2, 1, [])
    assert "4 two-person samples (1 with one body, 1 with overlapping pelvises)" in report.summary()


def test_the_babel_entry_names_the_partner_file(fitted):
    entries = json.loads((fitted["labels"] / "train.json").read_text())
    assert entries[HANDSHAKE][PARTNERS_KEY] == [f"ntu/ntu/{HANDSHAKE}_person1_poses.npz"]
    assert PARTNERS_KEY not in entries[ONE_PERSON] and PARTNERS_KEY not in entries[LONE]
    sequences = {s.sid: s for s in load_babel_file(fitted["labels"] / "train.json")}
    assert sequences[PUSH].partners == (f"ntu/ntu/{PUSH}_person1_poses.npz",)
    assert sequences[ONE_PERSON].partners == ()


def test_resume_needs_the_partner_file_too(fitted):
    again = run_fit(fitted["config"])
    assert (again.fitted, again.resumed) == (0, 5)
    assert again.two_person_one_body == [LONE]  # the report is whole again from the sidecars
    partner = motion_file(fitted, HANDSHAKE, 1)
    kept = partner.read_bytes()
    partner.unlink()
    refit = run_fit(fitted["config"])
    assert (refit.fitted, refit.resumed) == (1, 4) and partner.read_bytes() == kept


# --------------------------------------------------------------------------- the index


def test_the_index_fills_partners_and_frames_the_group(fitted, tmp_path):
    report, takes = index(fitted["config"], tmp_path)
    by_sample = {t.sequence_id: t for t in takes}
    assert report.skipped == [] and len(takes) == 5
    assert by_sample[HANDSHAKE].partners == (f"ntu/ntu/{HANDSHAKE}_person1_poses.npz",)
    assert by_sample[HANDSHAKE].num_persons == 2
    assert by_sample[ONE_PERSON].partners == () and by_sample[LONE].partners == ()
    # Each pelvis is 0.45 m from the pair's midpoint: the radius covers both bodies.
    handshake = by_sample[HANDSHAKE]
    assert 0.4 < handshake.path_radius < 0.5
    pelvis0 = load_motion(motion_file(fitted, HANDSHAKE)).trans[:, 0].mean()
    pelvis1 = load_motion(motion_file(fitted, HANDSHAKE, 1)).trans[:, 0].mean()
    assert pelvis0 < handshake.path_center[0] < pelvis1


def copy_of_fitted(fitted: dict[str, Any], root: Path) -> dict[str, Any]:
    """The fitted tree copied under ``root``, with a config pointing the index at it."""
    config = json.loads(json.dumps(fitted["config"]))
    config["output_dir"] = str(root / "output")
    config["work_dir"] = str(root / "output" / "work")
    shutil.copytree(fitted["root"], Path(effective_motion(config)["amass_root"]))
    return config


def test_a_broken_partner_file_is_a_bad_input(fitted, tmp_path):
    config = copy_of_fitted(fitted, tmp_path)
    partner = Path(effective_motion(config)["amass_root"]) / "ntu" / "ntu" / f"{PUSH}_person1_poses.npz"
    partner.write_bytes(b"not an npz")
    with pytest.raises(MotionError, match=f"{PUSH}_person1_poses.npz.*\n.*lenient"):
        index(config, tmp_path)
    config["clips"]["on_bad_input"] = "lenient"
    report, takes = index(config, tmp_path)
    assert PUSH not in {t.sequence_id for t in takes} and len(takes) == 4
    (skipped,) = report.skipped
    assert f"{PUSH}_person1_poses.npz" in skipped.reason


def test_a_partner_on_another_timeline_is_refused(fitted, tmp_path):
    config = copy_of_fitted(fitted, tmp_path)
    partner = Path(effective_motion(config)["amass_root"]) / "ntu" / "ntu" / f"{HANDSHAKE}_person1_poses.npz"
    with np.load(partner) as npz:
        arrays = {k: npz[k][:20] if npz[k].ndim and len(npz[k]) == NUM_FRAMES else npz[k] for k in npz.files}
    np.savez(partner, **arrays)
    with pytest.raises(MotionError, match=r"has 20 frames at 30 fps, but .* has 30 at 30; every body of a take"):
        index(config, tmp_path)


def test_partner_keys_are_checked_like_feat_p(tmp_path):
    def entry(partners: Any) -> dict[str, Any]:
        return {"feat_p": "a/b_poses.npz", "dur": 1.0, "seq_ann": None, "frame_ann": None, PARTNERS_KEY: partners}

    for bad, message in (("x", "must be a list"), (["../up_poses.npz"], PARTNERS_KEY), (["a/b_poses.npz"], "twice")):
        (tmp_path / "train.json").write_text(json.dumps({"1": entry(bad)}))
        with pytest.raises(LabelError, match=message):
            load_babel_file(tmp_path / "train.json")


def test_the_group_path_counts_present_frames_only():
    still = np.zeros((4, 3))
    far = np.zeros((4, 3)) + [10.0, 0.0, 0.0]
    far[1:] = [1.0, 0.0, 0.0]  # a placeholder at x = 10 in the absent first frame
    root = np.zeros((4, 3))
    path = group_trajectory(root, [BodyPath(still, np.zeros(3)), BodyPath(far, np.zeros(3), np.arange(4) > 0)])
    # Seven present pelvis points: four at x = 0, three at x = 1; the placeholder at x = 10 is not one.
    assert path.path_center == (round(3 / 7, 6), 0.0) and path.path_radius == round(4 / 7, 6)
