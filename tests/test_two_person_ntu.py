"""Synthetic NTU RGB+D with two-person actions, end to end through ``preset: ntu``.

Three samples in the exact ``.skeleton`` format (tests/fixtures/ntu_two_person.py): a
handshake (A058) and a push (A052, whose second body enters three frames late), and a
one-person wave (A023). The real workflow fits them, renders them with Cycles from NTU's
three cameras, merges the shards and exports pyskl pickles; every check reads the
results back from the files (h5py, ``ShardReader``, the pickles).
"""

from __future__ import annotations

import json
import pickle
import subprocess
from pathlib import Path

import h5py
import numpy as np
import pytest

from synthact.consume.reader import ShardReader
from tests.fixtures.ntu_two_person import HANDSHAKE, ONE_PERSON, PUSH, write_two_person_folder
from tests.helpers import BIN, make_run, snakemake

pytestmark = pytest.mark.slow

NUM_FRAMES = 30  # per sample, at NTU's 30 fps
TWO_PERSON = (HANDSHAKE, PUSH)
VIEWS = ("c1", "c2", "c3")
BODY_MARGIN_M = 0.2  # the skin lies at most this far beyond the outermost joint along the view


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, demo_body_model_dir: Path) -> Path:
    root = tmp_path_factory.mktemp("ntu-two-person")
    write_two_person_folder(root / "skeletons", NUM_FRAMES)
    config = {
        "preset": "ntu",
        "seed": 5,
        "output_dir": "output",
        "demo": {"enabled": False},
        "motion": {
            "source": "ntu",
            "skeleton_dir": str(root / "skeletons"),
            "body_model_dir": str(demo_body_model_dir),
        },
        "clips": {"fps": 15},  # 15 frames per take: the push's partner is absent in the first two
        "render": {"width": 96, "height": 54, "samples": 1},
    }
    workdir = make_run(root / "run", config)
    snakemake(workdir)
    return workdir


@pytest.fixture(scope="module")
def takes(run: Path) -> dict[str, tuple[Path, str]]:
    """Sample name -> (its shard, its take id)."""
    found = {}
    for shard in sorted((run / "output" / "shards").glob("*.h5")):
        with ShardReader(shard) as reader:
            for take_id in reader.take_ids:
                found[reader.take_attrs(take_id)["sequence_id"]] = (shard, take_id)
    assert set(found) == {HANDSHAKE, PUSH, ONE_PERSON}, found
    return found


def read(takes: dict, sample: str, view: str, keys: list[str]) -> dict[str, np.ndarray]:
    shard, take_id = takes[sample]
    with ShardReader(shard) as reader:
        return reader.read(take_id, view, keys)


def test_both_bodies_are_fitted_each_with_its_joint_error(run: Path):
    report = json.loads((run / "output" / "work" / "fitted" / "ntu" / "fit_report.json").read_text())
    samples = {s["sample"]: s for s in report["samples"]}
    for sample in TWO_PERSON:
        persons = samples[sample]["persons"]
        print(
            "\n" + sample + ": " + "; ".join(f"person {p['person']} {100 * p['mean_error_m']:.2f} cm" for p in persons)
        )
        assert [p["person"] for p in persons] == [0, 1]
        assert all(p["mean_error_m"] < 0.06 for p in persons)
    assert "persons" not in samples[ONE_PERSON] or len(samples[ONE_PERSON]["persons"]) == 1


def test_takes_hold_the_persons_in_the_files_body_order(takes: dict):
    for sample, persons in ((HANDSHAKE, 2), (PUSH, 2), (ONE_PERSON, 1)):
        shard, take_id = takes[sample]
        with h5py.File(shard) as f:
            assert int(f.attrs["format_version"]) == 4
            take = f[f"takes/{take_id}"]
            assert int(take.attrs["num_persons"]) == persons
            sources = [p["source"] for p in json.loads(take.attrs["persons"])]
            assert sources[0].endswith(f"{sample}_poses.npz")
            assert persons == 1 or sources[1].endswith(f"{sample}_person1_poses.npz")
            assert take["smplh/poses"].shape[1:] == (persons, 156) and take["present"].shape[1] == persons


def test_both_bodies_are_rendered_in_every_view_with_disjoint_masks_on_their_own_depth(takes: dict):
    for sample in TWO_PERSON:
        for view in VIEWS:
            got = read(takes, sample, view, ["instances", "mask", "depth", "joints_cam", "present"])
            instances, present = got["instances"], got["present"]
            np.testing.assert_array_equal(got["mask"] > 0, instances > 0)  # the mask is their union
            assert set(np.unique(instances)) <= {0, 1, 2}  # one id per pixel: the masks are disjoint
            for person in (0, 1):
                on = instances == person + 1
                shown = on.any(axis=(1, 2))
                assert shown[present[:, person]].mean() >= 0.8, (sample, view, person)  # rendered in this view
                assert not shown[~present[:, person]].any(), (sample, view, person)  # never while absent
                # Each person's pixels lie within that person's depth range (joints, plus the body's
                # own thickness around them), so no pixel of one body is labelled as the other.
                for t in np.flatnonzero(shown & present[:, person]):
                    depth = got["depth"][t][on[t]]
                    near, far = (
                        np.nanmin(got["joints_cam"][t, person, :, 2]),
                        np.nanmax(got["joints_cam"][t, person, :, 2]),
                    )
                    inside = (depth > near - BODY_MARGIN_M) & (depth < far + BODY_MARGIN_M)
                    assert inside.mean() >= 0.98, (sample, view, person, t, inside.mean())


def test_the_push_partner_is_absent_until_it_enters(takes: dict):
    present = read(takes, PUSH, "c1", ["present"])["present"]
    assert present[:, 0].all() and not present[:2, 1].any() and present[2:, 1].all()
    keypoints = read(takes, PUSH, "c1", ["keypoints_2d", "keypoints_visible"])
    assert np.isnan(keypoints["keypoints_2d"][:2, 1]).all() and not keypoints["keypoints_visible"][:2, 1].any()


def test_each_persons_visible_keypoints_fall_on_that_persons_mask(takes: dict):
    for sample in TWO_PERSON:
        for view in VIEWS:
            got = read(takes, sample, view, ["instances", "keypoints_2d", "keypoints_visible"])
            instances = got["instances"]
            height, width = instances.shape[1:]
            for person in (0, 1):
                t, j = np.nonzero(got["keypoints_visible"][:, person])
                assert len(t), (sample, view, person)
                uv = got["keypoints_2d"][t, person, j]
                x = np.clip(np.floor(uv[:, 0]).astype(int), 0, width - 1)
                y = np.clip(np.floor(uv[:, 1]).astype(int), 0, height - 1)
                near = np.zeros(len(t), bool)  # the joint's pixel or one beside it (96x54 images)
                for dy in (-1, 0, 1):
                    for dx in (-1, 0, 1):
                        yy, xx = np.clip(y + dy, 0, height - 1), np.clip(x + dx, 0, width - 1)
                        near |= instances[t, yy, xx] == person + 1
                assert near.mean() >= 0.95, (sample, view, person, near.mean())


def test_pyskl_keypoints_hold_both_persons_ntu25_joints(run: Path, takes: dict, tmp_path: Path):
    dest = tmp_path / "pyskl"
    result = subprocess.run(
        [str(BIN / "synthact"), "export", "pyskl", str(run / "output"), str(dest), "--quiet"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    with open(dest / "pyskl_3d.pkl", "rb") as f:
        annotations = pickle.load(f)["annotations"]
    by_name = {(a["frame_dir"][8:12], a["frame_dir"][-4:], int(a["frame_dir"][5:8])): a for a in annotations}
    for sample in TWO_PERSON:
        for view in VIEWS:
            annotation = by_name[(sample[8:12], sample[-4:], int(view[1:]))]  # performer, action, camera
            joints = read(takes, sample, view, ["ntu25_joints_cam", "present"])
            keypoint = annotation["keypoint"]
            assert keypoint.shape == (2, len(joints["present"]), 25, 3)
            for person in (0, 1):
                there = joints["present"][:, person]
                np.testing.assert_array_equal(keypoint[person][there], joints["ntu25_joints_cam"][there, person])
                assert not keypoint[person][~there].any()  # zeros where absent, as NTU's pickles
    one = by_name[(ONE_PERSON[8:12], ONE_PERSON[-4:], 1)]
    assert one["keypoint"].shape[0] == 1
