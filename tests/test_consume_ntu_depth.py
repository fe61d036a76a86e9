"""ntu-depth export: 16-bit millimetre PNGs on the body, NTU's names, read back with Pillow."""

from __future__ import annotations

import numpy as np
from PIL import Image

from synthact.consume.export_ntu_depth import ROOT, masked_depth_mm, write_sample
from synthact.consume.sample_names import sample_names
from tests.consume_inputs import take_arrays


def test_pngs_equal_the_depth_in_mm_on_the_mask(tmp_path) -> None:
    a = take_arrays(6)
    assert write_sample(tmp_path, "S001C002P003R001A013", a["depth"], a["mask"]) == 6
    folder = tmp_path / ROOT / "S001C002P003R001A013"
    assert sorted(p.name for p in folder.iterdir()) == [f"MDepth-{i:08d}.png" for i in range(1, 7)]
    for t in range(6):
        with Image.open(folder / f"MDepth-{t + 1:08d}.png") as image:
            assert image.mode in ("I;16", "I") and image.size == (64, 48)
            png = np.asarray(image)
        expected = np.where(a["mask"][t] > 0, np.rint(a["depth"][t].astype(np.float64) * 1000), 0)
        np.testing.assert_array_equal(png, expected)
        assert png.max() > 2000 and (png[a["mask"][t] == 0] == 0).all()
    assert write_sample(tmp_path, "S001C002P003R001A013", a["depth"], a["mask"]) == 0  # resumes


def test_clipping_and_names() -> None:
    mm = masked_depth_mm(np.array([[0.0, 70.0, 1.2345]]), np.array([[1, 1, 1]]))
    assert mm.dtype == np.uint16 and mm.tolist() == [[0, 65535, 1234]]
    names = sample_names(
        [
            {"clip_id": "a", "view": "c1", "source": "nturgbd/S001C002P003R001A013.skeleton"},
            {"clip_id": "a", "view": "c3", "source": "nturgbd/S001C002P003R001A013.skeleton"},
            {"clip_id": "b", "view": "front", "source": "CMU/01/01_01_poses.npz"},
            {"clip_id": "c", "view": "c1", "source": "x/S002C001P001R001A001.skeleton"},
            {"clip_id": "d", "view": "c1", "source": "y/S002C001P001R001A001.skeleton"},
        ]
    )
    assert names[("a", "c1")] == "S001C001P003R001A013" and names[("a", "c3")] == "S001C003P003R001A013"
    assert names[("b", "front")] == "b_front"
    assert names[("c", "c1")] == "c_c1" and names[("d", "c1")] == "d_c1"  # would collide
