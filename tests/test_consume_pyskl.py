"""pyskl/mmaction2 PoseDataset pickles: keys, dtypes, shapes, splits, COCO-17; a model trains on one."""

from __future__ import annotations

import pickle
import runpy
from pathlib import Path

import numpy as np
import pytest

from synthact.body.skeleton import OUTPUT_JOINT_NAMES
from synthact.consume.coco17 import COCO17_FROM_OUTPUT, COCO17_NAMES, to_coco17
from synthact.consume.export_pyskl import (
    PoseItem,
    annotation_2d,
    annotation_3d,
    frame_dir,
    split_table,
    write_pose_pickle,
)
from tests.consume_inputs import keypoints

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "train_pyskl.py"


def test_coco17_mapping_names() -> None:
    ours = [OUTPUT_JOINT_NAMES[i] for i in COCO17_FROM_OUTPUT]
    assert ours[:5] == ["nose", "leye", "reye", "lear", "rear"]
    assert ours[5:] == list(COCO17_NAMES[5:])
    points = np.arange(73 * 2, dtype=np.float32).reshape(1, 73, 2)
    assert (to_coco17(points)[0, 0] == points[0, 52]).all()
    assert to_coco17(np.ones((4, 73), bool)).shape == (4, 17)


def test_pickles_load_with_plain_pickle(tmp_path) -> None:
    rng = np.random.default_rng(0)
    joints = {f"c{i}": rng.normal(size=(20 + i, 1, 25, 3)).astype(np.float64) for i in range(3)}
    anns3 = [annotation_3d(frame_dir(c, "front"), i, j) for i, (c, j) in enumerate(joints.items())]
    items = [PoseItem(a["frame_dir"], s, "front") for a, s in zip(anns3, ("train", "train", "val"), strict=True)]
    write_pose_pickle(tmp_path / "3d.pkl", anns3, split_table(items, "amarv"))
    with open(tmp_path / "3d.pkl", "rb") as f:
        data = pickle.load(f)
    assert set(data) == {"split", "annotations"}
    assert data["split"] == {"train": ["c0_front", "c1_front"], "val": ["c2_front"]}
    for ann, j in zip(data["annotations"], joints.values(), strict=True):
        assert ann["keypoint"].dtype == np.float32 and ann["keypoint"].shape == (1, len(j), 25, 3)
        assert ann["total_frames"] == len(j) and isinstance(ann["label"], int)
        np.testing.assert_array_equal(ann["keypoint"][0], j[:, 0].astype(np.float32))
    points, vis = keypoints(12)
    ann2 = annotation_2d("x_front", 3, points, vis, (64, 48))
    assert ann2["keypoint"].shape == (1, 12, 17, 2) and ann2["keypoint"].dtype == np.float32
    assert ann2["keypoint_score"].shape == (1, 12, 17) and ann2["keypoint_score"].dtype == np.float32
    assert ann2["img_shape"] == ann2["original_shape"] == (48, 64)
    np.testing.assert_array_equal(ann2["keypoint_score"][0], vis[:, 0, COCO17_FROM_OUTPUT].astype(np.float32))


def test_ntu_split_names() -> None:
    items = [PoseItem(frame_dir(c, v), s, v) for c, s in (("a", "train"), ("b", "val")) for v in ("c1", "c2", "c3")]
    split = split_table(items, "ntu")
    assert sorted(split) == ["xsub_train", "xsub_val", "xview_train", "xview_val"]
    assert split["xview_val"] == ["a_c1", "b_c1"] and split["xsub_val"] == ["b_c1", "b_c2", "b_c3"]
    with pytest.raises(ValueError, match="not NTU cameras"):
        split_table([PoseItem("a_front", "train", "front")], "ntu")
    with pytest.raises(ValueError, match="has no annotation"):
        write_pose_pickle("/nonexistent/x.pkl", [], {"train": ["zz"]})


def _separable_pickle(path: Path, num_classes: int = 4, per_class: int = 12) -> None:
    """Each class moves one joint of the first person along its own axis: a model can learn it.
    Every second annotation holds two persons, as an NTU run's interaction classes do."""
    rng = np.random.default_rng(1)
    anns = []
    for k in range(num_classes):
        for n in range(per_class):
            t = rng.integers(30, 50)
            j = rng.normal(0, 0.05, size=(t, 1 + n % 2, 25, 3))
            j[:, 0, 7 + k, k % 3] += np.sin(np.linspace(0, 4 * np.pi, t)) * 0.3
            anns.append(annotation_3d(f"k{k}n{n}", k, j))
    write_pose_pickle(path, anns, {"train": [a["frame_dir"] for a in anns], "val": []})


@pytest.mark.slow  # trains a model for several seconds
def test_example_training_on_the_pickle_lowers_the_loss(tmp_path, capsys) -> None:
    _separable_pickle(tmp_path / "p.pkl")
    train = runpy.run_path(str(EXAMPLE))["train"]
    losses = train(tmp_path / "p.pkl", steps=120, log_every=20)
    out = capsys.readouterr().out
    assert out.count("loss") == 6
    first, last = np.mean(losses[:10]), np.mean(losses[-10:])
    print(f"pyskl example: loss {first:.3f} -> {last:.3f}")
    assert last < 0.5 * first
