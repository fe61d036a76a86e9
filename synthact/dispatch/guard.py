"""The render step's tasks die with it: signal handling, a watchdog for SIGKILL,
Slurm pending reasons that never clear, and the record of submitted job ids.

``synthact render-shard`` only waits; its tasks run as a Slurm job array or as
local processes. If it is stopped (SIGTERM/SIGINT/SIGHUP: Snakemake's Ctrl-C,
Slurm's cancel of the Snakemake job), its handler cancels the tasks and logs
why. SIGKILL cannot be handled, so a small watchdog process in its own
session polls the dispatcher and, once it is gone, cancels the same tasks
(``scancel``, or the local process trees) and appends the reason to the
shard's render log.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import psutil

if TYPE_CHECKING:
    from synthact.config_sections import DispatchSection

# Slurm pending reasons that no amount of waiting clears, and the dispatch key to change.
NEVER_CLEARS = {
    "PartitionConfig": "the request exceeds what the partition's nodes have",
    "PartitionTimeLimit": "dispatch.timeout_min exceeds the partition's MaxTime",
    "PartitionNodeLimit": "the request needs more nodes than the partition allows",
    "BadConstraints": "no node satisfies the constraints (dispatch.slurm_extra)",
    "InvalidAccount": "the account is not valid (dispatch.slurm_extra.account)",
    "InvalidQOS": "the QOS is not valid (dispatch.slurm_extra.qos)",
    "QOSMaxWallDurationPerJobLimit": "dispatch.timeout_min exceeds the QOS's wall-time limit",
}
WATCH_SECONDS = 1.0


def job_ids(jobs: list) -> list[str]:
    return [str(job.job_id) for job in jobs]


def record_jobs(path: Path, cluster: str, views: list[str], jobs: list) -> None:
    """Append this submission's job ids (one JSON line), for ``synthact status --accounting``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    line = {
        "cluster": cluster,
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "jobs": [{"view": v, "job_id": j} for v, j in zip(views, job_ids(jobs), strict=True)],
    }
    with open(path, "a") as f:
        f.write(json.dumps(line) + "\n")


def read_job_records(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def cancel_tasks(cluster: str, ids: list[str]) -> str:
    """Stop the tasks; returns what was done, for the log."""
    if not ids:
        return "no tasks to cancel"
    if cluster == "slurm":
        result = subprocess.run(
            ["scancel", *sorted({i.split("_")[0] for i in ids})],
            capture_output=True,
            text=True,
        )
        return f"scancel {' '.join(sorted({i.split('_')[0] for i in ids}))}" + (
            f" ({result.stderr.strip()})" if result.returncode else ""
        )
    killed = 0
    for pid in ids:  # local jobs: the id is the pid of submitit's controller, whose children render
        try:
            root = psutil.Process(int(pid))
            tree = root.children(recursive=True) + [root]
        except (psutil.NoSuchProcess, ValueError):
            continue
        for process in tree:
            try:
                process.kill()
                killed += 1
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(tree, timeout=5)
    return f"killed {killed} local processes of tasks {', '.join(ids)}"


def append_log(path: Path | None, line: str) -> None:
    """To stderr, which under Snakemake is ``tee {log}``; straight into the log if that pipe is gone.

    Never both: while tee lives it writes the log at its own offset, and a
    second writer would be overwritten.
    """
    try:
        print(line, file=sys.stderr, flush=True)
        return
    except (OSError, ValueError):
        pass
    if path is not None:
        try:
            with open(path, "a") as f:
                f.write(line + "\n")
        except OSError:
            pass


class Interrupted(BaseException):
    """The dispatcher got a stop signal (not an Exception, so nothing swallows it on the way up)."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _raise_interrupted(signum: int, _frame: FrameType | None) -> None:
    raise Interrupted(signum)


def install_stop_handlers() -> None:
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, _raise_interrupted)


class Watchdog:
    """A child in its own session that cancels the tasks if this process dies without doing it."""

    def __init__(self, cluster: str, ids: list[str], log: Path | None, shard: str):
        command = [
            sys.executable,
            "-m",
            "synthact.dispatch.guard",
            "--parent",
            str(os.getpid()),
            "--cluster",
            cluster,
            "--shard",
            shard,
            "--log",
            str(log or ""),
            *ids,
        ]
        self.process = subprocess.Popen(command, start_new_session=True, stdin=subprocess.DEVNULL)

    def stop(self) -> None:
        """Stand down: the dispatcher ended normally or cancelled its tasks itself."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGUSR1)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def pending_reasons(ids: list[str]) -> dict[str, str]:
    """Slurm job id -> pending reason, for the tasks still pending."""
    bases = sorted({i.split("_")[0] for i in ids})
    result = subprocess.run(
        ["squeue", "-h", "-r", "-j", ",".join(bases), "-o", "%i|%T|%r"], capture_output=True, text=True, timeout=60
    )
    reasons = {}
    for line in result.stdout.splitlines():
        job, state, reason = (line.split("|") + ["", ""])[:3]
        if state == "PENDING":
            reasons[job] = reason
    return reasons


def partition_limits(partition: str) -> dict[str, int]:
    """The largest node of ``partition``: cpus, memory MB, GPUs (from sinfo)."""
    result = subprocess.run(
        ["sinfo", "-h", "-p", partition, "-o", "%c|%m|%G"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    best = {"cpus": 0, "mem_mb": 0, "gpus": 0}
    for line in result.stdout.splitlines():
        cpus, mem, gres = (line.split("|") + ["", ""])[:3]
        gpus = sum(
            int(p.split(":")[-1].split("(")[0])
            for p in gres.split(",")
            if p.startswith("gpu") and p.split(":")[-1].split("(")[0].isdigit()
        )
        best = {
            "cpus": max(best["cpus"], int(cpus.rstrip("+") or 0)),
            "mem_mb": max(best["mem_mb"], int(mem.rstrip("+") or 0)),
            "gpus": max(best["gpus"], gpus),
        }
    return best


def never_clearing(reasons: dict[str, str], dispatch: DispatchSection) -> str:
    """A message naming the dispatch key to change, if a pending reason can never clear; else ""."""
    found = sorted({r for r in reasons.values() if r in NEVER_CLEARS})
    if not found:
        return ""
    reason = found[0]
    detail = NEVER_CLEARS[reason]
    if reason == "PartitionConfig":
        limits = partition_limits(dispatch.partition)
        over = []
        if limits["cpus"] and dispatch.cpus_per_task > limits["cpus"]:
            over.append(f"dispatch.cpus_per_task {dispatch.cpus_per_task} > {limits['cpus']} CPUs per node")
        if limits["mem_mb"] and dispatch.mem_gb * 1024 > limits["mem_mb"]:
            over.append(f"dispatch.mem_gb {dispatch.mem_gb} > {limits['mem_mb'] / 1024:g} GB per node")
        if dispatch.gpus_per_task > limits["gpus"]:
            over.append(f"dispatch.gpus_per_task {dispatch.gpus_per_task} > {limits['gpus']} GPUs per node")
        detail = "; ".join(over) or detail + " (dispatch.cpus_per_task, dispatch.mem_gb, dispatch.gpus_per_task)"
        detail = f"on partition {dispatch.partition!r}: {detail}"
    return f"Slurm will never start these tasks: pending reason {reason}: {detail}; change it and rerun"


def _watch(args: argparse.Namespace) -> int:
    stood_down = False

    def stand_down(*_: object) -> None:
        nonlocal stood_down
        stood_down = True

    signal.signal(signal.SIGUSR1, stand_down)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)  # the dispatcher's group may be signalled as a whole
    try:
        parent = psutil.Process(args.parent)
    except psutil.NoSuchProcess:
        parent = None
    while not stood_down:
        if parent is None or not parent.is_running() or parent.status() == psutil.STATUS_ZOMBIE:
            done = cancel_tasks(args.cluster, args.ids)
            append_log(
                Path(args.log) if args.log else None,
                f"synthact render-shard: error: shard {args.shard}: the render step (pid {args.parent}) died "
                f"without finishing (killed?); its tasks were stopped: {done}; a rerun resumes",
            )
            return 0
        time.sleep(WATCH_SECONDS)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m synthact.dispatch.guard", description=Watchdog.__doc__)
    parser.add_argument("--parent", type=int, required=True)
    parser.add_argument("--cluster", required=True)
    parser.add_argument("--shard", required=True)
    parser.add_argument("--log", default="")
    parser.add_argument("ids", nargs="*")
    return _watch(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
