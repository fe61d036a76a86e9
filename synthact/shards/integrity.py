"""Is a finished shard still the file merge wrote? Decided by its bytes, never by its timestamps.

``WORK/integrity/<shard>.json`` holds, per shard (names only, no paths, so a
run folder can be copied or moved under another ``output_dir``):

- ``size``, ``sha256``: the bytes ``synthact merge`` wrote;
- ``seen_size``, ``seen_mtime_ns``: the file's stat when its bytes were last
  found to be merge's, by the manifest step or by a real run that hashed it;
- ``corrupt``: set by the manifest step when it found other bytes.

The cheap check is one ``stat``: equal to the seen stat means intact. A stat
that differs (a tar or ``cp`` copy, ``touch``, a restore, a relocation) is a
reason to hash, never a verdict: the shard is damaged only when its size or
sha256 differs from merge's. A shard found intact by hashing gets a new seen
stat, so the next check is cheap again; only a real run writes it
(``keep_confirmed``): read-only commands hash again next time instead.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from synthact import atomic
from synthact.config import RunPaths
from synthact.errors import SynthActError
from synthact.shards.manifest import ShardEntry, sha256_file


@dataclass(frozen=True)
class MergeRecord:
    shard: str
    size: int
    sha256: str
    seen_size: int = -1  # -1: never seen since merge (Snakemake touches outputs after the job)
    seen_mtime_ns: int = 0
    corrupt: str = ""


@dataclass(frozen=True)
class ShardCheck:
    """The verdict on one shard: ``damage`` says why its bytes are not merge's ("" when they are)."""

    shard: str
    damage: str = ""
    confirmed: MergeRecord | None = None  # hashed, intact, seen with a new stat: for a real run to keep


def record_path(paths: RunPaths, shard: str) -> Path:
    return paths.work_dir / "integrity" / f"{shard}.json"


def _write(paths: RunPaths, record: MergeRecord) -> None:
    atomic.write_json(record_path(paths, record.shard), asdict(record), indent=1)


def write_record(paths: RunPaths, shard: str) -> MergeRecord:
    """Record the shard merge has just written (one extra read of the file, for its sha256)."""
    shard_file = paths.shard_file(shard)
    record = MergeRecord(shard, shard_file.stat().st_size, sha256_file(shard_file))
    _write(paths, record)
    return record


def read_record(paths: RunPaths, shard: str) -> MergeRecord | None:
    try:
        return MergeRecord(**json.loads(record_path(paths, shard).read_text()))
    except (OSError, ValueError, TypeError):
        return None  # no record (older run, or merge died before writing it): nothing to compare


def recorded_shards(paths: RunPaths) -> list[str]:
    return sorted(p.stem for p in (paths.work_dir / "integrity").glob("*.json"))


def check_shard(paths: RunPaths, shard: str, full: bool = False) -> ShardCheck:
    """Whether the finished shard holds merge's bytes; reads and writes nothing but the shard's stat and bytes.

    ``full`` hashes even when the stat is the one last seen (a flip that kept
    size and mtime). A shard without a record (never merged by this run) or
    not there at all is not judged.
    """
    record = read_record(paths, shard)
    shard_file = paths.shard_file(shard)
    if record is None or not shard_file.exists():
        return ShardCheck(shard)
    if record.corrupt:
        return ShardCheck(shard, record.corrupt)
    stat = shard_file.stat()
    if stat.st_size != record.size:  # other bytes for certain: no need to read them
        return ShardCheck(shard, f"size {stat.st_size} bytes, merge wrote {record.size}")
    seen = (stat.st_size, stat.st_mtime_ns) == (record.seen_size, record.seen_mtime_ns)
    if seen and not full:
        return ShardCheck(shard)
    digest = sha256_file(shard_file)
    if digest != record.sha256:
        return ShardCheck(shard, f"sha256 {digest[:16]}..., merge wrote {record.sha256[:16]}...")
    if seen:
        return ShardCheck(shard)
    return ShardCheck(shard, confirmed=replace(record, seen_size=stat.st_size, seen_mtime_ns=stat.st_mtime_ns))


def keep_confirmed(paths: RunPaths, check: ShardCheck) -> None:
    """Write the seen stat of a shard found intact by hashing (real runs only), so the next check is cheap."""
    if check.confirmed is not None:
        _write(paths, check.confirmed)


class ShardKeptInPlace(SynthActError, RuntimeError):
    """A damaged shard could not be moved aside; it was left where it was."""


def _free_name(folder: Path, name: str) -> Path:
    """``folder/name``, or ``name.1``, ``name.2``, ...: an earlier damaged copy is never replaced."""
    path, n = folder / name, 0
    while path.exists():
        n += 1
        path = folder / f"{name}.{n}"
    return path


def _move_into(folder: Path, path: Path, what: str) -> Path:
    """Move ``path`` into ``folder``, never replacing a file there; across file systems copy, then remove."""
    folder.mkdir(parents=True, exist_ok=True)
    aside = _free_name(folder, path.name)
    try:
        os.rename(path, aside)
        return aside
    except OSError as exc:
        if exc.errno != errno.EXDEV:  # another file system: copy, then remove
            raise
    try:
        with atomic.atomic_path(aside, fsync=True) as tmp:
            shutil.copyfile(path, tmp)
    except OSError as exc:
        raise ShardKeptInPlace(
            f"{path}: {what}, but it could not be copied to {folder} (another file system: "
            f"{exc.strerror or exc}); it was left in place. Free space there, or move the shard away "
            "yourself, then rerun"
        ) from None
    path.unlink()
    return aside


def move_aside(paths: RunPaths, shard: str) -> Path:
    """Move the damaged shard to ``WORK/damaged/``, so Snakemake rebuilds it as missing; never deletes it.

    Snakemake's own triggers cannot force the rebuild: it ignores an input
    made newer when the input's checksum is unchanged, and it deletes a
    job's outputs before rerunning it, which would lose the bad bytes. If
    the copy to another file system fails (a full disk), nothing is removed
    and ``ShardKeptInPlace`` says so.
    """
    return _move_into(paths.work_dir / "damaged", paths.shard_file(shard), "damaged")


class ShardChanged(SynthActError, RuntimeError):
    """A shard's bytes are not the ones merge wrote (found while writing the manifest)."""


def refuse_changed_shard(paths: RunPaths, entry: ShardEntry) -> None:
    """The manifest must describe merge's bytes: a changed shard is marked and refused.

    The manifest step has just hashed the shard after Snakemake's last touch,
    so when its bytes are merge's, its stat now is the seen stat of the cheap check.
    """
    record = read_record(paths, entry.name)
    if record is None:
        return
    if record.sha256 != entry.sha256:
        reason = f"sha256 {entry.sha256[:16]}..., merge wrote {record.sha256[:16]}..."
        _write(paths, replace(record, corrupt=reason))
        raise ShardChanged(
            f"{paths.shard_file(entry.name)}: changed since merge wrote it ({reason}); "
            "no manifest written; rerun to rebuild the shard"
        )
    stat = paths.shard_file(entry.name).stat()
    _write(paths, replace(record, seen_size=stat.st_size, seen_mtime_ns=stat.st_mtime_ns))


def unplanned_shards(paths: RunPaths, planned: list[str]) -> list[Path]:
    """Shard files in ``shards/`` that the plan does not name: an older layout's (``plan.frames_per_shard``)."""
    wanted = {paths.shard_file(name).name for name in planned}
    return sorted(p for p in (paths.output_dir / "shards").glob("*.h5") if p.name not in wanted)


def move_unplanned_aside(paths: RunPaths, shard_file: Path) -> Path:
    """Move a shard of an older layout to ``WORK/stale/``, so readers that list ``shards/`` never see it."""
    return _move_into(paths.work_dir / "stale", shard_file, "not in the plan")
