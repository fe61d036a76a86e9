"""GPU-hour accounting from Slurm's ``sacct``, over the job ids the render step recorded.

Every submission of a shard's render tasks appends its job ids to
``WORK/logs/submitit/<shard>/jobs.jsonl`` (``guard.record_jobs``); reruns and
requeues therefore all count. Elapsed time and allocated GPUs come from the
allocation line of each job (``AllocTRES gres/gpu``), peak RSS from its steps
(the batch step holds the task's process) where the cluster gathers it;
where it does not (sacct's MaxRSS empty, as on the test cluster), from the
peak the tasks measured themselves (``getrusage``, in the shard's render
summary).
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass, field

from synthact.config import RunPaths
from synthact.dispatch.guard import read_job_records
from synthact.errors import SynthActError

JOBS_FILE = "jobs.jsonl"
_UNITS = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
_GPU = re.compile(r"gres/gpu(?::[^=,]*)?=(\d+)")


class AccountingError(SynthActError, RuntimeError):
    """sacct is missing or refused the query (no accounting storage on this cluster?)."""


@dataclass
class Usage:
    jobs: int = 0
    elapsed_s: float = 0.0
    gpu_hours: float = 0.0
    peak_rss_bytes: int = 0
    states: dict[str, int] = field(default_factory=dict)

    def add(self, other: Usage) -> None:
        self.jobs += other.jobs
        self.elapsed_s += other.elapsed_s
        self.gpu_hours += other.gpu_hours
        self.peak_rss_bytes = max(self.peak_rss_bytes, other.peak_rss_bytes)
        for state, n in other.states.items():
            self.states[state] = self.states.get(state, 0) + n


def parse_rss(text: str) -> int:
    """sacct's ``MaxRSS`` (``123456K``, ``1.5G``, plain bytes) in bytes; 0 when empty."""
    text = text.strip()
    if not text:
        return 0
    unit = _UNITS.get(text[-1].upper(), 1)
    number = text[:-1] if text[-1].upper() in _UNITS else text
    try:
        return int(float(number) * unit)
    except ValueError:
        return 0


def sacct_usage(ids: list[str]) -> dict[str, Usage]:
    """Job id -> usage, from one sacct call (array tasks as ``<job>_<task>``)."""
    if not ids:
        return {}
    command = [
        "sacct",
        "-n",
        "-P",
        "--format",
        "JobID,State,ElapsedRaw,AllocTRES,MaxRSS",
        "-j",
        ",".join(ids),
    ]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise AccountingError(f"sacct: cannot run ({exc})") from None
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no message"])[-1]
        raise AccountingError(f"sacct: {last}")
    usage: dict[str, Usage] = {}
    for line in result.stdout.splitlines():
        fields = line.split("|")
        if len(fields) < 5:
            continue
        job_id, state, elapsed, tres, rss = fields[:5]
        base, _, step = job_id.partition(".")
        entry = usage.setdefault(base, Usage())
        entry.peak_rss_bytes = max(entry.peak_rss_bytes, parse_rss(rss))
        if step:  # steps: only their memory counts
            continue
        seconds = float(elapsed or 0)
        gpus = sum(int(n) for n in _GPU.findall(tres))
        entry.jobs = 1
        entry.elapsed_s = seconds
        entry.gpu_hours = seconds * gpus / 3600.0
        state_name = state.split()[0] if state else "UNKNOWN"
        entry.states[state_name] = entry.states.get(state_name, 0) + 1
    return usage


def shard_job_ids(paths: RunPaths, shard: str) -> list[str]:
    records = read_job_records(paths.dispatch_logs(shard) / JOBS_FILE)
    return [j["job_id"] for r in records if r["cluster"] == "slurm" for j in r["jobs"]]


def _self_measured_rss(paths: RunPaths, shard: str) -> int:
    try:
        summary = json.loads(paths.render_done(shard).read_text())
    except (OSError, ValueError):
        return 0
    return max((int(v.get("peak_rss_bytes", 0)) for v in summary.get("views", [])), default=0)


def run_accounting(paths: RunPaths, shards: list[str]) -> tuple[dict[str, Usage], Usage]:
    """Per-shard and total usage of every Slurm render task this run submitted."""
    ids = {shard: shard_job_ids(paths, shard) for shard in shards}
    usage = sacct_usage(sorted({i for v in ids.values() for i in v}))
    per_shard, total = {}, Usage()
    for shard, shard_ids in ids.items():
        entry = Usage()
        for job_id in shard_ids:
            if job_id in usage:
                entry.add(usage[job_id])
        entry.peak_rss_bytes = max(entry.peak_rss_bytes, _self_measured_rss(paths, shard))
        per_shard[shard] = entry
        total.add(entry)
    return per_shard, total
