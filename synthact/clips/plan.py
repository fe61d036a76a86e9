"""The plan: clips grouped into shards, and every view's camera placed.

Shards never mix splits, so a consumer can take a split by its file names.
Clips stay in clip-table order (sorted by source), which keeps each sequence's
clips together and lets a render task load each motion file once.

Writes ``plan.json`` (the shard list, read by the workflow) and one
``shards/<name>.json`` per shard (everything a render task needs).
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from synthact.clips.records import Clip, read_clip_table
from synthact.config import RunPaths, config_hash
from synthact.render.rig import Rig, place_views
from synthact.seeding import derive_seed

SPLIT_ORDER = ("train", "val", "test", "none")


def shard_name(split: str, index: int, count: int) -> str:
    """Deterministic, sortable shard names: ``train-00003-of-00010``."""
    return f"{split}-{index:05d}-of-{count:05d}"


@dataclass(frozen=True)
class ShardPlan:
    name: str
    split: str
    clips: tuple[Clip, ...]


def group_into_shards(clips: list[Clip], clips_per_shard: int) -> list[ShardPlan]:
    by_split: dict[str, list[Clip]] = defaultdict(list)
    for clip in clips:
        by_split[clip.split].append(clip)
    order = sorted(by_split, key=lambda s: (SPLIT_ORDER.index(s) if s in SPLIT_ORDER else len(SPLIT_ORDER), s))
    shards = []
    for split in order:
        members = by_split[split]
        count = -(-len(members) // clips_per_shard)
        for i in range(count):
            chunk = tuple(members[i * clips_per_shard : (i + 1) * clips_per_shard])
            shards.append(ShardPlan(shard_name(split, i, count), split, chunk))
    return shards


def shard_document(shard: ShardPlan, config: dict) -> dict:
    """Everything a render task and the merge need for one shard."""
    rig = Rig.from_config(config["rig"], config["render"])
    seed = config["seed"]
    clips = []
    for clip in shard.clips:
        entry = clip.to_dict()
        entry["appearance_seed"] = derive_seed(seed, clip.clip_id, "appearance")
        entry["views"] = [view.to_dict() for view in place_views(rig, clip, seed)]
        clips.append(entry)
    return {
        "shard": shard.name,
        "split": shard.split,
        "views": [v.name for v in rig.views],
        "config_hash": config_hash(config),
        "clips": clips,
    }


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(_dumps(data))
    os.replace(tmp, path)


# The shard documents are the bulk of the plan's output (AMARV: ~3.5 GB), and
# json.dumps with an indent falls back to the pure-Python encoder, which was a
# third of the plan stage. _dumps writes the same text as
# json.dumps(data, indent=1, sort_keys=True), character for character, with one
# string join per container; anything it does not know goes to json.dumps.
_encode_str = json.encoder.encode_basestring_ascii  # what json.dumps uses (ensure_ascii)
_float_repr = float.__repr__
_INFINITY = float("inf")


class _Unsupported(Exception):
    pass


def _float_text(value: float) -> str:
    if value != value:
        return "NaN"
    if value == _INFINITY:
        return "Infinity"
    if value == -_INFINITY:
        return "-Infinity"
    return _float_repr(value)


def _encode(value, newline: str) -> str:
    """JSON text of ``value`` whose container closes after ``newline`` (indent 1)."""
    kind = type(value)
    if kind is str:
        return _encode_str(value)
    if kind is float:
        return _float_text(value)
    if kind is int:
        return int.__repr__(value)
    # In containers, finite floats (most of a shard document: cameras) are
    # written inline; x - x == 0.0 is false for inf and nan.
    if kind is dict:
        if not value:
            return "{}"
        inner = newline + " "
        items = sorted(value.items())
        if any(type(key) is not str for key, _ in items):
            raise _Unsupported  # json.dumps converts such keys; leave that to it
        parts = [
            _encode_str(key) + ": " + (_float_repr(item) if type(item) is float and item - item == 0.0 else _encode(item, inner))
            for key, item in items
        ]
        return "{" + inner + ("," + inner).join(parts) + newline + "}"
    if kind is list or kind is tuple:
        if not value:
            return "[]"
        inner = newline + " "
        parts = [_float_repr(item) if type(item) is float and item - item == 0.0 else _encode(item, inner) for item in value]
        return "[" + inner + ("," + inner).join(parts) + newline + "]"
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    raise _Unsupported  # subclasses (numpy scalars, ...), unknown types


def _dumps(data) -> str:
    try:
        return _encode(data, "\n")
    except _Unsupported:
        return json.dumps(data, indent=1, sort_keys=True)


def build_plan(config: dict) -> list[ShardPlan]:
    """Read the clip table, write every shard document, then plan.json last."""
    paths = RunPaths.from_config(config)
    clips = list(read_clip_table(paths.clip_table))
    if not clips:
        raise ValueError(f"{paths.clip_table}: the clip table is empty; nothing to render (see {paths.index_report})")
    shards = group_into_shards(clips, config["plan"]["clips_per_shard"])
    for shard in shards:
        _write_json(paths.shard_plan(shard.name), shard_document(shard, config))
    summary = {
        "config_hash": config_hash(config),
        "num_clips": len(clips),
        "views": [v["name"] for v in config["rig"]["views"]],
        "shards": [{"name": s.name, "split": s.split, "num_clips": len(s.clips)} for s in shards],
    }
    _write_json(paths.plan, summary)
    return shards


def read_plan(path: str | Path) -> dict:
    return json.loads(Path(path).read_text())


def read_shard_document(path: str | Path) -> dict:
    return json.loads(Path(path).read_text())
