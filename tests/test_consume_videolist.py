"""video-list export: one mp4 per clip-view, mmaction2 list and PySlowFast CSV read back."""

from __future__ import annotations

from synthact.consume.export_videolist import export_clip_videos, plan_clip_videos, write_lists
from synthact.consume.video import probe_mp4, psnr, read_mp4
from tests.consume_inputs import take_arrays

ROWS = [
    {"clip_id": "k0", "take_id": "t0", "split": "train", "label_index": 2, "take_frame_start": 0, "take_frame_stop": 8},
    {
        "clip_id": "k1",
        "take_id": "t0",
        "split": "train",
        "label_index": 0,
        "take_frame_start": 8,
        "take_frame_stop": 20,
    },
    {"clip_id": "k2", "take_id": "t1", "split": "val", "label_index": 1, "take_frame_start": 2, "take_frame_stop": 12},
]


def test_videolist_reads_back(tmp_path) -> None:
    arrays = {"t0": take_arrays(20, 120, 160, seed=0)["rgb"], "t1": take_arrays(12, 120, 160, seed=1)["rgb"]}
    videos = plan_clip_videos(ROWS, ["front", "back"])
    asked = []

    def read_rgb(take_id, view, frames):  # frames: a slice of the take, as ShardReader.read takes it
        asked.append(frames.stop - frames.start)
        return arrays[take_id][frames]

    counts = export_clip_videos(tmp_path, videos, read_rgb, {"t0": 30.0, "t1": 30.0}, show_progress=False)
    assert counts == {"written": 6, "skipped": 0} and asked == [8, 8, 12, 12, 10, 10]
    write_lists(tmp_path, videos, ["walk", "sit", "jump"])
    lines = (tmp_path / "mmaction" / "train_list_videos.txt").read_text().splitlines()
    assert lines == ["train/k0_front.mp4 2", "train/k0_back.mp4 2", "train/k1_front.mp4 0", "train/k1_back.mp4 0"]
    assert (tmp_path / "slowfast" / "val.csv").read_text() == "val/k2_front.mp4 1\nval/k2_back.mp4 1\n"
    assert (tmp_path / "classes.txt").read_text().split("\n")[:3] == ["walk", "sit", "jump"]
    for line in lines + (tmp_path / "slowfast" / "val.csv").read_text().splitlines():
        path, label = line.split(" ")  # PySlowFast: PATH_LABEL_SEPARATOR " "
        row = next(r for r in ROWS if r["clip_id"] == path.split("/")[1].split("_")[0])
        video = tmp_path / "videos" / path
        assert (
            probe_mp4(video).frames == row["take_frame_stop"] - row["take_frame_start"]
            and int(label) == row["label_index"]
        )
        clip = arrays[row["take_id"]][row["take_frame_start"] : row["take_frame_stop"]]
        assert min(psnr(a, b) for a, b in zip(read_mp4(video), clip, strict=True)) > 30
    assert export_clip_videos(tmp_path, videos, read_rgb, {"t0": 30.0, "t1": 30.0}, show_progress=False)["skipped"] == 6
