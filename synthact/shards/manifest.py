"""The dataset manifest: per-file checksums and contents, and its verification.

``manifest.json`` lists every shard (sha256, size, take count and ids, frames)
and every clip table of the label protocols (sha256, size, clip count), plus
the run's key and software versions. The run's key (``render_key``,
``synthact.stages.run_key``) is the one every shard records too: a shard
merged under another configuration is refused, not listed. ``SHA256SUMS`` holds the same checksums
in the format ``sha256sum -c`` reads, with paths relative to the output folder.

Both depend on the bytes only: the same config and seed give the same
manifest. What varies with the file system (each shard's mtime, for the cheap
check of a finished shard) lives in ``WORK/integrity/`` instead
(``synthact/shards/integrity.py``); a manifest that recorded mtimes differed
between two identical runs, and after every copy.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import h5py

from synthact import __version__, atomic
from synthact.errors import SynthActError
from synthact.shard_format import FORMAT_NAME, FORMAT_VERSION
from synthact.shards.writer import software_versions

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
    num_takes: int
    num_frames: int
    take_ids: list[str]
    render_key: str = ""


@dataclass
class LabelEntry:
    """One file of a label protocol (its clip table or its class table)."""

    protocol: str
    path: str  # relative to the output folder
    sha256: str
    size: int
    num_clips: int
    num_classes: int


@dataclass
class DocumentEntry:
    """A file of the dataset that is neither a shard nor a label table: the dataset card."""

    path: str  # relative to the output folder
    sha256: str
    size: int


@dataclass
class Manifest:
    format: str = FORMAT_NAME
    format_version: int = FORMAT_VERSION
    generator_version: str = __version__
    render_key: str = ""  # the run's key, as every shard records it
    software: dict[str, str] = field(default_factory=dict)
    num_takes: int = 0
    num_frames: int = 0
    views: list[str] = field(default_factory=list)
    splits: dict[str, int] = field(default_factory=dict)  # split -> takes
    shards: list[ShardEntry] = field(default_factory=list)
    labels: list[LabelEntry] = field(default_factory=list)  # first protocol first: the readers' default
    documents: list[DocumentEntry] = field(default_factory=list)  # the dataset card (README.md)

    def files(self) -> list[ShardEntry | LabelEntry | DocumentEntry]:
        return [*self.shards, *self.labels, *self.documents]

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        data = json.loads(text)
        data.pop("config_hash", None)  # older manifests: a hash of another extent than the shards' key
        known = {f.name for f in fields(ShardEntry)}  # older manifests also held each shard's mtime_ns
        data["shards"] = [ShardEntry(**{k: v for k, v in s.items() if k in known}) for s in data["shards"]]
        data["labels"] = [LabelEntry(**e) for e in data.get("labels", [])]
        data["documents"] = [DocumentEntry(**e) for e in data.get("documents", [])]
        return cls(**data)


def shard_entry(output_dir: Path, shard_path: Path) -> ShardEntry:
    with h5py.File(shard_path, "r") as f:
        take_ids = [c.decode() if isinstance(c, bytes) else str(c) for c in f["index/take_ids"][()]]
        split, name = str(f.attrs["split"]), str(f.attrs["shard"])
        frames, key = int(f.attrs["num_frames"]), str(f.attrs.get("render_key", ""))
    return ShardEntry(
        name=name,
        path=shard_path.relative_to(output_dir).as_posix(),
        split=split,
        sha256=sha256_file(shard_path),
        size=shard_path.stat().st_size,
        num_takes=len(take_ids),
        num_frames=frames,
        take_ids=take_ids,
        render_key=key,
    )


def label_entries(output_dir: Path, protocol: str, clips_path: Path, classes_path: Path) -> list[LabelEntry]:
    """The two files of one protocol; counts from the files themselves."""
    with open(clips_path) as f:
        num_clips = sum(1 for line in f if line.strip())
    num_classes = len(json.loads(classes_path.read_text())["classes"])
    return [
        LabelEntry(
            protocol,
            path.relative_to(output_dir).as_posix(),
            sha256_file(path),
            path.stat().st_size,
            num_clips,
            num_classes,
        )
        for path in (clips_path, classes_path)
    ]


class ForeignShard(SynthActError, ValueError):
    """A shard whose ``render_key`` is not the run's: merged under another configuration."""


def refuse_foreign_shard(entry: ShardEntry, render_key: str, output_dir: Path) -> None:
    if entry.render_key != render_key:
        raise ForeignShard(
            f"{output_dir / entry.path}: merged under another configuration (render_key {entry.render_key[:16]}..., "
            f"this run's is {render_key[:16]}...); no manifest written; rerun the workflow, which rebuilds it"
        )


def write_manifest(
    output_dir: Path,
    shard_paths: list[Path],
    label_files: list[tuple[str, Path, Path]],
    render_key: str,
    views: list[str],
    check: Callable[[ShardEntry], None] | None = None,
    card: Callable[[Manifest], Path] | None = None,
) -> Manifest:
    """Checksum every shard and clip table; ``label_files`` are (protocol, clips, classes).

    ``render_key`` is the run's key (``synthact.stages.run_key``); every shard must carry it.
    ``check(entry)`` may refuse a shard before anything is written (it raises).
    ``card(manifest)`` writes the dataset card from the entries and returns its path,
    which the manifest then lists too.
    """
    entries = [shard_entry(output_dir, p) for p in shard_paths]
    for entry in entries:
        refuse_foreign_shard(entry, render_key, output_dir)
        if check is not None:
            check(entry)
    labels = [
        e for protocol, clips, classes in label_files for e in label_entries(output_dir, protocol, clips, classes)
    ]
    splits: dict[str, int] = {}
    for entry in entries:
        splits[entry.split] = splits.get(entry.split, 0) + entry.num_takes
    manifest = Manifest(
        render_key=render_key,
        software=software_versions(),
        num_takes=sum(e.num_takes for e in entries),
        num_frames=sum(e.num_frames for e in entries),
        views=views,
        splits=splits,
        shards=entries,
        labels=labels,
    )
    if card is not None:
        path = card(manifest)
        rel = path.relative_to(output_dir).as_posix()
        manifest.documents.append(DocumentEntry(rel, sha256_file(path), path.stat().st_size))
    atomic.write_text(output_dir / "SHA256SUMS", "".join(f"{e.sha256}  {e.path}\n" for e in manifest.files()))
    atomic.write_text(output_dir / "manifest.json", manifest.to_json())
    return manifest


@dataclass(frozen=True)
class Problem:
    path: str
    kind: str  # missing | size | checksum | unreadable | unlisted
    detail: str


def verify(output_dir: Path, progress: Callable[..., object] | None = None) -> tuple[Manifest, list[Problem]]:
    """Recompute every shard's and clip table's checksum, and name shards the manifest does not list.

    Reads only. Returns the manifest and the problems found.
    """
    manifest_path = output_dir / "manifest.json"
    if not manifest_path.exists():
        raise FileNotFoundError(f"{manifest_path}: no manifest; run the workflow first")
    manifest = Manifest.from_json(manifest_path.read_text())
    problems = []
    for entry in manifest.files():
        path = output_dir / entry.path
        if progress:
            progress(entry)
        if not path.exists():
            problems.append(Problem(entry.path, "missing", "file not found"))
        elif path.stat().st_size != entry.size:
            problems.append(Problem(entry.path, "size", f"{path.stat().st_size} bytes, manifest says {entry.size}"))
        elif (digest := sha256_file(path)) != entry.sha256:
            problems.append(Problem(entry.path, "checksum", f"sha256 {digest}, manifest says {entry.sha256}"))
    listed = {e.path for e in manifest.shards}
    for path in sorted((output_dir / "shards").glob("*.h5")):
        if path.relative_to(output_dir).as_posix() not in listed:
            detail = (
                "a shard the manifest does not list (an older layout's?); a real run of the workflow moves it aside"
            )
            problems.append(Problem(path.relative_to(output_dir).as_posix(), "unlisted", detail))
    return manifest, problems
