"""The ``labels`` stage: the take table and the plan -> one clip table per protocol.

It runs after the plan (a clip names its shard) and needs no rendered pixel,
so a change of protocol, chunk length or class subset reruns only this stage
and the manifest.
"""

from __future__ import annotations

import sys
from dataclasses import asdict
from typing import Any

from synthact import atomic
from synthact.config import RunPaths
from synthact.fitting.estimates.settings import labels_mode
from synthact.labels.protocols import ProtocolReport, choose_clips, class_table, clip_rows
from synthact.labels.tables import write_protocol
from synthact.sources.ntu_classes import NTU_CLASSES
from synthact.sources.smarthome import SMARTHOME_CLASSES
from synthact.takes.plan import ShardPlan, read_plan
from synthact.takes.records import Take


def official_classes(config: dict[str, Any]) -> tuple[str, ...] | None:
    """The source dataset's own class order, where it has one (class index = its action id)."""
    source = config["motion"].get("source", "amass")
    if source == "estimates":  # estimates of NTU or Smarthome videos carry those datasets' classes
        source = labels_mode(config)
    if source == "ntu":
        return NTU_CLASSES[: 60 if config["motion"].get("ntu_classes", 60) == 60 else 120]
    if source == "smarthome":
        return SMARTHOME_CLASSES
    return None


def planned_takes(paths: RunPaths) -> list[tuple[Take, str]]:
    """(take, shard name) of every planned take, in plan order."""
    out: list[tuple[Take, str]] = []
    for shard in read_plan(paths.plan)["shards"]:
        plan = ShardPlan.read(paths.shard_plan(shard["name"]))
        out.extend((t.take, plan.name) for t in plan.takes)
    return out


def build_labels(config: dict[str, Any]) -> list[ProtocolReport]:
    """Write every configured protocol's clip and class tables; returns what each did."""
    paths = RunPaths.from_config(config)
    takes = planned_takes(paths)
    settings = config["labels"]
    reports = []
    for protocol in settings["protocols"]:
        report = ProtocolReport(protocol)
        clips = choose_clips(protocol, takes, settings, report)
        classes = class_table(protocol, clips, official_classes(config))
        rows = clip_rows(protocol, clips, classes)
        report.num_clips = write_protocol(paths.clip_table(protocol), paths.class_table(protocol), rows, classes)
        reports.append(report)
        for message in report.messages():
            print(f"labels: note: {message}", file=sys.stderr)
        splits = ", ".join(f"{s} {sum(c.values())}" for s, c in classes.counts.items()) or "none"
        print(
            f"labels: {protocol}: {report.num_clips} clips ({splits}), {len(classes.classes)} classes", file=sys.stderr
        )
    atomic.write_json(paths.labels_report, [asdict(r) for r in reports], indent=1)
    return reports
