"""Every consumer on a run with two-person takes: the session's tiny run (real Blender,
real shards, real clip tables), its train shard rewritten as a format-4 shard of two
persons (tests/two_person_shard.py: person 1 a moved copy of person 0, absent in a few
frames), its val shard of one person left as written. So one run mixes takes of one and
two persons, and, where the tiny run writes format 3, both layouts, as a run whose shards
were merged before and after the person axis would.

Each check reads the shards back independently (h5py, or the untouched shard of the
tiny run) and compares.
"""

from __future__ import annotations

import json
import pickle
import shutil
from collections import Counter
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from synthact.consume import SynthActVideoDataset, collate
from synthact.consume.exports import export_run, preview_run, stats_run
from synthact.consume.preview import draw_skeleton, person_colour
from synthact.consume.reader import ClipTable, ShardReader
from synthact.consume.run import ShardRun
from synthact.shards.dataset_card import card_text, persons_per_take
from synthact.shards.manifest import Manifest
from tests.two_person_shard import ABSENT_FRAMES, OFFSET_M, present_of, to_two_persons

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def output(tiny_run: Path, tmp_path_factory: pytest.TempPathFactory):
    """A copy of the tiny run's output whose train shards hold two persons per take (format 4)."""
    dest = tmp_path_factory.mktemp("two-persons") / "output"
    shutil.copytree(tiny_run / "output", dest, ignore=shutil.ignore_patterns("cache", "report"))
    for shard in sorted((dest / "shards").glob("train-*.h5")):
        to_two_persons(shard)
    return dest


@pytest.fixture(scope="module")
def run(output: Path):
    shards = ShardRun(output)
    yield shards
    shards.close()


def persons_of(output: Path) -> dict[str, int]:
    """take id -> persons, read with h5py: 2 in the rewritten train shards, 1 in the others."""
    out = {}
    for path in (output / "shards").glob("*.h5"):
        with h5py.File(path, "r") as f:
            out.update({t: int(g.attrs.get("num_persons", 1)) for t, g in f["takes"].items()})
    return out


def test_the_reader_gives_both_layouts_one_person_axis(output, tiny_run):
    original = ShardReader(next((tiny_run / "output" / "shards").glob("train-*.h5")))
    rewritten = ShardReader(next((output / "shards").glob("train-*.h5")))
    one_body = ShardReader(next((output / "shards").glob("val-*.h5")))
    take = original.take_ids[0]
    old = original.read(take, "front", ["keypoints_2d", "bbox", "ntu25_joints_cam", "mask", "instances", "present"])
    new = rewritten.read(take, "front", ["keypoints_2d", "bbox", "ntu25_joints_cam", "mask", "instances", "present"])
    T = len(old["present"])
    assert original.format_version in (3, 4) and rewritten.format_version == 4
    assert old["keypoints_2d"].shape == (T, 1, 73, 2) and new["keypoints_2d"].shape == (T, 2, 73, 2)
    assert old["bbox"].shape == (T, 1, 4) and new["ntu25_joints_cam"].shape == (T, 2, 25, 3)
    np.testing.assert_array_equal(old["instances"], old["mask"])  # one body: the mask is person 0
    assert old["present"].dtype == bool and old["present"].all()
    np.testing.assert_array_equal(new["keypoints_2d"][:, 0], old["keypoints_2d"][:, 0])  # person 0 kept, in order
    np.testing.assert_array_equal(new["present"], present_of(T))
    absent = list(ABSENT_FRAMES)
    assert np.isnan(new["keypoints_2d"][absent, 1]).all() and np.isnan(new["bbox"][absent, 1]).all()
    assert not (new["instances"][absent] == 2).any() and (new["instances"] == 2).any()
    np.testing.assert_array_equal(new["mask"], new["instances"] > 0)  # the mask is every person's
    world = rewritten.read(take, "front", ["joints_world"])["joints_world"]
    there = new["present"][:, 1]
    np.testing.assert_allclose(
        world[there, 1] - world[there, 0], np.broadcast_to(OFFSET_M, world[there, 1].shape), atol=1e-5
    )
    assert original.take_attrs(take)["num_persons"] == 1 and rewritten.take_attrs(take)["num_persons"] == 2
    assert len(rewritten.take_attrs(take)["persons"]) == 2
    assert original.take_arrays(take)["smplh_betas_used"].shape == (1, 16)
    assert rewritten.take_arrays(take)["smplh_betas_used"].shape == (2, 16)
    everything = one_body.read(one_body.take_ids[0], "left")  # every modality, those made for format 3 too
    assert everything["joints_cam"].shape[1] == 1 and everything["instances"].shape == everything["mask"].shape
    assert everything["present"].shape == (len(everything["frames"]), 1)
    for reader in (original, rewritten, one_body):
        reader.close()


def test_pyskl_has_every_person_in_body_order_with_zeros_where_absent(output, run, tmp_path):
    export_run("pyskl", run, tmp_path / "pyskl", show_progress=False)
    with open(tmp_path / "pyskl" / "pyskl_3d.pkl", "rb") as f:
        d3 = pickle.load(f)
    with open(tmp_path / "pyskl" / "pyskl_2d.pkl", "rb") as f:
        d2 = pickle.load(f)
    rows = {r.clip_id: r for r in ClipTable.load(output).rows}
    persons = persons_of(output)
    seen = Counter()
    for a3, a2 in zip(d3["annotations"], d2["annotations"], strict=True):
        clip_id, view = a3["frame_dir"].rsplit("_", 1)
        row = rows[clip_id]
        window = slice(row.take_frame_start, row.take_frame_stop)
        shard = run.read(row.take_id, view, ["ntu25_joints_cam", "present"], window)
        T, M = window.stop - window.start, persons[row.take_id]
        assert a3["keypoint"].shape == (M, T, 25, 3) and a2["keypoint"].shape == (M, T, 17, 2)
        assert a2["keypoint_score"].shape == (M, T, 17)
        for person in range(M):
            here = shard["present"][:, person]
            np.testing.assert_array_equal(a3["keypoint"][person][here], shard["ntu25_joints_cam"][here, person])
            assert (a3["keypoint"][person][~here] == 0).all() and (a2["keypoint_score"][person][~here] == 0).all()
        seen[M] += 1
    assert seen[2] > 0 and seen[1] > 0  # the rewritten train takes and the one-person val takes


@pytest.mark.filterwarnings("ignore:.*would repeat frames")  # the tiny run's clips are a few frames long
def test_the_dataset_returns_the_person_axis_and_pads_to_num_persons(output):
    train = SynthActVideoDataset(output, split="train", modalities=("ntu25", "keypoints_2d"), num_frames=4, stride=1)
    item = train[0]
    assert item["ntu25_joints_cam"].shape == (4, 2, 25, 3) and item["keypoints_2d"].shape == (4, 2, 73, 2)
    assert item["present"].shape == (4, 2) and item["present"][:, 0].all()
    mixed = SynthActVideoDataset(output, split=None, modalities=("ntu25",), num_frames=4, stride=1, offset="centre")
    items = [mixed[i] for i in range(len(mixed))]
    assert {int(it["present"].shape[1]) for it in items} == {1, 2}
    with pytest.raises(ValueError, match="num_persons=2"):
        collate(items)
    padded = SynthActVideoDataset(
        output, split=None, modalities=("ntu25",), num_frames=4, stride=1, offset="centre", num_persons=2
    )
    batch = collate([padded[i] for i in range(len(padded))])
    assert batch["ntu25_joints_cam"].shape == (len(padded), 4, 2, 25, 3)
    one_person = [i for i, it in enumerate(items) if it["present"].shape[1] == 1]
    assert not batch["present"][one_person, :, 1].any()  # the padded person is absent: not present, NaN
    assert torch.isnan(batch["ntu25_joints_cam"][one_person, :, 1]).all()
    first_absent = SynthActVideoDataset(  # each clip's first window starts at its first frame
        output, split="train", modalities=("ntu25",), num_frames=6, stride=1, offset="uniform", num_clips=2
    )
    windows = [first_absent[i] for i in range(len(first_absent))]
    absent = [w for w in windows if not w["present"][:, 1].all()]
    assert absent and all(torch.isnan(w["ntu25_joints_cam"][~w["present"]]).all() for w in absent)


def test_the_preview_draws_each_person_in_its_own_colour(output, run, tmp_path):
    reader = ShardReader(next((output / "shards").glob("train-*.h5")))
    take = reader.take_ids[0]
    arrays = reader.read(take, "front", ["rgb", "keypoints_2d", "keypoints_visible"], frames=[0, ABSENT_FRAMES[0]])
    reader.close()
    for frame, drawn_persons in ((0, (0, 1)), (1, (0,))):
        image = draw_skeleton(arrays["rgb"][frame], arrays["keypoints_2d"][frame], arrays["keypoints_visible"][frame])
        changed = (image != arrays["rgb"][frame]).any(axis=-1)
        for person in (0, 1):
            colours = [person_colour(person, v) for v in (True, False)]
            count = sum(int(((image == c).all(axis=-1) & changed).sum()) for c in colours)
            assert (count > 0) == (person in drawn_persons), (frame, person, count)
    preview_run(run, tmp_path / "preview", max_clips=4, show_progress=False)
    page = (tmp_path / "preview" / "index.html").read_text()
    assert "| 2 persons |" in page and "| 1 person |" in page


def test_stats_and_the_card_count_takes_by_persons(output, run, tmp_path):
    persons = persons_of(output)
    want = Counter(persons.values())
    stats = json.loads(stats_run(run, tmp_path / "stats")[0].read_text())
    assert stats["persons"] == {
        "takes_by_persons": {str(n): c for n, c in sorted(want.items())},
        "persons": sum(persons.values()),
    }
    assert sum(stats["body"]["gender"].values()) == sum(persons.values())
    manifest = Manifest.from_json((output / "manifest.json").read_text())
    assert persons_per_take(output, manifest) == want
    text = card_text(output, manifest, {"demo": {"enabled": True}})
    assert f"- persons per take: {want[1]} take of 1 person, {want[2]} takes of 2 persons" in text
