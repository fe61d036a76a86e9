"""Data-loader speed: samples/s of SynthActVideoDataset, 16 x 4 RGB at 640x480, 0 and 2 workers.

    python benchmarks/dataloader.py OUTPUT_DIR [--protocol P] [--batches 20]

OUTPUT_DIR is a finished run rendered at 640x480 (e.g. the demo with
``render: {width: 640, height: 480}``). The dataset reads it through
``ShardReader`` and ``ClipTable``, one random view per clip, 16 frames 4 apart
(clips shorter than 61 frames are clamped, as in training). It prints samples/s
for num_workers 0 and 2 and the share of the 0-worker item time spent decoding
JPEG (timed by decoding the same windows' stored bytes alone).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import h5py
import simplejpeg
import torch
from torch.utils.data import DataLoader, RandomSampler

from synthact.consume.dataset import SynthActVideoDataset, collate, shard_path

NUM_FRAMES, STRIDE = 16, 4


def samples_per_second(dataset, workers: int, batches: int, batch_size: int = 4) -> float:
    """Steady-state rate: the first batch (worker start-up, first file opens) is not counted.

    Clips are drawn with replacement, so a small run still gives ``batches`` batches.
    """
    sampler = RandomSampler(dataset, replacement=True, num_samples=(batches + 1) * batch_size,
                            generator=torch.Generator().manual_seed(0))  # fmt: skip
    loader = DataLoader(dataset, batch_size=batch_size, num_workers=workers, collate_fn=collate, sampler=sampler)
    it = iter(loader)
    next(it)
    start, n = time.perf_counter(), 0
    for batch in it:
        n += len(batch["label"])
    return n / (time.perf_counter() - start)


def decode_share(dataset: SynthActVideoDataset, items: int = 16) -> tuple[float, float]:
    """(share of ``__getitem__`` time that JPEG decoding alone takes, ms per item)."""
    total = decode = 0.0
    n = min(items, len(dataset))
    for i in range(n):
        t0 = time.perf_counter()
        item = dataset[i]
        total += time.perf_counter() - t0
        row = dataset.rows[dataset.items[i].row]
        frames = sorted(set((item["frames"].numpy() + row.take_frame_start).tolist()))
        with h5py.File(shard_path(dataset.output_dir, row.shard), "r") as f:
            blobs = f[f"takes/{row.take_id}/views/{item['view']}/rgb"][frames]
        t0 = time.perf_counter()
        for b in blobs:
            simplejpeg.decode_jpeg(b.tobytes(), colorspace="RGB")
        decode += time.perf_counter() - t0
    return decode / total, 1000 * total / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output_dir")
    parser.add_argument("--protocol")
    parser.add_argument("--split", default="train")
    parser.add_argument("--batches", type=int, default=20)
    args = parser.parse_args()
    dataset = SynthActVideoDataset(args.output_dir, protocol=args.protocol, split=args.split, modalities=("rgb",),
                                   num_frames=NUM_FRAMES, stride=STRIDE, views="random", seed=0)  # fmt: skip
    size = tuple(dataset[0]["rgb"].shape)
    print(f"{len(dataset)} clips; one item: rgb {size} (C, T, H, W) uint8")
    for workers in (0, 2):
        print(f"num_workers={workers}: {samples_per_second(dataset, workers, args.batches):.1f} samples/s "
              f"({NUM_FRAMES}x{STRIDE} RGB, batch 4)")
    share, ms = decode_share(dataset)
    print(f"one item, 0 workers: {ms:.1f} ms, of which JPEG decoding {share:.0%}")


if __name__ == "__main__":
    main()
