"""Where a run stands, shard by shard, from its outputs, logs and manifest.

States:
- ``done``: the shard file exists and matches the manifest's size, or no
  manifest has been written yet (``stale`` if the manifest disagrees, i.e. the
  shard was rebuilt after the manifest was written);
- ``corrupt``: the shard file is not the one merge wrote: its size differs,
  or its sha256 (hashed when its stat is not the one last seen, and always
  with ``verify``); a real rerun moves it aside and rebuilds it;
- ``merging``: every view rendered, the HDF5 shard not yet written;
- ``failed``: the render or merge step left an error in its log; for a render,
  the detail is the first failed task's error and the path of its log;
- ``partial``: some take-view windows rendered (running, or interrupted);
- ``missing``: nothing started;
- ``unplanned``: a file in ``shards/`` that the plan does not name, left by an
  older layout (``plan.frames_per_shard``); a real run moves it to ``WORK/stale/``.

Status reads only: a shard found intact by hashing is not recorded as such
(only a real run writes that), so status hashes it again next time.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import synthact
from synthact.config import RunPaths
from synthact.config_sections import DispatchSection
from synthact.ownership import Launch, read_run_record, shown_here
from synthact.render.cache import RenderCache
from synthact.shards.integrity import check_shard, unplanned_shards
from synthact.takes.plan import ShardPlan

ERROR_MARKERS = ("error:", "Traceback", "RenderFailed", "MergeError")


@dataclass(frozen=True)
class ShardStatus:
    name: str
    state: str
    rendered: int  # take-view windows in the render cache
    total: int  # windows x views
    detail: str = ""


def _last_error(log: Path) -> str:
    if not log.exists():
        return ""
    lines = log.read_text(errors="replace").splitlines()
    errors = [line for line in lines if any(marker in line for marker in ERROR_MARKERS)]
    return errors[-1].strip() if errors else ""


# What synthact.dispatch.submit.collect writes when render tasks fail.
_RENDER_FAILED = re.compile(r"render-shard: error: shard \S+: (?P<summary>\d+ of \d+ render tasks failed)")
_TASK_FAILED = re.compile(r"^\s*(?P<task>view '[^']*' \(job [^)]*\)): (?P<error>.*)$")
_TASK_LOG = re.compile(r"^\s*log: (?P<log>\S.*)$")


def _render_failure(log: Path) -> str:
    """The render job's failure: how many tasks failed, the first one's error and its log."""
    if not log.exists():
        return ""
    lines = log.read_text(errors="replace").splitlines()
    starts = [i for i, line in enumerate(lines) if _RENDER_FAILED.search(line)]
    if not starts:
        return _last_error(log)
    summary = _RENDER_FAILED.search(lines[starts[-1]])["summary"]  # type: ignore[index]  # starts: lines that match
    task = error = task_log = ""
    for line in lines[starts[-1] + 1 :]:
        if not task and (m := _TASK_FAILED.match(line)):
            task, error = m["task"], m["error"]
        elif task and (m := _TASK_LOG.match(line)):
            task_log = m["log"]
            break
    if not task:
        return lines[starts[-1]].strip()
    return f"{summary}; {task}: {error}" + (f"; log: {task_log}" if task_log else "")


def _manifest_sizes(paths: RunPaths) -> dict[str, int] | None:
    """Shard name -> size in the manifest; None when there is no manifest yet."""
    if not paths.manifest.exists():
        return None
    return {s["name"]: s["size"] for s in json.loads(paths.manifest.read_text())["shards"]}


def shard_status(
    paths: RunPaths, shard: str, manifest_sizes: dict[str, int] | None, render_key: str, verify: bool = False
) -> ShardStatus:
    plan = ShardPlan.read(paths.shard_plan(shard))
    cache = RenderCache.for_key(paths.work_dir, render_key)
    total = cache.count(plan.take_frames(), list(plan.views), plan.window_frames)
    rendered = total - len(cache.missing(plan.take_frames(), list(plan.views), plan.window_frames))
    shard_file = paths.shard_file(shard)
    if shard_file.exists():
        damage = check_shard(paths, shard, full=verify).damage
        if damage:
            return ShardStatus(shard, "corrupt", rendered, total, damage)
        if manifest_sizes is None:
            return ShardStatus(shard, "done", rendered, total, "no manifest yet")
        size = manifest_sizes.get(shard)
        if size == shard_file.stat().st_size:
            return ShardStatus(shard, "done", rendered, total)
        detail = "not in the manifest" if size is None else "differs from the manifest (rebuilt since)"
        return ShardStatus(shard, "stale", rendered, total, detail)
    error = _last_error(paths.work_dir / "logs" / "merge" / f"{shard}.log") or _render_failure(
        paths.work_dir / "logs" / "render" / f"{shard}.log"
    )
    if error:
        return ShardStatus(shard, "failed", rendered, total, error)
    if paths.render_done(shard).exists():
        return ShardStatus(shard, "merging", rendered, total)
    return ShardStatus(shard, "partial" if rendered else "missing", rendered, total)


def run_status(paths: RunPaths, render_key: str, verify: bool = False) -> list[ShardStatus]:
    """Every planned shard's state; ``render_key`` finds the run's render cache (``synthact.stages.run_key``)."""
    if not paths.plan.exists():
        raise FileNotFoundError(f"{paths.plan}: no plan yet; run the workflow (snakemake) first")
    plan = json.loads(paths.plan.read_text())
    sizes = _manifest_sizes(paths)
    names = [s["name"] for s in plan["shards"]]
    stale = [
        ShardStatus(
            p.stem, "unplanned", 0, 0, f"an older layout's shard; a real run moves it to {paths.work_dir / 'stale'}"
        )
        for p in unplanned_shards(paths, names)
    ]
    return [shard_status(paths, name, sizes, render_key, verify) for name in names] + stale


def _launch_options(launch: Launch | None, dispatch: DispatchSection) -> list[str]:
    if launch is None:  # launched before runs recorded themselves: what the config's dispatch implies
        return ["--profile", "slurm"] if dispatch.cluster == "slurm" else ["--cores", "all"]
    if launch.profile:
        return ["--profile", shown_here(launch.profile) if os.path.isabs(launch.profile) else launch.profile]
    if launch.executor != "local":
        return ["--executor", launch.executor] + (["--jobs", str(launch.jobs)] if launch.jobs else [])
    return ["--cores", "all"]


# Where Snakemake looks for the workflow when none is named (snakemake.common.SNAKEFILE_CHOICES).
_DEFAULT_SNAKEFILES = ("Snakefile", "snakefile", "workflow/Snakefile", "workflow/snakefile")


def _snakefile_options(launch: Launch | None) -> list[str]:
    """``--snakefile`` unless Snakemake, started here, finds this run's workflow by itself."""
    source_tree = Path(synthact.__file__).resolve().parents[1] / "workflow" / "Snakefile"
    snakefile = Path(launch.snakefile) if launch else source_tree
    found = next((Path(p) for p in _DEFAULT_SNAKEFILES if Path(p).is_file()), None)
    if found is not None and found.resolve() == snakefile.resolve():
        return []
    return ["--snakefile", shown_here(str(snakefile))]


def rerun_options(paths: RunPaths, dispatch: DispatchSection, profile: str | None = None) -> list[str]:
    """How to start Snakemake from the current directory as this run was started: its profile or
    executor (``--cores all`` for a local run), and its Snakefile when the default would not find it.
    ``profile`` overrides what the run recorded."""
    launch = getattr(read_run_record(paths), "launch", None)
    how = ["--profile", profile] if profile else _launch_options(launch, dispatch)
    return how + _snakefile_options(launch)


def rerun_configfiles(paths: RunPaths, given: str | None) -> str | None:
    """The config file as the user gave it to status, else the ones the run recorded (relative to here)."""
    if given:
        return given
    record = read_run_record(paths)
    return " ".join(shown_here(p) for p in record.config_files) if record and record.config_files else None


def rerun_command(paths: RunPaths, statuses: list[ShardStatus], options: list[str], configfile: str | None) -> str:
    """The command that rebuilds just the failed and unfinished shards, then the manifest."""
    targets = [str(paths.shard_file(s.name)) for s in statuses if s.state not in ("done", "unplanned")]
    if not targets and all(s.state == "done" for s in statuses):
        return ""  # (unplanned shards alone: the manifest's run moves them aside)
    parts = ["snakemake", *options, *targets, str(paths.manifest), str(paths.checksums)]
    corrupt = [str(paths.shard_file(s.name)) for s in statuses if s.state == "corrupt"]
    if corrupt:
        # A real run moves these aside by itself; forced, it does even when their stat is the one last
        # seen (a damage found only by --verify).
        parts += ["--forcerun", *corrupt]
    if configfile:
        # Last: --configfile takes every argument after it, so targets after it would be read as config files.
        parts.append(f"--configfile {configfile}")
    return " ".join(parts)
