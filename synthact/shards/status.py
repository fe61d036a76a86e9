"""Where a run stands, shard by shard, from its outputs, logs and manifest.

States:
- ``done``: the shard file exists and matches the manifest's size (``stale``
  if it differs, i.e. it was rebuilt after the manifest was written);
- ``merging``: every view rendered, the HDF5 shard not yet written;
- ``failed``: the render or merge step left an error in its log;
- ``partial``: some clip-views rendered (running, or interrupted);
- ``missing``: nothing started.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from synthact.config import RunPaths
from synthact.render.worker import cache_path

ERROR_MARKERS = ("error:", "Traceback", "RenderFailed", "MergeError")


@dataclass(frozen=True)
class ShardStatus:
    name: str
    state: str
    rendered: int  # clip-views in the render cache
    total: int  # clips x views
    detail: str = ""


def _last_error(log: Path) -> str:
    if not log.exists():
        return ""
    lines = log.read_text(errors="replace").splitlines()
    errors = [line for line in lines if any(marker in line for marker in ERROR_MARKERS)]
    return errors[-1].strip() if errors else ""


def _manifest_sizes(paths: RunPaths) -> dict[str, int]:
    if not paths.manifest.exists():
        return {}
    return {s["name"]: s["size"] for s in json.loads(paths.manifest.read_text())["shards"]}


def shard_status(paths: RunPaths, shard: str, manifest_sizes: dict[str, int]) -> ShardStatus:
    document = json.loads(paths.shard_plan(shard).read_text())
    cache = paths.render_cache(shard, document["config_hash"])
    rendered = sum(cache_path(cache, v, c["clip_id"]).exists() for c in document["clips"] for v in document["views"])
    total = len(document["clips"]) * len(document["views"])
    shard_file = paths.shard_file(shard)
    if shard_file.exists():
        size = manifest_sizes.get(shard)
        state = "done" if size == shard_file.stat().st_size else "stale"
        return ShardStatus(shard, state, rendered, total, "" if state == "done" else "not in the manifest yet")
    error = _last_error(paths.work_dir / "logs" / "merge" / f"{shard}.log") or _last_error(
        paths.work_dir / "logs" / "render" / f"{shard}.log"
    )
    if error:
        return ShardStatus(shard, "failed", rendered, total, error)
    if paths.render_done(shard).exists():
        return ShardStatus(shard, "merging", rendered, total)
    return ShardStatus(shard, "partial" if rendered else "missing", rendered, total)


def run_status(config: dict) -> list[ShardStatus]:
    paths = RunPaths.from_config(config)
    if not paths.plan.exists():
        raise FileNotFoundError(f"{paths.plan}: no plan yet; run the workflow (snakemake) first")
    plan = json.loads(paths.plan.read_text())
    sizes = _manifest_sizes(paths)
    return [shard_status(paths, s["name"], sizes) for s in plan["shards"]]


def rerun_command(config: dict, statuses: list[ShardStatus], profile: str, configfile: str | None) -> str:
    """The command that rebuilds just the failed and unfinished shards, then the manifest."""
    paths = RunPaths.from_config(config)
    targets = [str(paths.shard_file(s.name)) for s in statuses if s.state not in ("done",)]
    if not targets:
        return ""
    parts = ["snakemake", f"--profile {profile}"]
    if configfile:
        parts.append(f"--configfile {configfile}")
    return " ".join(parts + targets + [str(paths.manifest), str(paths.checksums)])
