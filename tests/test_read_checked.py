"""The reader decodes only what it returns, checks every RGB packet it reads, and names
the file, the take and the view in every error (also from a DataLoader worker and at
the CLI of the exports).

The shards are real HDF5 files in the shard layout (docs/FORMAT.md): RGB coded by
the render task's encoder (``synthact.codecs.video``) and stored by the merge's
``write_video``, depth as the merge stores it (one gzip chunk per frame), damaged
on disk byte by byte.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from torch.utils.data import DataLoader

from synthact.codecs import depth as depth_codec
from synthact.codecs import storage, video
from synthact.consume.dataset import SynthActVideoDataset, collate
from synthact.consume.reader import ShardKeyError, ShardReader, ShardReadError
from synthact.labels.tables import ClassTable, ClipRow, write_protocol
from synthact.shard_format import FORMAT_VERSION, TAKE_IDS, VIEWS_ATTRIBUTE

T, H, W, K = 70, 48, 64, 8
VIEWS = ["front", "left"]


def _frames(seed: int) -> np.ndarray:
    """Moving gradients: every frame differs, so a frame from the wrong place shows."""
    yy, xx = np.mgrid[0:H, 0:W]
    t = np.arange(T)[:, None, None]
    rgb = np.stack([(xx * 3 + t * 5 + seed) % 256, (yy * 4 + t * 3) % 256, ((xx + yy) * 2 + t * 7) % 256], axis=-1)
    return rgb.astype(np.uint8)


def write_shard(path: Path, codec: str = "h264") -> dict[str, np.ndarray]:
    """A shard of one take (t0), two views; returns each view's RGB as decoded in full."""
    decoded = {}
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        f.attrs.update(format="synthact-shard", format_version=FORMAT_VERSION)
        f.attrs[VIEWS_ATTRIBUTE.name] = json.dumps(VIEWS)
        f.create_dataset(TAKE_IDS, data=np.array(["t0"], dtype=h5py.string_dtype()))
        f["takes/t0/frames"] = np.arange(T)
        f["takes/t0/smplh/betas_used"] = np.zeros((1, 16), np.float32)  # one person
        f["takes/t0/present"] = np.ones((T, 1), bool)
        f["takes/t0"].attrs.update(fps=30.0, source="s0.npz", repetition=0, num_persons=1)
        for v, view in enumerate(VIEWS):
            group = f.create_group(f"takes/t0/views/{view}")
            coded = video.encode_video(_frames(v), video.VideoSettings(codec=codec, keyframe_interval=K))
            storage.write_video(group.create_group("rgb"), coded)
            decoded[view] = video.decode_all(coded)
            codes = depth_codec.encode_depth(np.full((T, H, W), 2.0 + v, np.float32))
            group.create_dataset("depth", data=codes, **storage.image_options(codes.shape, codes.dtype, "gzip"))
            group["depth"].attrs.update(depth_codec.depth_attrs(depth_codec.ENCODING_V1))
    return decoded


def flip(path: Path, offset: int) -> None:
    with open(path, "r+b") as handle:
        handle.seek(offset)
        byte = handle.read(1)[0]
        handle.seek(offset)
        handle.write(bytes([byte ^ 0xFF]))


def rgb_packet_offset(path: Path, view: str, frame: int) -> int:
    """Where in the file the middle byte of a frame's RGB packet lies (the bitstream is contiguous)."""
    with h5py.File(path, "r") as f:
        group = f[f"takes/t0/views/{view}/rgb"]
        offsets = group["offsets"][()]
        return int(group["data"].id.get_offset()) + int((offsets[frame] + offsets[frame + 1]) // 2)


SELECTIONS = [
    slice(None),
    slice(3, 19),
    slice(5, 66, 4),
    slice(1, 70, 16),
    slice(60, 2, -3),
    np.array([40, 3, 3, 69, 17, 16]),
    [9],
]


@pytest.mark.parametrize("codec", ["h264", "av1", "jpeg"])
def test_every_selection_equals_the_full_decode(tmp_path, codec):
    full = write_shard(tmp_path / "s.h5", codec)
    with ShardReader(tmp_path / "s.h5", parallel_decode=False) as reader:
        for frames in SELECTIONS:
            got = reader.read("t0", "left", ["rgb"], frames=frames)["rgb"]
            np.testing.assert_array_equal(got, full["left"][frames], err_msg=str(frames))


def test_distant_picks_decode_from_their_own_keyframes(tmp_path):
    write_shard(tmp_path / "s.h5")
    with h5py.File(tmp_path / "s.h5", "r") as f:
        group = f["takes/t0/views/front/rgb"]
        # 4 frames 16 apart, each right after a keyframe: 2 frames each, never the 14 between
        sparse = storage.read_video_packets(group, 1, 50, picks=np.arange(0, 49, 16))
        assert sparse.decoded_frames == 8 and len(sparse.runs) == 4
        # stride 4 < K = 8, picks 5, 9, ..., 65: from keyframe 8b to 8b + 5 in each GOP (6 frames),
        # frames 8b + 6 and 8b + 7 never; a whole-window decode would take 66
        dense = storage.read_video_packets(group, 5, 66, picks=np.arange(0, 61, 4))
        assert dense.decoded_frames == 6 + 7 * 6 + 2 and len(dense.runs) == 9


def test_a_flipped_rgb_byte_is_an_error_naming_file_take_and_view(tmp_path):
    path = tmp_path / "s.h5"
    full = write_shard(path)
    flip(path, rgb_packet_offset(path, "left", 21))
    with ShardReader(path) as reader:
        np.testing.assert_array_equal(reader.read("t0", "left", ["rgb"], slice(0, 16))["rgb"], full["left"][:16])
        np.testing.assert_array_equal(reader.read("t0", "front", ["rgb"])["rgb"], full["front"])
        for frames, modalities in ((slice(20, 30), ["rgb"]), (slice(16, 24, 2), ["rgb", "depth"]), (None, None)):
            with pytest.raises(ShardReadError) as caught:
                reader.read("t0", "left", modalities, frames)
            message = str(caught.value)
            assert message.startswith(f"{path}: take t0 view left: rgb unreadable"), message
            assert "frame 21 fails its CRC-32" in message and "synthact status --verify" in message
            assert "\n" not in message


def test_older_shards_without_checksums_still_read(tmp_path):
    path = tmp_path / "s.h5"
    full = write_shard(path)
    with h5py.File(path, "r+") as f:
        for view in VIEWS:
            del f[f"takes/t0/views/{view}/rgb/crc32"]
    with ShardReader(path) as reader, pytest.raises(ShardReadError, match="no crc32 beside the RGB stream"):
        reader.read("t0", "front", ["rgb"])
    with h5py.File(path, "r+") as f:
        f.attrs["format_version"] = 2  # written before the checksums: read unchecked, as then
    with ShardReader(path) as reader:
        np.testing.assert_array_equal(reader.read("t0", "front", ["rgb"])["rgb"], full["front"])


def test_damage_and_unknown_names_are_one_line_with_file_take_and_view(tmp_path):
    path = tmp_path / "s.h5"
    write_shard(path)
    with ShardReader(path) as reader:
        with pytest.raises(ShardKeyError, match=rf"^{path}: no take t9 \(this shard holds 1: t0\)"):
            reader.read("t9", "front", ["depth"])
        with pytest.raises(ShardKeyError, match=rf"^{path}: take t0 has no view 'top'; its views: front, left"):
            reader.read("t0", "top", ["depth"])
        with pytest.raises(IndexError, match=rf"^{path}: take t0 view front: frames .* out of range"):
            reader.read("t0", "front", ["depth"], frames=[3, 70])
    with h5py.File(path, "r") as f:
        chunk = f["takes/t0/views/left/depth"].id.get_chunk_info(12)
    flip(path, chunk.byte_offset + chunk.size // 2)
    with ShardReader(path) as reader:
        assert reader.read("t0", "left", ["depth"], slice(0, 12))["depth"].shape == (12, H, W)
        with pytest.raises(ShardReadError, match=rf"^{path}: take t0 view left: depth unreadable \(.*\); the shard"):
            reader.read("t0", "left", ["rgb", "depth"], slice(8, 16))
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ShardReadError, match=rf"^{truncated}: not a readable HDF5 file \(.*truncated"):
        ShardReader(truncated).read("t0", "left", ["depth"])


def _row(take_frames: tuple[int, int]) -> ClipRow:
    return ClipRow(
        clip_id="c0",
        protocol="segments",
        take_id="t0",
        shard="train-00000-of-00001",
        split="train",
        repetition=0,
        sequence_id="0",
        source="s0.npz",
        segment_id="g0",
        chunk=0,
        frame_start=take_frames[0],
        frame_stop=take_frames[1],
        take_frame_start=take_frames[0],
        take_frame_stop=take_frames[1],
        start_t=0.0,
        end_t=1.0,
        label="walk",
        label_index=0,
        labels=("walk",),
        label_indices=(0,),
        raw_label="walk",
        proc_label="walk",
        annotator="a",
    )


def write_run(root: Path) -> Path:
    """What the exports and the dataset read of a run: a shard, its manifest, one clip table."""
    shard = root / "shards" / "train-00000-of-00001.h5"
    write_shard(shard)
    labels = root / "labels" / "segments"
    labels.mkdir(parents=True)
    write_protocol(
        labels / "clips.jsonl",
        labels / "classes.json",
        [_row((0, T))],
        ClassTable("segments", ("walk",), "frequency", (-1,)),
    )
    manifest = {
        "shards": [{"path": str(shard.relative_to(root)), "split": "train"}],
        "labels": [{"protocol": "segments"}],
    }
    (root / "manifest.json").write_text(json.dumps(manifest))
    return shard


def test_a_dataloader_worker_names_file_take_and_view(tmp_path):
    shard = write_run(tmp_path)
    flip(shard, rgb_packet_offset(shard, "front", 34))  # inside the centred window, 31..38
    ds = SynthActVideoDataset(tmp_path, modalities=("rgb",), num_frames=8, stride=1, offset="centre", views=["front"])
    loader = DataLoader(ds, batch_size=1, num_workers=1, collate_fn=collate)
    with pytest.raises(ShardReadError) as caught:
        next(iter(loader))
    assert f"{shard}: take t0 view front: rgb unreadable" in str(caught.value)


def test_export_video_list_of_a_damaged_stream_fails_in_one_line_and_writes_no_mp4(tmp_path):
    shard = write_run(tmp_path / "run")
    flip(shard, rgb_packet_offset(shard, "left", 40))
    dest = tmp_path / "export"
    result = subprocess.run(
        [sys.executable, "-m", "synthact.cli", "export", "video-list", str(tmp_path / "run"), str(dest), "--quiet"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert f"{shard}: take t0 view left: rgb unreadable (RGB packet of frame 40 fails its CRC-32" in lines[0]
    assert not list((dest / "videos").rglob("*left*.mp4"))
