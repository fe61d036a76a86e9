"""The person axis without rendering: the window record, the merge's NTU-25 selection per
person, a record of the one-person layout refused by name, and the per-person draws' seeds."""

from __future__ import annotations

import re

import numpy as np
import pytest

from synthact import shard_format
from synthact.render.encode import StorageSettings, WindowCoder
from synthact.render.window_record import WindowRecord, WindowRecordError
from synthact.render.worker import absent_as_nan, body_shape_noise
from synthact.scene.appearance import Appearance, sample_appearance, with_partners
from synthact.shards.writer import ntu25_of_every_person
from synthact.sources.ntu import SMPLH_TO_NTU25


def test_ntu25_is_selected_for_every_person() -> None:
    joints = np.random.default_rng(0).standard_normal((3, 2, 73, 3))
    got = ntu25_of_every_person(joints)
    assert got.shape == (3, 2, 25, 3)
    for k in range(2):
        np.testing.assert_array_equal(got[:, k], joints[:, k][:, SMPLH_TO_NTU25])
    visible = joints[..., 0] > 0  # (T, P, 73): the joint axis is the last
    np.testing.assert_array_equal(ntu25_of_every_person(visible), visible[:, :, SMPLH_TO_NTU25])


def test_every_per_person_spec_states_its_person_axis() -> None:
    for spec in (*shard_format.TAKE_DATASETS, *shard_format.VIEW_DATASETS):
        dims = spec.shape.strip("()").replace(",", " ").split()
        assert ("P" in dims) == spec.per_person, spec.name
        if spec.per_person:
            assert dims.index("P") == spec.person_axis, spec.name
    assert shard_format.INSTANCES.codec is shard_format.MASK.codec
    assert "instances" not in shard_format.per_person_keys(shard_format.VIEW_DATASETS)
    assert "present" in shard_format.per_person_keys(shard_format.TAKE_DATASETS)


def test_a_render_result_without_a_person_axis_is_refused_by_name(tmp_path) -> None:
    coder = WindowCoder(8, 6, StorageSettings())
    mask = np.zeros((6, 8), bool)
    mask[1:4, 2:5] = True
    coder.add(None, np.where(mask, 2.0, 0.0), mask, mask.astype(np.uint8), np.zeros((6, 8, 3)))
    coded = coder.finish()
    assert set(coded.images) == {spec.field for spec in shard_format.IMAGE_DATASETS}
    # One person: the instance ids are the mask.
    assert coded.images["instances"].chunk(0) == coded.images["mask"].chunk(0)
    arrays = {**coded.arrays(), "keypoints_visible": np.zeros((1, 73), bool), "bbox": np.zeros((1, 4), np.float32)}
    path = tmp_path / "w00000.npz"
    np.savez(path, **arrays)
    with pytest.raises(WindowRecordError, match=rf"^{re.escape(str(path))}: .*older format \(no person axis\)"):
        WindowRecord.read(path)


def test_absent_frames_become_nan() -> None:
    values = np.ones((4, 3), np.float64)
    got = absent_as_nan(values, np.array([True, False, True, False]))
    assert got.dtype == np.float32
    assert np.isnan(got[[1, 3]]).all() and (got[[0, 2]] == 1).all()


def test_partners_draw_their_own_shape_and_look_and_leave_person_zero_as_it_was() -> None:
    noise = [body_shape_noise(7, "t1", 0.5, 16, person) for person in range(3)]
    np.testing.assert_array_equal(noise[0], body_shape_noise(7, "t1", 0.5, 16))
    assert not np.array_equal(noise[0], noise[1]) and not np.array_equal(noise[1], noise[2])
    alone = sample_appearance(5, ["forest", "sunset"])
    group = with_partners(alone, 5, 3)
    assert group.num_persons == 3 and "partners" not in alone.to_dict()
    assert {k: v for k, v in group.to_dict().items() if k != "partners"} == alone.to_dict()
    assert Appearance.from_dict(group.to_dict()) == group
    looks = [group.look(k) for k in range(3)]
    assert looks[0].skin == alone.skin and looks[1] != looks[2] and looks[1] != looks[0]
    worn = group.worn_by(2)
    assert worn.top == looks[2].top and worn.hdri == alone.hdri  # the scene's draws are shared
    textured = with_partners(alone, 5, 2, textures=["a.png", "b.png"])
    assert textured.look(1).texture in ("a.png", "b.png") and textured.look(1).skin is None
