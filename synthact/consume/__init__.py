"""Reading and using a run: the shard reader, the PyTorch dataset, exports, previews, stats.

``SynthActVideoDataset`` (dataset.py) is what a training loop uses; it imports
torch, so it is loaded on first use (``from synthact.consume import
SynthActVideoDataset``), and ``import synthact.consume.reader`` stays light.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ClipTable", "ShardReader", "SynthActVideoDataset", "collate"]


def __getattr__(name: str) -> Any:
    if name in ("SynthActVideoDataset", "collate"):
        from synthact.consume import dataset

        return getattr(dataset, name)
    if name in ("ClipTable", "ShardReader"):
        from synthact.consume import reader

        return getattr(reader, name)
    raise AttributeError(f"module 'synthact.consume' has no attribute {name!r}")
