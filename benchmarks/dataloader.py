"""Data-loader speed: samples/s of SynthActVideoDataset, 16 x 4 RGB at 640x480, 0 and 2 workers.

    python benchmarks/dataloader.py OUTPUT_DIR [--protocol P] [--batches 20]

OUTPUT_DIR is a finished run rendered at 640x480 (e.g. the demo with
``render: {width: 640, height: 480}``). The dataset reads it through
``ShardReader`` and ``ClipTable``, one random view per clip, 16 frames 4 apart
(clips shorter than 61 frames are clamped, as in training, and then decode fewer
distinct frames; ``--whole-takes`` makes each take one clip, ``--stride`` changes
the spacing). It prints samples/s for num_workers 0 and 2, the 0-worker item time
in wall and CPU seconds (CPU time is what a busy shared machine does not
inflate), and the share of it spent decoding JPEG (timed by decoding the same
windows' stored bytes alone).
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import h5py
import simplejpeg
import torch
from torch.utils.data import DataLoader, RandomSampler

from synthact.consume.dataset import SynthActVideoDataset, collate, shard_path
from synthact.consume.reader import ClipTable, ShardReader

NUM_FRAMES, STRIDE = 16, 4


def samples_per_second(dataset, workers: int, batches: int, batch_size: int = 4) -> float:
    """Steady-state rate: the first batch (worker start-up, first file opens) is not counted.

    Clips are drawn with replacement, so a small run still gives ``batches`` batches.
    """
    sampler = RandomSampler(
        dataset, replacement=True, num_samples=(batches + 1) * batch_size, generator=torch.Generator().manual_seed(0)
    )
    loader = DataLoader(dataset, batch_size=batch_size, num_workers=workers, collate_fn=collate, sampler=sampler)
    it = iter(loader)
    next(it)
    start, n = time.perf_counter(), 0
    for batch in it:
        n += len(batch["label"])
    return n / (time.perf_counter() - start)


def decode_share(dataset: SynthActVideoDataset, items: int = 16) -> dict[str, float]:
    """Per item at 0 workers: wall ms, CPU ms, distinct frames decoded, and the share of
    the CPU time that JPEG decoding alone takes."""
    wall = cpu = decode = 0.0
    distinct = 0
    n = min(items, len(dataset))
    for i in range(n):
        w0, c0 = time.perf_counter(), time.process_time()
        item = dataset[i]
        wall += time.perf_counter() - w0
        cpu += time.process_time() - c0
        row = dataset.rows[dataset.items[i].row]
        frames = sorted(set((item["frames"].numpy() + row.take_frame_start).tolist()))
        distinct += len(frames)
        with h5py.File(shard_path(dataset.output_dir, row.shard), "r") as f:
            blobs = f[f"takes/{row.take_id}/views/{item['view']}/rgb"][frames]
        c0 = time.process_time()
        for b in blobs:
            simplejpeg.decode_jpeg(b.tobytes(), colorspace="RGB")
        decode += time.process_time() - c0
    return {"wall_ms": 1000 * wall / n, "cpu_ms": 1000 * cpu / n, "distinct": distinct / n, "share": decode / cpu}


def whole_takes(output_dir: str, protocol: str | None, split: str) -> ClipTable:
    """The clip table with each take's first clip widened to the whole take (one clip per take)."""
    table = ClipTable.load(output_dir, protocol)
    rows, seen = [], set()
    for row in table.rows:
        if row.split == split and row.take_id not in seen:
            seen.add(row.take_id)
            with ShardReader(shard_path(Path(output_dir), row.shard)) as reader:
                frames = reader.num_frames(row.take_id)
            rows.append(dataclasses.replace(row, take_frame_start=0, take_frame_stop=frames))
    return dataclasses.replace(table, rows=tuple(rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output_dir")
    parser.add_argument("--protocol")
    parser.add_argument("--split", default="train")
    parser.add_argument("--stride", type=int, default=STRIDE)
    parser.add_argument("--whole-takes", action="store_true", help="one clip per take, over all its frames")
    parser.add_argument("--batches", type=int, default=20)
    args = parser.parse_args()
    table = whole_takes(args.output_dir, args.protocol, args.split) if args.whole_takes else None
    dataset = SynthActVideoDataset(
        args.output_dir,
        protocol=args.protocol,
        split=args.split,
        modalities=("rgb",),
        num_frames=NUM_FRAMES,
        stride=args.stride,
        views="random",
        seed=0,
        table=table,
    )
    size = tuple(dataset[0]["rgb"].shape)
    print(f"{len(dataset)} clips; one item: rgb {size} (C, T, H, W) uint8, {NUM_FRAMES}x{args.stride}")
    for workers in (0, 2):
        print(f"num_workers={workers}: {samples_per_second(dataset, workers, args.batches):.1f} samples/s (batch 4)")
    d = decode_share(dataset)
    print(
        f"one item, 0 workers: {d['wall_ms']:.1f} ms wall, {d['cpu_ms']:.1f} ms CPU "
        f"({1000 / d['cpu_ms']:.1f} samples per CPU-second), {d['distinct']:.1f} distinct frames decoded; "
        f"JPEG decoding {d['share']:.0%} of the CPU time"
    )


if __name__ == "__main__":
    main()
