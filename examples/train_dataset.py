"""Train a small video classifier on a SynthAct run through SynthActVideoDataset; report validation accuracy.

    python examples/train_dataset.py output/demo --protocol segments --epochs 40

What it takes to learn from the input on a run as small as the demo (36 training
clips, 21 classes, the actor a fifth of a 160x120 frame):

- windows in time: 8 frames at 5 fps (1.4 s, ``fps=5``), whatever the run's
  stored rate, so the window holds distinct frames that show the motion;
- every view of every clip as its own item (``views="all"``): 4x the examples;
- the actor, not the background: each window is cropped to the box around the
  person's mask over the whole window and resized to 48x48, with the mask as a
  fourth channel (the HDRI backgrounds differ per take and teach nothing);
- a three-layer 3D CNN with batch norm, AdamW, dropout.

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

SIZE = 48


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


def small_3d_cnn(num_classes: int) -> nn.Module:
    def block(cin: int, cout: int, pool: tuple[int, int, int]) -> list[nn.Module]:
        return [nn.Conv3d(cin, cout, 3, padding=1), nn.BatchNorm3d(cout), nn.ReLU(), nn.MaxPool3d(pool)]

    return nn.Sequential(
        *block(4, 16, (1, 2, 2)),
        *block(16, 32, (2, 2, 2)),
        *block(32, 64, (2, 2, 2)),
        nn.AdaptiveAvgPool3d(1),
        nn.Flatten(),
        nn.Dropout(0.3),
        nn.Linear(64, num_classes),
    )


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


@dataclass(frozen=True)
class TrainResult:
    accuracy: float  # on the validation items
    majority_rate: float  # always answering the most frequent training class
    epoch_losses: list[float]  # mean training loss of each epoch


def evaluate(model: nn.Module, loader: DataLoader) -> tuple[float, list[int]]:
    model.eval()
    right, labels = 0, []
    with torch.no_grad():
        for batch in loader:
            right += int((model(batch["video"]).argmax(1) == batch["label"]).sum())
            labels += batch["label"].tolist()
    model.train()
    return right / max(len(labels), 1), labels


def train(
    train_set: SynthActVideoDataset,
    val_set: SynthActVideoDataset,
    epochs: int,
    workers: int,
    seed: int = 0,
    log_every: int = 5,
) -> TrainResult:
    """Train for ``epochs`` over every training item; evaluate every ``log_every`` epochs and at the end."""
    torch.manual_seed(seed)
    model = small_3d_cnn(len(train_set.classes))
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-3)
    val_loader = DataLoader(val_set, batch_size=16, num_workers=workers, collate_fn=collate)
    train_labels = [train_set.rows[item.row].label_index for item in train_set.items]
    majority = Counter(train_labels).most_common(1)[0][0]
    start, epoch_losses = time.monotonic(), []
    for epoch in range(epochs):
        train_set.set_epoch(epoch)
        loader = DataLoader(
            train_set,
            batch_size=16,
            shuffle=True,
            num_workers=workers,
            collate_fn=collate,
            generator=torch.Generator().manual_seed(seed + epoch),
        )
        losses = []
        for batch in loader:
            loss = nn.functional.cross_entropy(model(batch["video"]), batch["label"])
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        epoch_losses.append(float(np.mean(losses)))
        if (epoch + 1) % log_every == 0 or epoch + 1 == epochs:
            accuracy, _ = evaluate(model, val_loader)
            print(
                f"epoch {epoch + 1:3d}  loss {np.mean(losses):.3f}  validation accuracy {accuracy:.3f}"
                f"  ({time.monotonic() - start:.0f} s)",
                flush=True,
            )
    accuracy, val_labels = evaluate(model, val_loader)
    return TrainResult(accuracy, float(np.mean([label == majority for label in val_labels])), epoch_losses)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output_dir")
    parser.add_argument("--protocol")
    parser.add_argument("--epochs", type=int, default=40)
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
