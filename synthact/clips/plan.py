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


def _write_json(path: Path, data: dict, indent: int | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    # Shard documents are written compact: they are the bulk of the plan's
    # output (AMARV: ~3.5 GB), and an indent makes json fall back to its slow
    # pure-Python encoder.
    separators = None if indent else (",", ":")
    tmp.write_text(json.dumps(data, indent=indent, sort_keys=True, separators=separators))
    os.replace(tmp, path)


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
    _write_json(paths.plan, summary, indent=1)
    return shards


def read_plan(path: str | Path) -> dict:
    return json.loads(Path(path).read_text())


def read_shard_document(path: str | Path) -> dict:
    return json.loads(Path(path).read_text())
