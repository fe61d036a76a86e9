"""What each workflow stage depends on: one table for rerun triggers and cache keys.

Snakemake reruns a rule when its ``params`` change, and the render cache is
keyed by a hash of what changes a rendered frame. Both come from
``stage_config`` below, so a setting can never change a render without also
changing its cache key (stale results), nor rerun a stage it does not affect
(wasted GPU hours). ``@stage`` pulls in everything that stage depends on.

Dispatch settings, folders and thread counts change no output, so they are in
no stage: moving a run to Slurm or to another folder reruns nothing.
"""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

STAGE_INPUTS: dict[str, tuple[str, ...]] = {
    "demo_data": ("demo", "motion.amass_root", "motion.babel_dir", "motion.babel_files", "motion.body_model_dir"),
    # Skeleton and estimate sources: the fitted motions and their labels (workers change nothing).
    "fit": (
        "motion.source",
        "motion.skeleton_dir",
        "motion.protocol",
        "motion.ntu_classes",
        "motion.fit",
        "motion.body_model_dir",
        "motion.estimates_dir",
        "motion.estimator",
        "motion.estimates_labels",
        "motion.estimates",
        "clips.on_bad_input",
    ),
    # The take table: which sequences, their frames at the target rate, the spans rendered.
    "index": ("motion", "clips", "render.span", "render.span_merge_gap_s", "render.repetitions"),
    # Shards of whole takes and every view's drawn placement.
    "plan": ("@index", "seed", "plan", "rig", "render.width", "render.height"),
    # A rendered frame: everything but the plan's shard layout.
    "render": ("@index", "seed", "rig", "render", "randomize"),
    "merge": ("@plan", "@render"),
    "labels": ("@plan", "labels"),
    "manifest": ("@merge", "@labels"),
}
# Keys inside a stage's sections that change nothing it writes.
IGNORED_KEYS = ("render.threads",)
# The run's identity, which the manifest and every shard record (``render_key``): the render
# stage's key, which also names the render cache. The shards' layout (``plan``) and the label
# tables have their own record in the manifest (shard names and take ids, file checksums).
RUN_KEY_STAGE = "render"


def _paths(stage: str) -> list[str]:
    paths: list[str] = []
    for entry in STAGE_INPUTS[stage]:
        paths.extend(_paths(entry[1:]) if entry.startswith("@") else [entry])
    return sorted(set(paths))


def _get(config: dict[str, Any], path: str) -> Any:
    value: Any = config
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def stage_config(config: dict[str, Any], stage: str) -> dict[str, Any]:
    """The part of ``config`` that ``stage``'s output depends on, as a nested dict."""
    if stage not in STAGE_INPUTS:
        raise KeyError(f"unknown stage {stage!r}; stages: {sorted(STAGE_INPUTS)}")
    selected: dict[str, Any] = {}
    for path in _paths(stage):
        value = _get(config, path)
        node = selected
        parts = path.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = copy.deepcopy(value)
    for path in IGNORED_KEYS:
        section, key = path.split(".")
        if isinstance(selected.get(section), dict):
            selected[section].pop(key, None)
    return selected


def stage_params(config: dict[str, Any], stage: str) -> str:
    """``stage_config`` as canonical JSON: a rule's ``params`` (a change reruns the rule)."""
    return json.dumps(stage_config(config, stage), sort_keys=True)


def fit_params(config: dict[str, Any]) -> str:
    """The fit rule's ``params``: ``stage_config(config, "fit")`` flat, by key name (the names are
    unique). Runs record the fit's params in this form; another would refit every existing run
    once, and rebuild everything after the fit."""
    flat = {path.split(".")[-1]: _get(config, path) for path in _paths("fit")}
    return json.dumps(flat, sort_keys=True)


def stage_key(config: dict[str, Any], stage: str) -> str:
    """sha256 of ``stage_params``: the identity of the stage's output (the render cache key)."""
    return hashlib.sha256(stage_params(config, stage).encode()).hexdigest()


def run_key(config: dict[str, Any]) -> str:
    """The run's identity: the manifest's and every shard's ``render_key`` (``RUN_KEY_STAGE``)."""
    return stage_key(config, RUN_KEY_STAGE)
