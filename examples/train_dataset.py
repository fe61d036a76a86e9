"""Train a tiny video classifier on a SynthAct run through SynthActVideoDataset; print the loss curve.

    python examples/train_dataset.py output/demo --protocol segments --steps 300

One random view per clip (the AMARV authors' choice), 8 frames x stride 2,
random offsets, RGB as (C, T, H, W) uint8, scaled to [0, 1] in the transform
hook and resized to 64x64; a two-layer 3D CNN. The demo is tiny, so this shows
that data flows and the loss falls, not that the model generalises.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from synthact.consume.dataset import SynthActVideoDataset, collate


def to_float(sample: dict) -> dict:
    """Transform hook: uint8 (C, T, H, W) -> float in [0, 1] at 64x64."""
    rgb = sample["rgb"].float() / 255.0
    sample["rgb"] = nn.functional.interpolate(rgb, size=(64, 64), mode="bilinear", align_corners=False)
    return sample


def tiny_model(num_classes: int) -> nn.Module:
    return nn.Sequential(
        nn.Conv3d(3, 16, kernel_size=3, stride=(1, 2, 2), padding=1),
        nn.ReLU(),
        nn.Conv3d(16, 32, kernel_size=3, stride=(1, 2, 2), padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool3d(1),
        nn.Flatten(),
        nn.Linear(32, num_classes),
    )


def train(
    dataset,
    num_classes: int,
    steps: int = 300,
    batch_size: int = 8,
    num_workers: int = 2,
    seed: int = 0,
    log_every: int = 25,
) -> list[float]:
    """Loop over epochs until ``steps``; returns every step's loss."""
    torch.manual_seed(seed)
    model = tiny_model(num_classes)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses: list[float] = []
    epoch = 0
    while len(losses) < steps:
        dataset.set_epoch(epoch)
        loader = DataLoader(
            dataset,
            batch_size=batch_size,
            shuffle=True,
            num_workers=num_workers,
            collate_fn=collate,
            generator=torch.Generator().manual_seed(seed + epoch),
        )
        for batch in loader:
            loss = nn.functional.cross_entropy(model(batch["rgb"]), batch["label"])
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
            if len(losses) % log_every == 0:
                print(f"step {len(losses):4d}  epoch {epoch}  loss {np.mean(losses[-log_every:]):.4f}", flush=True)
            if len(losses) >= steps:
                break
        epoch += 1
    return losses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output_dir")
    parser.add_argument("--protocol")
    parser.add_argument("--split", default="train")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    dataset = SynthActVideoDataset(
        args.output_dir,
        protocol=args.protocol,
        split=args.split,
        modalities=("rgb",),
        num_frames=8,
        stride=2,
        views="random",
        transform=to_float,
    )
    train(dataset, len(dataset.classes), args.steps, num_workers=args.workers)


if __name__ == "__main__":
    main()
