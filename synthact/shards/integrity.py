"""Is a finished shard still the file merge wrote? Cheap and full checks, and rebuild marks.

After writing a shard, ``synthact merge`` records its size, mtime and sha256
in ``WORK/integrity/<shard>.json``. A shard whose size or mtime no longer
match is damaged or was replaced by hand (cheap: one ``stat``); ``--verify``
recomputes the sha256 and, on a mismatch, marks the record so that the next
run rebuilds it even when size and mtime were kept. The workflow reads these
records at parse time (``rules/common.smk``) and forces exactly those shards'
merge, so a plain rerun rebuilds them alone.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from synthact.config import RunPaths
from synthact.shards.manifest import sha256_file


@dataclass(frozen=True)
class MergeRecord:
    shard: str
    size: int
    mtime_ns: int
    sha256: str
    corrupt: str = ""  # set by a full check that found another sha256


def record_path(paths: RunPaths, shard: str) -> Path:
    return paths.work_dir / "integrity" / f"{shard}.json"


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_record(paths: RunPaths, shard: str) -> MergeRecord:
    """Record the shard merge has just written (one extra read of the file, for its sha256)."""
    shard_file = paths.shard_file(shard)
    stat = shard_file.stat()
    record = MergeRecord(shard, stat.st_size, stat.st_mtime_ns, sha256_file(shard_file))
    _write_json(record_path(paths, shard), asdict(record))
    return record


def read_record(paths: RunPaths, shard: str) -> MergeRecord | None:
    try:
        return MergeRecord(**json.loads(record_path(paths, shard).read_text()))
    except (OSError, ValueError, TypeError):
        return None  # no record (older run, or merge died before writing it): nothing to compare


def check_shard(paths: RunPaths, shard: str, full: bool = False) -> str:
    """Why the finished shard is not what merge wrote; "" when it is (or nothing is known).

    Cheap: size and mtime against the record. ``full``: the sha256 too, and a
    mismatch is written into the record so the next run rebuilds the shard.
    """
    record = read_record(paths, shard)
    shard_file = paths.shard_file(shard)
    if record is None or not shard_file.exists():
        return ""
    if record.corrupt:
        return record.corrupt
    stat = shard_file.stat()
    if stat.st_size != record.size:
        return f"size {stat.st_size} bytes, merge wrote {record.size}"
    if stat.st_mtime_ns != record.mtime_ns:
        return "modified after merge wrote it (mtime differs)"
    if full:
        digest = sha256_file(shard_file)
        if digest != record.sha256:
            reason = f"sha256 {digest[:16]}..., merge wrote {record.sha256[:16]}..."
            _write_json(record_path(paths, shard), asdict(record) | {"corrupt": reason})
            return reason
    return ""


def shards_to_rebuild(paths: RunPaths) -> dict[str, str]:
    """Shard name -> reason, for every recorded shard that fails the cheap check (or was marked)."""
    folder = paths.work_dir / "integrity"
    if not folder.is_dir():
        return {}
    found = {}
    for path in sorted(folder.glob("*.json")):
        reason = check_shard(paths, path.stem)
        if reason:
            found[path.stem] = reason
    return found
