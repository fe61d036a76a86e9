"""Is a finished shard still the file merge wrote? Cheap and full checks, and rebuild marks.

After writing a shard, ``synthact merge`` records its size and sha256 in
``WORK/integrity/<shard>.json``. Its mtime cannot be recorded there: Snakemake
touches every output once the job has ended. The manifest, written after all
merges, holds each shard's size, mtime and sha256. The cheap check (one
``stat``) compares a shard with the manifest when the manifest saw the bytes
merge wrote (same sha256), else its size with merge's record. ``--verify``
recomputes the sha256 and, on a mismatch, marks the record so the next run
rebuilds the shard even if size and mtime were kept. The workflow reads these
at parse time (``rules/common.smk``) and forces exactly those shards' merge,
so a plain rerun rebuilds them alone.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from synthact.config import RunPaths
from synthact.errors import SynthActError
from synthact.shards.manifest import ShardEntry, sha256_file


@dataclass(frozen=True)
class MergeRecord:
    shard: str
    size: int
    sha256: str
    corrupt: str = ""  # set by a full check (status --verify, manifest) that found another sha256


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
    record = MergeRecord(shard, shard_file.stat().st_size, sha256_file(shard_file))
    _write_json(record_path(paths, shard), asdict(record))
    return record


def read_record(paths: RunPaths, shard: str) -> MergeRecord | None:
    try:
        return MergeRecord(**json.loads(record_path(paths, shard).read_text()))
    except (OSError, ValueError, TypeError):
        return None  # no record (older run, or merge died before writing it): nothing to compare


def manifest_entries(paths: RunPaths) -> dict[str, dict]:
    """Shard name -> its manifest entry (size, mtime_ns, sha256); empty without a manifest."""
    try:
        return {e["name"]: e for e in json.loads(paths.manifest.read_text())["shards"]}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def mark_corrupt(paths: RunPaths, record: MergeRecord, reason: str) -> None:
    _write_json(record_path(paths, record.shard), asdict(record) | {"corrupt": reason})


def check_shard(
    paths: RunPaths,
    shard: str,
    full: bool = False,
    entries: dict[str, dict] | None = None,
) -> str:
    """Why the finished shard is not what merge wrote; "" when it is (or nothing is known).

    Cheap: size and mtime against the manifest if it describes merge's bytes,
    else size against merge's record. ``full``: the sha256 too, and a mismatch
    is written into the record so the next run rebuilds the shard.
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
    entry = (manifest_entries(paths) if entries is None else entries).get(shard)
    if (
        entry is not None
        and entry.get("sha256") == record.sha256
        and entry.get("mtime_ns")
        and stat.st_mtime_ns != entry["mtime_ns"]
    ):
        return "modified after the manifest was written (mtime differs)"
    if full:
        digest = sha256_file(shard_file)
        if digest != record.sha256:
            reason = f"sha256 {digest[:16]}..., merge wrote {record.sha256[:16]}..."
            mark_corrupt(paths, record, reason)
            return reason
    return ""


def shards_to_rebuild(paths: RunPaths) -> dict[str, str]:
    """Shard name -> reason, for every recorded shard that fails the cheap check (or was marked)."""
    folder = paths.work_dir / "integrity"
    if not folder.is_dir():
        return {}
    found = {}
    entries = manifest_entries(paths)
    for path in sorted(folder.glob("*.json")):
        reason = check_shard(paths, path.stem, entries=entries)
        if reason:
            found[path.stem] = reason
    return found


def invalidate(paths: RunPaths, shard: str) -> Path | None:
    """Move the damaged shard out of the dataset folder, so Snakemake rebuilds it as missing.

    Snakemake's other triggers cannot be used: it ignores an input made newer
    when the input's checksum is unchanged, and its ``--forcerun`` settings do
    not exist yet while the Snakefile is parsed. Moving (not deleting) keeps
    the bad bytes for a look; the copy goes to ``WORK/damaged/`` (deleted
    instead if that is another file system). Returns where it went.
    """
    shard_file = paths.shard_file(shard)
    if not shard_file.exists():
        return None
    aside = paths.work_dir / "damaged" / shard_file.name
    aside.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(shard_file, aside)
        return aside
    except OSError:
        shard_file.unlink(missing_ok=True)
        return None


class ShardChanged(SynthActError, RuntimeError):
    """A shard's bytes are not the ones merge wrote (found while writing the manifest)."""


def refuse_changed_shard(paths: RunPaths, entry: ShardEntry) -> None:
    """The manifest must describe merge's bytes: a shard changed since merge is marked and refused."""
    record = read_record(paths, entry.name)
    if record is not None and record.sha256 != entry.sha256:
        reason = f"sha256 {entry.sha256[:16]}..., merge wrote {record.sha256[:16]}..."
        mark_corrupt(paths, record, reason)
        raise ShardChanged(f"{paths.shard_file(entry.name)}: changed since merge wrote it ({reason}); "
                           "no manifest written; rerun to rebuild the shard")  # fmt: skip
