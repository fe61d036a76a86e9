"""The plan: whole takes grouped into shards, balanced by frames, and every view's draws.

Shards never mix splits, so a consumer can take a split by its file names, and
a take is never split across shards. Takes stay in take-table order (sorted by
source), which keeps a sequence's repetitions together and lets a render task
load each motion file once.

Writes ``plan.json`` (the shard list, read by the workflow) and one
``shards/<name>.json`` per shard (a ``ShardPlan``: everything a render task and
the merge need). Both are frozen dataclasses that round-trip to JSON; the keys
are their field names, defined here once.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from synthact import atomic
from synthact.config import RunPaths
from synthact.config_sections import PlanSection, RenderSection, RigSection
from synthact.errors import SynthActError
from synthact.scene.rig import Rig, ViewPlan
from synthact.seeding import derive_seed
from synthact.takes.records import Take, read_take_table
from synthact.takes.views import plan_views

SPLIT_ORDER = ("train", "val", "test", "none")


def shard_name(split: str, index: int, count: int) -> str:
    """Deterministic, sortable shard names: ``train-00003-of-00010``."""
    return f"{split}-{index:05d}-of-{count:05d}"


@dataclass(frozen=True)
class TakePlan:
    """One take as a render task sees it: the take, its appearance seed, its views' draws."""

    take: Take
    appearance_seed: int
    views: tuple[ViewPlan, ...]

    def view(self, name: str) -> ViewPlan:
        for view in self.views:
            if view.name == name:
                return view
        raise KeyError(f"take {self.take.take_id}: no view {name!r} (has {[v.name for v in self.views]})")

    def to_dict(self) -> dict[str, Any]:
        return {
            "take": self.take.to_dict(),
            "appearance_seed": self.appearance_seed,
            "views": [v.to_dict() for v in self.views],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TakePlan:
        views = tuple(ViewPlan.from_dict(v) for v in data["views"])
        return cls(take=Take.from_dict(data["take"]), appearance_seed=int(data["appearance_seed"]), views=views)


@dataclass(frozen=True)
class ShardPlan:
    """One shard: its takes, its views, and the plan stage's key."""

    name: str
    split: str
    views: tuple[str, ...]
    window_frames: int
    plan_key: str
    takes: tuple[TakePlan, ...]

    @property
    def num_frames(self) -> int:
        return sum(t.take.num_frames for t in self.takes)

    def take_frames(self) -> list[tuple[str, int]]:
        """(take id, frames) of every take: what the render cache is asked about."""
        return [(t.take.take_id, t.take.num_frames) for t in self.takes]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "split": self.split,
            "views": list(self.views),
            "window_frames": self.window_frames,
            "plan_key": self.plan_key,
            "takes": [t.to_dict() for t in self.takes],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ShardPlan:
        return cls(
            name=data["name"],
            split=data["split"],
            views=tuple(data["views"]),
            window_frames=int(data["window_frames"]),
            plan_key=data["plan_key"],
            takes=tuple(TakePlan.from_dict(t) for t in data["takes"]),
        )

    def write(self, path: Path) -> None:
        # Compact: shard documents are the bulk of the plan's output at AMARV scale,
        # and an indent makes json fall back to its slow pure-Python encoder.
        atomic.write_json(path, self.to_dict())

    @classmethod
    def read(cls, path: str | Path) -> ShardPlan:
        try:
            return cls.from_dict(json.loads(Path(path).read_text()))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}: unreadable shard plan ({exc}); rerun the plan stage") from exc


def balanced_groups(takes: list[Take], frames_per_shard: int) -> list[list[Take]]:
    """Contiguous groups of whole takes with about equal frame totals.

    The group count is ``ceil(total / frames_per_shard)``; a take goes to the group
    whose share of the running total its middle frame falls in, so groups come out
    within one take of the mean, whatever the take lengths.
    """
    total = sum(t.num_frames for t in takes)
    count = max(1, -(-total // frames_per_shard))
    groups: list[list[Take]] = [[] for _ in range(count)]
    running = 0
    for take in takes:
        middle = running + take.num_frames / 2
        groups[min(count - 1, int(middle * count / max(total, 1)))].append(take)
        running += take.num_frames
    return [g for g in groups if g]


def group_into_shards(takes: list[Take], frames_per_shard: int) -> list[tuple[str, str, list[Take]]]:
    """(name, split, takes) of every shard, splits in train, val, test, none order."""
    by_split: dict[str, list[Take]] = defaultdict(list)
    for take in takes:
        by_split[take.split].append(take)
    order = sorted(by_split, key=lambda s: (SPLIT_ORDER.index(s) if s in SPLIT_ORDER else len(SPLIT_ORDER), s))
    shards: list[tuple[str, str, list[Take]]] = []
    for split in order:
        groups = balanced_groups(by_split[split], frames_per_shard)
        shards.extend((shard_name(split, i, len(groups)), split, group) for i, group in enumerate(groups))
    return shards


def plan_take(take: Take, rig: Rig, seed: int) -> TakePlan:
    return TakePlan(
        take=take,
        appearance_seed=derive_seed(seed, take.take_id, "appearance"),
        views=tuple(plan_views(rig, take, seed)),
    )


class EmptyTakeTable(SynthActError, ValueError):
    """The index found nothing to render; the message says what it read and what it skipped."""


_SUBJECT = re.compile(r"^[^']*'[^']*':\s*")  # "feat_p 'CMU/x_poses.npz': " names one input, not the cause


def why_no_takes(report_path: Path) -> str:
    """What the index read and, by cause, what it skipped, from its report (one line)."""
    try:
        report = json.loads(report_path.read_text())
    except (OSError, ValueError):
        return f"the index left no readable report ({report_path}); rerun the index"
    settings = report.get("settings", {})
    read = (
        f"the index read {report.get('num_sequences', 0)} labelled sequences from"
        f" {report.get('num_motion_files', 0)} motion files under {settings.get('amass_root', '?')}"
        f" (BABEL files {settings.get('babel_files', [])} in {settings.get('babel_dir', '?')})"
    )
    causes = Counter(_cause(item.get("reason", "")) for item in report.get("skipped", []))
    if not causes:
        return f"{read} and skipped nothing: do the BABEL files list sequences of this AMASS root? ({report_path})"
    listed = "; ".join(f"{n} x {cause}" for cause, n in causes.most_common(3))
    more = f"; {len(causes) - 3} other causes" if len(causes) > 3 else ""
    total = sum(causes.values())
    return (
        f"{read}, and skipped {total} inputs (on_bad_input: lenient): {listed}{more}; each is listed in {report_path}"
    )


def _cause(reason: str) -> str:
    first = (reason.strip().splitlines() or ["no reason given"])[0]
    return _SUBJECT.sub("", first).split(";")[0].strip()[:160]


def build_plan(
    paths: RunPaths, rig_section: RigSection, render: RenderSection, plan: PlanSection, seed: int, key: str
) -> list[ShardPlan]:
    """Read the take table, write every shard plan, then plan.json last.

    ``key`` is the plan stage's key (``synthact.stages``), recorded in every plan.
    """
    takes = list(read_take_table(paths.take_table))
    if not takes:
        raise EmptyTakeTable(f"{paths.take_table}: the take table is empty: {why_no_takes(paths.index_report)}")
    rig = Rig.from_config(rig_section.as_dict(), render.as_dict())
    shards = [
        ShardPlan(
            name=name,
            split=split,
            views=tuple(v.name for v in rig.views),
            window_frames=render.window_frames,
            plan_key=key,
            takes=tuple(plan_take(take, rig, seed) for take in members),
        )
        for name, split, members in group_into_shards(takes, plan.frames_per_shard)
    ]
    for shard in shards:
        shard.write(paths.shard_plan(shard.name))
    summary = {
        "plan_key": key,
        "num_takes": len(takes),
        "num_frames": sum(t.num_frames for t in takes),
        "views": [v.name for v in rig.views],
        "shards": [
            {"name": s.name, "split": s.split, "num_takes": len(s.takes), "num_frames": s.num_frames} for s in shards
        ],
    }
    atomic.write_json(paths.plan, summary, indent=1)
    return shards


def read_plan(path: str | Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text())
