"""Data-loader speed: samples/s of SynthActVideoDataset, 16 x 4 RGB at 640x480, 0 and 2 workers.

    python benchmarks/dataloader.py OUTPUT_DIR [--protocol P] [--batches 20]
    python benchmarks/dataloader.py --synthetic /tmp/bench   # before the take-format merge

With OUTPUT_DIR the dataset reads the run through ShardReader/ClipTable (the v2
reader). ``--synthetic`` writes one shard in the v2 layout (JPEG RGB per frame,
as ``render.jpeg_quality`` 90 stores it) and reads it with a minimal stand-in
reader that has the contract's ``read`` signature; after the merge, drop it
and point the script at ``make demo``'s output rendered at 640x480.

It prints samples/s for num_workers 0 and 2 and the share of the 0-worker time
spent decoding JPEG (timed by decoding the same windows' bytes alone).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import h5py
import numpy as np
import simplejpeg
from torch.utils.data import DataLoader

from synthact.consume.dataset import SynthActVideoDataset, collate

NUM_FRAMES, STRIDE = 16, 4


class JpegShardReader:
    """Stand-in for the v2 ShardReader: rgb decoded from per-frame JPEG bytes."""

    def __init__(self, path: Path):
        self.file = h5py.File(path, "r")

    @property
    def views(self) -> list[str]:
        return ["front", "left", "back", "right"]

    def read(self, take_id, view, modalities=None, frames=None):
        blobs = self.file[f"takes/{take_id}/views/{view}/rgb"][frames]
        return {"rgb": np.stack([simplejpeg.decode_jpeg(b.tobytes(), colorspace="RGB") for b in blobs])}


class Table:
    def __init__(self, rows, classes):
        self.rows, self.classes = rows, classes


def write_synthetic(root: Path, takes: int = 4, frames: int = 150) -> Table:
    """One shard: ``takes`` takes x 4 views x ``frames`` JPEG frames of 640x480."""
    (root / "shards").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:480, 0:640]
    rows = []
    with h5py.File(root / "shards" / "train-00000.h5", "w") as f:
        for k in range(takes):
            for view in ("front", "left", "back", "right"):
                blobs = []
                for t in range(frames):
                    img = np.stack([(xx + 3 * t) % 256, (yy + k * 40) % 256, np.full_like(xx, 90)], -1).astype(np.uint8)
                    img[200:400, 250 + t:350 + t] = rng.integers(0, 255, 3)
                    blobs.append(np.frombuffer(simplejpeg.encode_jpeg(img, quality=90), np.uint8))
                ds = f.create_dataset(f"takes/t{k}/views/{view}/rgb", (frames,), dtype=h5py.vlen_dtype(np.uint8))
                for i, b in enumerate(blobs):
                    ds[i] = b
            rows.append({"clip_id": f"c{k}", "take_id": f"t{k}", "shard": "train-00000", "split": "train",
                         "label_index": k % 2, "take_frame_start": 0, "take_frame_stop": frames})  # fmt: skip
    return Table(rows * 16, ["a", "b"])


def samples_per_second(dataset, workers: int, batches: int, batch_size: int = 4) -> float:
    loader = DataLoader(dataset, batch_size=batch_size, num_workers=workers, collate_fn=collate, shuffle=True)
    it = iter(loader)
    next(it)  # worker start-up and first open are not steady state
    start, n = time.perf_counter(), 0
    for _ in range(batches):
        try:
            n += len(next(it)["label"])
        except StopIteration:
            break
    return n / (time.perf_counter() - start)


def decode_share(dataset, reader_path: Path, items: int = 16) -> float:
    """Share of ``__getitem__`` time that JPEG decoding alone takes."""
    f = h5py.File(reader_path, "r")
    total = decode = 0.0
    for i in range(items):
        t0 = time.perf_counter()
        item = dataset[i]
        total += time.perf_counter() - t0
        row = dataset.rows[dataset.items[i].row]
        blobs = f[f"takes/{row['take_id']}/views/{item['view']}/rgb"][item["frames"].numpy() + int(row["take_frame_start"])]
        t0 = time.perf_counter()
        for b in blobs:
            simplejpeg.decode_jpeg(b.tobytes(), colorspace="RGB")
        decode += time.perf_counter() - t0
    return decode / total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output_dir", nargs="?")
    parser.add_argument("--synthetic", type=Path, help="write and read a synthetic 640x480 shard here")
    parser.add_argument("--protocol")
    parser.add_argument("--batches", type=int, default=20)
    args = parser.parse_args()
    common = dict(modalities=("rgb",), num_frames=NUM_FRAMES, stride=STRIDE, views="random", seed=0)
    if args.synthetic:
        table = write_synthetic(args.synthetic)
        dataset = SynthActVideoDataset(args.synthetic, table=table, reader_factory=JpegShardReader, **common)
        shard = args.synthetic / "shards" / "train-00000.h5"
    else:
        dataset = SynthActVideoDataset(args.output_dir, protocol=args.protocol, **common)
        shard = Path(args.output_dir) / "shards" / f"{dataset.rows[0]['shard']}.h5"
    for workers in (0, 2):
        print(f"num_workers={workers}: {samples_per_second(dataset, workers, args.batches):.1f} samples/s "
              f"({NUM_FRAMES}x{STRIDE} RGB, batch 4)")
    print(f"decoding share (0 workers): {decode_share(dataset, shard):.0%}")


if __name__ == "__main__":
    main()
