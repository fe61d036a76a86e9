"""Train a tiny skeleton classifier on a SynthAct ``pyskl`` export; print the loss curve.

    python examples/train_pyskl.py DEST/pyskl_3d.pkl --split train --steps 300

Reads the pickle with plain ``pickle``, as pyskl/mmaction2 do, samples a fixed
number of frames per annotation (``UniformSampleFrames``-like: one random frame
in each of ``num_frames`` equal segments), gives every annotation as many
persons as the most any has (``keypoint`` is (M, T, V, C); two on NTU's
interaction classes; a one-person annotation then gets a second of zeros, as
pyskl's ``FormatGCNInput(num_person=2)`` pads), centres the skeletons on the
first person's first joint, and trains a small MLP over the flattened
(M, T, V, C) sequence.
"""

from __future__ import annotations

import argparse
import pickle
from pathlib import Path

import numpy as np
import torch
from torch import nn


def load(path: str | Path, split: str) -> tuple[list[dict], int]:
    with open(path, "rb") as f:
        data = pickle.load(f)
    wanted = set(data["split"][split])
    anns = [a for a in data["annotations"] if a["frame_dir"] in wanted]
    num_classes = max(a["label"] for a in data["annotations"]) + 1
    return anns, num_classes


def sample_frames(total: int, num_frames: int, rng: np.random.Generator) -> np.ndarray:
    edges = np.linspace(0, total, num_frames + 1)
    return np.minimum(np.floor(edges[:-1] + rng.random(num_frames) * np.diff(edges)).astype(np.int64), total - 1)


def persons(keypoint: np.ndarray, count: int) -> np.ndarray:
    """(M, T, V, C) -> (count, T, V, C): the first ``count`` persons, zeros for missing ones."""
    out = np.zeros((count, *keypoint.shape[1:]), dtype=np.float32)
    out[: min(count, len(keypoint))] = keypoint[:count]
    return out


def batch(
    anns: list[dict], size: int, num_frames: int, num_persons: int, rng: np.random.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    picks = rng.integers(0, len(anns), size)
    xs, ys = [], []
    for i in picks:
        kp = persons(anns[i]["keypoint"], num_persons)  # (M, T, V, C)
        seq = kp[:, sample_frames(anns[i]["total_frames"], num_frames, rng)]
        there = (seq != 0).any(axis=(2, 3), keepdims=True)  # zeros: a person absent or padded
        seq = np.where(there, seq - seq[:1, :, :1], 0.0)  # centred on the first person's root: position-free
        xs.append(seq.reshape(-1))
        ys.append(anns[i]["label"])
    return torch.from_numpy(np.stack(xs).astype(np.float32)), torch.tensor(ys)


def train(
    path: str | Path,
    split: str = "train",
    steps: int = 300,
    num_frames: int = 16,
    seed: int = 0,
    batch_size: int = 16,
    log_every: int = 25,
) -> list[float]:
    """Return the loss of every step; print a running mean every ``log_every`` steps."""
    anns, num_classes = load(path, split)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    num_persons = max(len(a["keypoint"]) for a in anns)
    width = num_persons * anns[0]["keypoint"].shape[2] * anns[0]["keypoint"].shape[3] * num_frames
    model = nn.Sequential(nn.Linear(width, 128), nn.ReLU(), nn.Linear(128, num_classes))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for step in range(steps):
        x, y = batch(anns, batch_size, num_frames, num_persons, rng)
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if (step + 1) % log_every == 0:
            print(f"step {step + 1:4d}  loss {np.mean(losses[-log_every:]):.4f}", flush=True)
    return losses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pickle")
    parser.add_argument("--split", default="train")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    train(args.pickle, args.split, args.steps, seed=args.seed)


if __name__ == "__main__":
    main()
