"""What the exports, previews and stats need from a rendered run, as one small interface.

``Run`` is that interface; ``ShardRun`` implements it over a run's shards with
``reader.py`` (``ShardReader.read(take_id, view, modalities=..., frames=...)``,
whose keys are the modality names, e.g. ``ntu25_joints_cam``; ``ClipTable.load``).
Everything downstream takes a ``Run``, so it is also tested over in-memory
arrays and does not depend on the file layout.

Take dicts carry the take's attributes (JSON decoded; ``num_persons`` always)
plus ``take_id``, ``shard`` (path), ``first_frame`` (its first frame on the
sequence timeline) and ``betas_used`` (one row of 16 per person, body order).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import h5py
import numpy as np

from synthact.consume.reader import ClipTable, Frames, ShardReader, shard_paths_from_manifest
from synthact.shard_format import BETAS_USED


class Run(Protocol):
    output_dir: Path

    @property
    def views(self) -> list[str]: ...

    def takes(self) -> list[dict[str, Any]]: ...

    def view_attrs(self, take_id: str, view: str) -> dict[str, Any]: ...

    def read(
        self, take_id: str, view: str, modalities: Sequence[str], frames: Frames = None
    ) -> dict[str, np.ndarray]: ...

    def protocols(self) -> list[str]: ...

    def table(self, protocol: str | None) -> tuple[list[dict[str, Any]], list[str]]: ...

    def modality_bytes(self) -> dict[str, int]: ...


class ShardRun:
    """A run's shards (``manifest.json``'s list) and clip tables, through ``reader.py``.

    Clip rows come as dicts (``ClipRow.to_dict()``), so that the exports, which
    also run over in-memory rows in tests, index them one way.
    """

    def __init__(self, output_dir: str | Path):
        self.output_dir = Path(output_dir)
        if not (self.output_dir / "manifest.json").is_file():
            raise FileNotFoundError(f"{self.output_dir}/manifest.json: not found; is this a finished run's output_dir?")
        self._readers = {p: ShardReader(p) for p in shard_paths_from_manifest(self.output_dir)}
        if not self._readers:
            raise FileNotFoundError(f"{self.output_dir}/manifest.json lists no shards")
        self._where: dict[str, ShardReader] = {}
        self._takes: list[dict[str, Any]] | None = None

    @property
    def views(self) -> list[str]:
        return list(next(iter(self._readers.values())).views)

    def takes(self) -> list[dict[str, Any]]:
        if self._takes is None:
            self._takes = []
            for path, reader in self._readers.items():
                for take_id in reader.take_ids:
                    self._where[take_id] = reader
                    self._takes.append(self._take(reader, path, take_id))
        return [dict(t) for t in self._takes]

    @staticmethod
    def _take(reader: ShardReader, path: Path, take_id: str) -> dict[str, Any]:
        frames = reader.read(take_id, reader.views[0], ["frames"], frames=slice(0, 1))["frames"]
        betas = reader.take_arrays(take_id, [BETAS_USED.key])[BETAS_USED.key]
        return dict(
            reader.take_attrs(take_id),
            take_id=take_id,
            shard=str(path),
            first_frame=int(frames[0]),
            betas_used=betas.tolist(),
        )

    def _reader(self, take_id: str) -> ShardReader:
        if take_id not in self._where:
            self.takes()
        if take_id not in self._where:
            raise KeyError(f"{self.output_dir}: take {take_id} is in no shard of the manifest")
        return self._where[take_id]

    def view_attrs(self, take_id: str, view: str) -> dict[str, Any]:
        return dict(self._reader(take_id).view_attrs(take_id, view), view=view)

    def read(self, take_id: str, view: str, modalities: Sequence[str], frames: Frames = None) -> dict[str, np.ndarray]:
        return self._reader(take_id).read(take_id, view, modalities=list(modalities), frames=frames)

    def protocols(self) -> list[str]:
        root = self.output_dir / "labels"
        return sorted(p.name for p in root.iterdir() if (p / "clips.jsonl").is_file()) if root.is_dir() else []

    def table(self, protocol: str | None) -> tuple[list[dict[str, Any]], list[str]]:
        table = ClipTable.load(self.output_dir, protocol)
        return [r.to_dict() for r in table.rows], list(table.classes.classes)

    def modality_bytes(self) -> dict[str, int]:
        """Stored (compressed) bytes of every per-view dataset, summed by the reader's name."""
        totals: dict[str, int] = {}

        def visit(name: str, obj: Any) -> None:
            if isinstance(obj, h5py.Dataset) and "/views/" in name:
                key = name.split("/views/")[1].split("/", 1)[1]
                if key.startswith("rgb/"):  # a coded video is a group: bitstream plus its frame index
                    key = "rgb"
                key = key.replace("/", "_")
                totals[key] = totals.get(key, 0) + int(obj.id.get_storage_size())

        for reader in self._readers.values():
            reader.file["takes"].visititems(visit)
        return totals

    def close(self) -> None:
        for reader in self._readers.values():
            reader.close()
