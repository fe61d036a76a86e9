"""The person axis through the consumers, without rendering: the reader on HDF5 files in the
shard layout of one body (format 3) and of two (format 4, docs/FORMAT.md), and the pyskl
annotations, previews, statistics, dataset padding and the dataset card on known arrays.
tests/test_consume_two_persons.py does the same over a real rendered run.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from PIL import Image

from synthact.consume.dataset import collate, with_persons
from synthact.consume.export_pyskl import annotation_2d, annotation_3d
from synthact.consume.exports import preview_run
from synthact.consume.preview import PERSON_COLOURS, draw_skeleton, person_colour
from synthact.consume.reader import ShardReader, ShardReadError
from synthact.consume.stats import body_stats, person_stats
from synthact.shards.dataset_card import card_text
from synthact.shards.manifest import Manifest, ShardEntry
from tests.consume_inputs import ABSENT_FRAME, ArrayRun, keypoints

T, H, W = 6, 12, 16


def _write(path: Path, version: int, persons: int) -> dict[str, np.ndarray]:
    """One take (t0), one view (front): the datasets the reader's person axis concerns, in
    format 3's layout (one body, no axis) or format 4's (P persons, instances, present)."""
    rng = np.random.default_rng(persons)
    arrays = {
        "keypoints_2d": rng.uniform(0, W, (T, persons, 73, 2)).astype(np.float32),
        "bbox": rng.uniform(0, W, (T, persons, 4)).astype(np.float32),
        "joints_world": rng.normal(size=(T, persons, 73, 3)).astype(np.float32),
        "smplh/betas_used": rng.normal(size=(persons, 16)).astype(np.float32),
        "instances": (np.arange(T * H * W).reshape(T, H, W) % (persons + 1)).astype(np.uint8),
        "present": np.ones((T, persons), dtype=bool),
    }
    arrays["present"][ABSENT_FRAME, 1:] = False
    with h5py.File(path, "w") as f:
        f.attrs.update(format_version=version, views=json.dumps(["front"]))
        take = f.create_group("takes/t0")
        take["frames"] = np.arange(T)
        view = take.create_group("views/front")
        stored = arrays if version >= 4 else {k: v[:, 0] if v.ndim > 2 else v[0] for k, v in arrays.items()}
        for name in ("keypoints_2d", "bbox"):
            view[name] = stored[name]
        for name in ("joints_world", "smplh/betas_used"):
            take[name] = stored[name]
        view["mask"] = (arrays["instances"] > 0).astype(np.uint8)
        if version >= 4:
            view["instances"] = arrays["instances"]
            take["present"] = arrays["present"]
            take.attrs["num_persons"] = persons
    return arrays


def test_a_one_body_shard_reads_with_one_person_instances_and_presence(tmp_path):
    arrays = _write(tmp_path / "v3.h5", 3, 1)
    with ShardReader(tmp_path / "v3.h5") as reader:
        got = reader.read("t0", "front", ["keypoints_2d", "bbox", "joints_world", "instances", "present"], [1, 4])
        assert got["keypoints_2d"].shape == (2, 1, 73, 2) and got["bbox"].shape == (2, 1, 4)
        np.testing.assert_array_equal(got["joints_world"], arrays["joints_world"][[1, 4]])
        np.testing.assert_array_equal(got["instances"], arrays["instances"][[1, 4]])  # = the mask: 0/1
        assert got["instances"].dtype == np.uint8 and set(np.unique(got["instances"])) == {0, 1}
        assert got["present"].shape == (2, 1) and got["present"].all()
        assert reader.take_attrs("t0")["num_persons"] == 1
        np.testing.assert_array_equal(
            reader.take_arrays("t0", ["smplh_betas_used"])["smplh_betas_used"], arrays["smplh/betas_used"]
        )


def test_a_two_person_shard_reads_as_stored(tmp_path):
    arrays = _write(tmp_path / "v4.h5", 4, 2)
    with ShardReader(tmp_path / "v4.h5") as reader:
        got = reader.read("t0", "front", ["keypoints_2d", "bbox", "joints_world", "instances", "present"])
        for key in ("keypoints_2d", "bbox", "joints_world", "instances", "present"):
            np.testing.assert_array_equal(got[key], arrays[key])
        assert not got["present"][ABSENT_FRAME, 1] and reader.take_attrs("t0")["num_persons"] == 2
        assert reader.take_arrays("t0", ["smplh_betas_used"])["smplh_betas_used"].shape == (2, 16)


def test_pyskl_annotations_have_persons_first_and_zeros_where_absent():
    rng = np.random.default_rng(0)
    joints = rng.normal(size=(T, 2, 25, 3)).astype(np.float32)
    present = np.ones((T, 2), dtype=bool)
    present[ABSENT_FRAME, 1] = False
    joints[ABSENT_FRAME, 1] = np.nan  # as a shard stores an absent person
    ann = annotation_3d("x", 4, joints, present)
    assert ann["keypoint"].shape == (2, T, 25, 3) and ann["keypoint"].dtype == np.float32
    np.testing.assert_array_equal(ann["keypoint"][0], joints[:, 0])
    assert (ann["keypoint"][1, ABSENT_FRAME] == 0).all() and np.isfinite(ann["keypoint"]).all()
    np.testing.assert_array_equal(
        np.delete(ann["keypoint"][1], ABSENT_FRAME, 0), np.delete(joints[:, 1], ABSENT_FRAME, 0)
    )
    points, visible = keypoints(T, persons=2)
    ann2 = annotation_2d("x", 4, points, visible, (W, H), present)
    assert ann2["keypoint"].shape == (2, T, 17, 2) and ann2["keypoint_score"].shape == (2, T, 17)
    assert (ann2["keypoint_score"][1, ABSENT_FRAME] == 0).all() and ann2["keypoint_score"][0].any()
    with pytest.raises(ValueError, match=r"\(T, P, 25, 3\)"):
        annotation_3d("x", 4, joints[:, 0])


def test_each_persons_skeleton_has_its_own_colour_and_an_absent_one_none():
    black = np.zeros((120, 160, 3), np.uint8)
    points = np.zeros((2, 73, 2), np.float32)
    points[0] = np.random.default_rng(0).uniform([5, 5], [70, 115], (73, 2))  # left half
    points[1] = points[0] + [80, 0]  # right half
    visible = np.ones((2, 73), bool)
    image = draw_skeleton(black, points, visible)
    for person, columns in ((0, slice(0, 78)), (1, slice(82, 160))):
        assert (image[:, columns] == PERSON_COLOURS[person]).all(axis=-1).sum() > 50
        assert not (image[:, columns] == PERSON_COLOURS[1 - person]).all(axis=-1).any()
    points[1] = np.nan  # person 1 absent in this frame
    hidden = draw_skeleton(black, points, ~visible)
    assert (hidden == person_colour(0, visible=False)).all(axis=-1).sum() > 50
    assert not hidden[:, 82:].any()
    assert person_colour(1, visible=False) != PERSON_COLOURS[1] and len(set(PERSON_COLOURS)) == len(PERSON_COLOURS)


def test_items_pad_or_cut_to_num_persons_and_a_mixed_batch_is_refused_in_words():
    one = np.ones((4, 1, 25, 3), np.float32)
    padded = with_persons(one, 2)
    assert padded.shape == (4, 2, 25, 3) and (padded[:, 0] == 1).all() and np.isnan(padded[:, 1]).all()
    assert not with_persons(np.ones((4, 1), bool), 2)[:, 1].any()
    assert with_persons(np.ones((4, 3, 25, 3)), 2).shape == (4, 2, 25, 3)
    items = [{"present": torch.ones(4, p, dtype=torch.bool), "label": 0} for p in (1, 2)]
    with pytest.raises(ValueError, match="mixes takes of 1 and 2 persons; pass num_persons=2"):
        collate(items)


def test_stats_count_takes_by_persons_and_every_persons_body():
    takes = [
        {"gender": "male", "betas_used": [0.0] * 16},  # a take of a shard without the person axis
        {"gender": "male", "betas_used": [[1.0] * 16], "num_persons": 1},
        {"gender": "male", "num_persons": 2, "betas_used": [[0.0] * 16, [2.0] * 16],
         "persons": [{"gender": "male"}, {"gender": "female"}]},
    ]  # fmt: skip  # one take per line
    assert person_stats(takes) == {"takes_by_persons": {"1": 2, "2": 1}, "persons": 4}
    body = body_stats(takes)
    assert body["gender"] == {"male": 3, "female": 1} and sum(body["beta0"]["counts"]) == 4


def test_the_preview_captions_say_how_many_persons(tmp_path):
    run = ArrayRun(tmp_path / "run", persons=(1, 2))
    preview_run(run, tmp_path / "preview", max_clips=4, show_progress=False)
    page = (tmp_path / "preview" / "index.html").read_text()
    assert page.count("| 1 person |") == 2 and page.count("| 2 persons |") == 2  # two clips per take
    with Image.open(tmp_path / "preview" / "stats" / "body.png") as plot:
        assert plot.size[0] > 100


def test_the_card_says_how_many_takes_have_two_persons(tmp_path):
    (tmp_path / "shards").mkdir()
    entries = []
    for name, persons in (("train-00000-of-00001", (1, 2, 2)), ("val-00000-of-00001", (None,))):
        with h5py.File(tmp_path / "shards" / f"{name}.h5", "w") as f:
            for k, count in enumerate(persons):
                take = f.create_group(f"takes/t{name[0]}{k}")
                if count is not None:  # None: a shard written before the person axis
                    take.attrs["num_persons"] = count
        entries.append(ShardEntry(name, f"shards/{name}.h5", name.split("-")[0], "0" * 64, 1, len(persons), 9, []))
    manifest = Manifest(num_takes=4, views=["front"], splits={"train": 3, "val": 1}, shards=entries)
    text = card_text(tmp_path, manifest, {"demo": {"enabled": True}})
    assert "- persons per take: 2 takes of 1 person, 2 takes of 2 persons\n" in text
    assert Counter(line.startswith("- persons per take") for line in text.splitlines())[True] == 1
    assert "`instances`" in text


def test_a_format_4_take_without_its_person_count_is_named_as_damaged(tmp_path):
    _write(tmp_path / "v4.h5", 4, 2)
    with h5py.File(tmp_path / "v4.h5", "a") as f:
        del f["takes/t0/present"]
        del f["takes/t0"].attrs["num_persons"]
    with ShardReader(tmp_path / "v4.h5") as reader, pytest.raises(ShardReadError) as error:
        reader.take_attrs("t0")
    assert str(tmp_path / "v4.h5") in str(error.value) and "take t0" in str(error.value) and "merge" in str(error.value)
