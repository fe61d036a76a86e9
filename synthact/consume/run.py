"""What the exports, previews and stats need from a rendered run, as one small interface.

``Run`` is that interface; ``ShardRun`` implements it over a run's shards with
the v2 reader (CONTRACT.md: ``ShardReader.read(take_id, view, modalities=...,
frames=...)``, ``ClipTable.load``). Everything downstream takes a ``Run``, so
it is tested over in-memory arrays too and does not depend on the file layout.

Take dicts carry the take's attributes (JSON decoded) plus ``take_id``,
``shard`` (path), ``first_frame`` (its first frame on the sequence timeline)
and ``betas_used``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np


class Run(Protocol):
    output_dir: Path

    @property
    def views(self) -> list[str]: ...

    def takes(self) -> list[dict[str, Any]]: ...

    def view_attrs(self, take_id: str, view: str) -> dict[str, Any]: ...

    def read(self, take_id: str, view: str, modalities: Sequence[str], frames: np.ndarray | None = None) -> dict[str, np.ndarray]: ...

    def protocols(self) -> list[str]: ...

    def table(self, protocol: str | None) -> tuple[list[dict[str, Any]], list[str]]: ...

    def modality_bytes(self) -> dict[str, int]: ...


def pick(arrays: dict[str, np.ndarray], name: str) -> np.ndarray:
    """A dataset by its shard name (``ntu25/joints_cam``) or the reader's flat name (``ntu25_joints_cam``)."""
    if name in arrays:
        return arrays[name]
    return arrays[name.replace("/", "_")]


class ShardRun:
    """A run's shards through the v2 reader. Connected after the take-format merge."""

    def __init__(self, output_dir: str | Path):
        from synthact.consume.reader import ShardReader, shard_paths_from_manifest

        self.output_dir = Path(output_dir)
        self._readers = {p: ShardReader(p) for p in shard_paths_from_manifest(self.output_dir)}
        if not self._readers:
            raise FileNotFoundError(f"{self.output_dir}/manifest.json lists no shards")
        self._where: dict[str, Any] = {}

    @property
    def views(self) -> list[str]:
        return list(next(iter(self._readers.values())).views)

    def takes(self) -> list[dict[str, Any]]:
        out = []
        for path, reader in self._readers.items():
            for take_id in reader.take_ids:
                self._where[take_id] = reader
                attrs = dict(reader.take_attrs(take_id), take_id=take_id, shard=str(path))
                group = reader.file[f"takes/{take_id}"]  # take-level datasets (CONTRACT.md layout)
                attrs["first_frame"] = int(group["frames"][0])
                attrs["betas_used"] = group["smplh/betas_used"][()].tolist()
                out.append(attrs)
        return out

    def _reader(self, take_id: str) -> Any:
        if not self._where:
            self.takes()
        return self._where[take_id]

    def view_attrs(self, take_id: str, view: str) -> dict[str, Any]:
        return dict(self._reader(take_id).view_attrs(take_id, view), view=view)

    def read(self, take_id: str, view: str, modalities: Sequence[str], frames: np.ndarray | None = None) -> dict[str, np.ndarray]:
        return self._reader(take_id).read(take_id, view, modalities=list(modalities), frames=frames)

    def protocols(self) -> list[str]:
        root = self.output_dir / "labels"
        return sorted(p.name for p in root.iterdir() if (p / "clips.jsonl").is_file()) if root.is_dir() else []

    def table(self, protocol: str | None) -> tuple[list[dict[str, Any]], list[str]]:
        from synthact.consume.reader import ClipTable

        table = ClipTable.load(self.output_dir, protocol)
        return list(table.rows), list(table.classes)

    def modality_bytes(self) -> dict[str, int]:
        """Stored (compressed) bytes of every per-view dataset, summed by name."""
        totals: dict[str, int] = {}
        for reader in self._readers.values():
            def visit(name: str, obj: Any) -> None:
                if hasattr(obj, "id") and hasattr(obj.id, "get_storage_size") and "/views/" in name:
                    key = name.split("/views/")[1].split("/", 1)[1]
                    totals[key] = totals.get(key, 0) + int(obj.id.get_storage_size())
            reader.file["takes"].visititems(visit)
        return totals


def read_classes(path: Path) -> list[str]:
    """``classes.json``'s class list (for callers that have only the file)."""
    return list(json.loads(Path(path).read_text())["classes"])
