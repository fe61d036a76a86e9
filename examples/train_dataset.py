"""Train a small video classifier on a SynthAct run through SynthActVideoDataset; report validation accuracy.

    python examples/train_dataset.py output/demo --protocol segments --epochs 60

What it takes to learn from the input on a run as small as the demo (36 training
clips, 21 classes, the actor a fifth of a 160x120 frame):

- windows in time: 8 frames at 5 fps (1.4 s, ``fps=5``), whatever the run's
  stored rate, so the window holds distinct frames that show the motion;
- every view of every clip as its own item (``views="all"``): 4x the examples;
- the actor, not the background: each window is cropped to the box around the
  person's mask over the whole window and resized to 32x32, with the mask as a
  fourth channel (the HDRI backgrounds differ per take and teach nothing);
- a small 2D CNN over the 8 frames stacked as channels (early fusion: its first
  layer compares frames), batch norm, dropout, AdamW;
- the windows decoded once (4 draws of random offsets) and reused, as decoding
  is most of the cost.

It ends with one line, ``validation accuracy X, majority-class rate Y``: the
share of validation items classified right, and the share that always answering
the most frequent training class would get.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from synthact.consume.dataset import SynthActVideoDataset, collate

SIZE = 32


def person_crop(sample: dict) -> dict:
    """Transform hook: RGB + mask (C, T, H, W) uint8 -> (4, T, SIZE, SIZE) float, cropped to the person."""
    rgb, mask = sample["rgb"].float() / 255.0, sample["mask"].float()
    seen = mask.amax(dim=(0, 1)) > 0  # (H, W): any frame shows the person here
    rows, cols = torch.nonzero(seen.any(dim=1)).flatten(), torch.nonzero(seen.any(dim=0)).flatten()
    H, W = seen.shape
    if len(rows) and len(cols):
        cy, cx = (rows[0] + rows[-1]) / 2, (cols[0] + cols[-1]) / 2
        half = max(int(rows[-1] - rows[0]), int(cols[-1] - cols[0]), 8) // 2 + 2
    else:  # the person is out of view in this window: the whole frame
        cy, cx, half = H / 2, W / 2, max(H, W) // 2
    top, left = int(cy) - half, int(cx) - half
    frames = torch.cat([rgb, mask], dim=0)  # (4, T, H, W)
    padded = nn.functional.pad(frames, (half, half, half, half))
    crop = padded[:, :, top + half : top + 3 * half, left + half : left + 3 * half]
    sample["video"] = nn.functional.interpolate(crop, size=(SIZE, SIZE), mode="bilinear", align_corners=False)
    del sample["rgb"], sample["mask"]
    return sample


class EarlyFusionCNN(nn.Module):
    """A 2D CNN over the window's frames stacked as channels (early fusion): its first layer
    compares frames directly, so it sees motion, at a fraction of a 3D CNN's cost on CPU."""

    def __init__(self, num_classes: int, channels: int = 4, frames: int = 8):
        super().__init__()

        def block(cin: int, cout: int) -> list[nn.Module]:
            return [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(), nn.MaxPool2d(2)]

        self.layers = nn.Sequential(
            *block(channels * frames, 48),
            *block(48, 64),
            *block(64, 96),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Dropout(0.3),
            nn.Linear(96, num_classes),
        )

    def forward(self, video: torch.Tensor) -> torch.Tensor:  # (B, C, T, H, W)
        return self.layers(video.flatten(1, 2))


def datasets(output_dir: str, protocol: str | None) -> tuple[SynthActVideoDataset, SynthActVideoDataset]:
    common = dict(
        protocol=protocol,
        modalities=("rgb", "mask"),
        num_frames=8,
        stride=1,
        fps=5,
        short_policy="stretch",  # a clip shorter than 1.4 s: its own frames, spread over the window
        views="all",
        transform=person_crop,
    )
    train = SynthActVideoDataset(output_dir, split="train", offset="random", **common)
    val = SynthActVideoDataset(output_dir, split="val", offset="centre", **common)
    return train, val


def decoded(dataset: SynthActVideoDataset, draws: int, workers: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Every item's window for epochs 0 .. draws - 1, decoded once: (videos, labels) per draw.

    Decoding the RGB stream is most of an epoch's cost on CPU; a few draws of random
    windows, reused, train as well on a run this small.
    """
    out = []
    for draw in range(draws):
        dataset.set_epoch(draw)
        loader = DataLoader(dataset, batch_size=16, num_workers=workers, collate_fn=collate)
        batches = list(loader)
        out.append((torch.cat([b["video"] for b in batches]), torch.cat([b["label"] for b in batches])))
    return out


@dataclass(frozen=True)
class TrainResult:
    accuracy: float  # on the validation items
    majority_rate: float  # always answering the most frequent training class
    epoch_losses: list[float]  # mean training loss of each epoch


def accuracy_of(model: nn.Module, videos: torch.Tensor, labels: torch.Tensor) -> float:
    model.eval()
    with torch.no_grad():
        right = int((model(videos).argmax(1) == labels).sum())
    model.train()
    return right / max(len(labels), 1)


def train(
    train_set: SynthActVideoDataset,
    val_set: SynthActVideoDataset,
    epochs: int,
    workers: int,
    seed: int = 0,
    draws: int = 4,
    log_every: int = 10,
) -> TrainResult:
    """Train for ``epochs`` over every training item; evaluate every ``log_every`` epochs and at the end."""
    torch.manual_seed(seed)
    start = time.monotonic()
    pool = decoded(train_set, draws, workers)
    val_videos, val_labels = decoded(val_set, 1, workers)[0]
    print(
        f"decoded {draws} draws of the training windows and the validation windows in {time.monotonic() - start:.0f} s",
        flush=True,
    )
    model = EarlyFusionCNN(len(train_set.classes))
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-3)
    majority = Counter(pool[0][1].tolist()).most_common(1)[0][0]
    generator = torch.Generator().manual_seed(seed)
    epoch_losses = []
    for epoch in range(epochs):
        videos, labels = pool[epoch % draws]
        losses = []
        for batch in torch.randperm(len(labels), generator=generator).split(16):
            loss = nn.functional.cross_entropy(model(videos[batch]), labels[batch])
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        epoch_losses.append(float(np.mean(losses)))
        if (epoch + 1) % log_every == 0 or epoch + 1 == epochs:
            print(
                f"epoch {epoch + 1:3d}  loss {epoch_losses[-1]:.3f}"
                f"  validation accuracy {accuracy_of(model, val_videos, val_labels):.3f}"
                f"  ({time.monotonic() - start:.0f} s)",
                flush=True,
            )
    majority_rate = float((val_labels == majority).float().mean())
    return TrainResult(accuracy_of(model, val_videos, val_labels), majority_rate, epoch_losses)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output_dir")
    parser.add_argument("--protocol")
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    train_set, val_set = datasets(args.output_dir, args.protocol)
    print(
        f"{len(train_set)} training and {len(val_set)} validation items (clip-views), {len(train_set.classes)} classes",
        flush=True,
    )
    result = train(train_set, val_set, args.epochs, args.workers)
    print(f"validation accuracy {result.accuracy:.2f}, majority-class rate {result.majority_rate:.2f}")


if __name__ == "__main__":
    main()
