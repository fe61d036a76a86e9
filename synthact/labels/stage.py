"""The ``labels`` stage: the take table and the plan -> one clip table per protocol.

It runs after the plan (a clip names its shard) and needs no rendered pixel,
so a change of protocol, chunk length or class subset reruns only this stage
and the manifest.
"""

from __future__ import annotations

import sys
from dataclasses import asdict

from synthact import atomic
from synthact.config import RunPaths
from synthact.config_sections import LabelsSection, MotionSection
from synthact.fitting.estimates.settings import labels_mode
from synthact.labels.protocols import ProtocolReport, choose_clips, class_table, clip_rows
from synthact.labels.tables import write_protocol
from synthact.sources.ntu_classes import NTU_CLASSES
from synthact.sources.smarthome import SMARTHOME_CLASSES
from synthact.takes.plan import ShardPlan, read_plan
from synthact.takes.records import Take


def official_classes(motion: MotionSection, preset: str) -> tuple[str, ...] | None:
    """The source dataset's own class order, where it has one (class index = its action id)."""
    source = motion.source
    if source == "estimates":  # estimates of NTU or Smarthome videos carry those datasets' classes
        source = labels_mode({"motion": motion.as_dict(), "preset": preset})
    if source == "ntu":
        return NTU_CLASSES[: 60 if motion.ntu_classes == 60 else 120]
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


def build_labels(paths: RunPaths, labels: LabelsSection, motion: MotionSection, preset: str) -> list[ProtocolReport]:
    """Write every configured protocol's clip and class tables; returns what each did.

    ``motion`` and ``preset`` say which source dataset's class order the tables keep, if any.
    """
    takes = planned_takes(paths)
    official = official_classes(motion, preset)
    reports = []
    for protocol in labels.protocols:
        report = ProtocolReport(protocol)
        clips = choose_clips(protocol, takes, labels.as_dict(), report)
        classes = class_table(protocol, clips, official)
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
