"""Previews and statistics: files exist, read back, and the numbers match counts from the inputs."""

from __future__ import annotations

import json
import re
from collections import Counter

import numpy as np
from PIL import Image

from synthact.consume.preview import CAPTION_PX, contact_sheet, write_clip_preview, write_png, write_run_page
from synthact.consume.stats import run_stats, write_stats
from synthact.consume.video import probe_mp4, psnr, read_mp4
from tests.consume_inputs import keypoints, take_arrays


def test_clip_preview_and_contact_sheet(tmp_path) -> None:
    a = take_arrays(10, 120, 160)
    a["keypoints_2d"], a["keypoints_visible"] = keypoints(10, 120, 160)
    assert write_clip_preview(tmp_path / "clip.mp4", a, fps=30) == 10
    info = probe_mp4(tmp_path / "clip.mp4")
    assert (info.frames, info.width, info.height) == (10, 640, 120 + CAPTION_PX)
    decoded = read_mp4(tmp_path / "clip.mp4")[:, CAPTION_PX:]  # under the caption strip
    assert min(psnr(d[:, :160], r) for d, r in zip(decoded, a["rgb"], strict=True)) > 30  # tile 1 is the RGB
    off = a["depth"] == 0  # none here: the wall is hit; the parts tile is black off the body
    assert not off.any() and decoded[:, :, 320:480][a["mask"] == 0].mean() < 8
    views = {"front": a["rgb"], "back": a["rgb"][::-1].copy()}
    sheet, picked = contact_sheet(views, columns=4)
    row = CAPTION_PX + 120  # each view's row is captioned with its name
    assert picked.tolist() == [0, 3, 6, 9] and sheet.shape == (2 * row, 640, 3)
    write_png(tmp_path / "sheet.png", sheet)
    back = np.asarray(Image.open(tmp_path / "sheet.png"))
    np.testing.assert_array_equal(back[row + CAPTION_PX :, 160:320], views["back"][3])
    write_run_page(
        tmp_path / "index.html",
        "demo",
        {"takes": 1},
        [{"title": "k0", "sheet": "sheet.png", "preview": "clip.mp4"}],
        ["sheet.png"],
    )
    page = (tmp_path / "index.html").read_text()
    for link in re.findall(r"src='([^']+)'", page):
        assert (tmp_path / link).is_file()


def _inputs():
    rng = np.random.default_rng(0)
    classes = ["walk", "sit", "jump"]
    rows = [
        {"split": s, "label_index": int(rng.integers(0, 3)), "start_t": 0.0, "end_t": float(rng.uniform(0.2, 5))}
        for s in ["train"] * 30 + ["val"] * 10
    ]
    takes = [
        {
            "num_frames": 40 + i,
            "gender": ["male", "female"][i % 2],
            "betas_used": rng.normal(size=16).tolist(),
            "appearance": {
                "hdri": f"hdri/{['a', 'b', 'c'][i % 3]}.exr",
                "top": {"pattern": "plain"},
                "bottom": {"pattern": ["noise", "plain"][i % 2]},
                "long_sleeves": i % 3 == 0,
                "long_legs": True,
            },
        }
        for i in range(7)
    ]
    views = [
        {
            "view": v,
            "azimuth_deg": az + rng.uniform(-8, 8),
            "distance_m": rng.uniform(2.5, 4.5),
            "height_m": rng.uniform(0.8, 2),
        }
        for _ in takes
        for v, az in (("front", 0), ("left", 90), ("back", 180), ("right", 270))
    ]
    return classes, rows, takes, views


def test_stats_numbers_match_the_inputs(tmp_path) -> None:
    classes, rows, takes, views = _inputs()
    stats = run_stats({"segments": (rows, classes)}, takes, views, {"rgb": 5 << 20, "depth": 3 << 20})
    files = write_stats(tmp_path, stats)
    assert {f.name for f in files} == {
        "stats.json",
        "classes_segments.png",
        "durations.png",
        "camera.png",
        "body.png",
        "appearance.png",
        "modalities.png",
    }
    for f in files[1:]:
        with Image.open(f) as image:
            assert image.format == "PNG" and image.size[0] > 100
    saved = json.loads((tmp_path / "stats.json").read_text())
    for split in ("train", "val"):
        expected = Counter(classes[r["label_index"]] for r in rows if r["split"] == split)
        assert saved["classes"]["segments"][split] == {c: expected.get(c, 0) for c in classes}
    d = saved["durations"]["segments"]["histogram"]
    assert sum(d["counts"]) == len(rows)
    i = 3
    assert d["counts"][i] == sum(d["edges"][i] <= r["end_t"] < d["edges"][i + 1] for r in rows)
    az = saved["camera"]["azimuth_deg"]["histogram"]
    assert sum(az["counts"]) == 28 and az["counts"][0] == sum(0 <= v["azimuth_deg"] % 360 < 10 for v in views)
    assert saved["appearance"]["hdri"] == {"a.exr": 3, "b.exr": 2, "c.exr": 2}
    assert saved["appearance"]["long_sleeves"] == {"False": 4, "True": 3}
    assert saved["body"]["gender"] == {"male": 4, "female": 3}
    assert saved["volume"] == {
        "frames": sum(t["num_frames"] for t in takes),
        "views": 4,
        "frame_views": 4 * sum(t["num_frames"] for t in takes),
        "bytes": {"depth": 3 << 20, "rgb": 5 << 20},
    }
