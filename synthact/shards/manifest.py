"""The dataset manifest: per-shard checksums and contents, and its verification.

``manifest.json`` lists every shard with its sha256, size, clip count and clip
ids, plus the config hash and software versions. ``SHA256SUMS`` holds the
same checksums in the format ``sha256sum -c`` reads, with paths relative to
the output folder.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import h5py

from synthact import __version__
from synthact.shards.writer import FORMAT_NAME, FORMAT_VERSION, software_versions

CHUNK_BYTES = 1 << 20


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(CHUNK_BYTES):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class ShardEntry:
    name: str
    path: str  # relative to the output folder
    split: str
    sha256: str
    size: int
    num_clips: int
    clip_ids: list[str]
    mtime_ns: int = 0  # for the cheap check of `synthact status` (size + mtime); 0 in older manifests


@dataclass
class Manifest:
    format: str = FORMAT_NAME
    format_version: int = FORMAT_VERSION
    generator_version: str = __version__
    config_hash: str = ""
    software: dict[str, str] = field(default_factory=dict)
    num_clips: int = 0
    views: list[str] = field(default_factory=list)
    splits: dict[str, int] = field(default_factory=dict)
    shards: list[ShardEntry] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "Manifest":
        data = json.loads(text)
        data["shards"] = [ShardEntry(**s) for s in data["shards"]]
        return cls(**data)


def shard_entry(output_dir: Path, shard_path: Path) -> ShardEntry:
    with h5py.File(shard_path, "r") as f:
        clip_ids = [c.decode() if isinstance(c, bytes) else str(c) for c in f["index/clip_ids"][()]]
        split, name = str(f.attrs["split"]), str(f.attrs["shard"])
    stat = shard_path.stat()
    return ShardEntry(
        name=name,
        path=shard_path.relative_to(output_dir).as_posix(),
        split=split,
        sha256=sha256_file(shard_path),
        size=stat.st_size,
        num_clips=len(clip_ids),
        clip_ids=clip_ids,
        mtime_ns=stat.st_mtime_ns,
    )


def _write_atomic(path: Path, text: str) -> None:
    """Temporary name, then rename; a failed write (full disk) leaves nothing behind."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_manifest(
    output_dir: Path, shard_paths: list[Path], config_hash: str, views: list[str], check=None
) -> Manifest:
    """Write ``SHA256SUMS`` and ``manifest.json``; ``check(entry)`` may refuse a shard first (it raises)."""
    entries = [shard_entry(output_dir, p) for p in shard_paths]
    for entry in entries:
        if check is not None:
            check(entry)
    splits: dict[str, int] = {}
    for entry in entries:
        splits[entry.split] = splits.get(entry.split, 0) + entry.num_clips
    manifest = Manifest(
        config_hash=config_hash,
        software=software_versions(),
        num_clips=sum(e.num_clips for e in entries),
        views=views,
        splits=splits,
        shards=entries,
    )
    _write_atomic(output_dir / "SHA256SUMS", "".join(f"{e.sha256}  {e.path}\n" for e in entries))
    _write_atomic(output_dir / "manifest.json", manifest.to_json())
    return manifest


@dataclass(frozen=True)
class Problem:
    path: str
    kind: str  # missing | size | checksum | unreadable
    detail: str


def verify(output_dir: Path, progress=None) -> tuple[Manifest, list[Problem]]:
    """Recompute every shard's checksum; returns the manifest and the problems found."""
    manifest_path = output_dir / "manifest.json"
    if not manifest_path.exists():
        raise FileNotFoundError(f"{manifest_path}: no manifest; run the workflow first")
    manifest = Manifest.from_json(manifest_path.read_text())
    problems = []
    for entry in manifest.shards:
        path = output_dir / entry.path
        if progress:
            progress(entry)
        if not path.exists():
            problems.append(Problem(entry.path, "missing", "file not found"))
        elif path.stat().st_size != entry.size:
            problems.append(Problem(entry.path, "size", f"{path.stat().st_size} bytes, manifest says {entry.size}"))
        elif (digest := sha256_file(path)) != entry.sha256:
            problems.append(Problem(entry.path, "checksum", f"sha256 {digest}, manifest says {entry.sha256}"))
    return manifest, problems
