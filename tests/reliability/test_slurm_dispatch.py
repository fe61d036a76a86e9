"""The render step on the real test Slurm (scripts/slurm-cluster.sh): it cancels its job array when
SIGKILLed, fails fast on a pending reason that never clears, and its recorded job ids feed
`synthact status --accounting`."""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.reliability.helpers import BIN, env

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

DISPATCH = {
    "cluster": "slurm",
    "partition": "gpu",
    "gpus_per_task": 1,
    "cpus_per_task": 1,
    "mem_gb": 1,
    "timeout_min": 5,
}


def render(workdir: Path, log: Path, **dispatch) -> tuple[subprocess.Popen, str]:
    work = workdir / "output" / "work"
    shutil.rmtree(work / "cache")
    shutil.rmtree(work / "logs" / "submitit")  # the finished run's job records
    for done in (work / "render").glob("*.json"):
        done.unlink()
    shard = min(p.stem for p in (work / "plan" / "shards").glob("*.json"))
    command = [
        str(BIN / "synthact"),
        "render-shard",
        "--config",
        "config.yaml",
        "--shard",
        shard,
        "--dispatch-json",
        json.dumps(DISPATCH | dispatch),
    ]
    with open(log, "w") as f:
        proc = subprocess.Popen(
            command,
            cwd=workdir,
            env=env(workdir),
            stdout=f,
            stderr=f,
            start_new_session=True,
        )
    return proc, shard


def recorded_ids(workdir: Path, shard: str, timeout_s: float = 60) -> list[str]:
    jobs = workdir / "output" / "work" / "logs" / "submitit" / shard / "jobs.jsonl"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if jobs.exists() and jobs.read_text().strip():
            return [j["job_id"] for j in json.loads(jobs.read_text().splitlines()[-1])["jobs"]]
        time.sleep(0.3)
    pytest.fail("the render step recorded no job ids")


def queued(ids: list[str]) -> str:
    bases = ",".join(sorted({i.split("_")[0] for i in ids}))
    return subprocess.run(["squeue", "-h", "-j", bases, "-o", "%i %T"], capture_output=True, text=True).stdout.strip()


def test_sigkilled_render_step_scancels_its_array(slurm_cluster, run_copy):
    log = run_copy / "render.log"
    proc, shard = render(run_copy, log)
    ids = recorded_ids(run_copy, shard)
    assert queued(ids)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 30
    while queued(ids) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert queued(ids) == "", "the array outlived the render step"
    base = int(ids[0].split("_")[0])
    assert set(slurm_cluster.wait(base).values()) == {"CANCELLED"}
    text = log.read_text()
    assert (
        f"the render step (pid {proc.pid}) died without finishing (killed?); its tasks were stopped: scancel {base}"
        in text
    )


def test_pending_reason_that_never_clears_fails_fast_naming_the_key(slurm_cluster, run_copy):
    log = run_copy / "render.log"
    proc, shard = render(run_copy, log, cpus_per_task=4096)
    assert proc.wait(timeout=600) == 1  # a guard against a hang, not a speed check
    text = log.read_text()
    assert re.search(
        r"shard \S+: Slurm will never start these tasks: pending reason PartitionConfig: on partition "
        r"'gpu': dispatch.cpus_per_task 4096 > \d+ CPUs per node; change it and rerun",
        text,
    ), text
    assert "Traceback" not in text
    ids = recorded_ids(run_copy, shard)
    assert queued(ids) == ""  # cancelled, not left pending
    # Failing fast means the step gave up on the pending reason, not on a time limit: every
    # task was cancelled while still pending, so none ran for any time at all.
    base = int(ids[0].split("_")[0])
    assert set(slurm_cluster.wait(base).values()) == {"CANCELLED"}
    elapsed = slurm_cluster.run("sacct", "-j", str(base), "-X", "-n", "-P", "-o", "Elapsed").split()
    assert elapsed and set(elapsed) == {"00:00:00"}, elapsed


def test_accounting_sums_the_recorded_jobs(slurm_cluster, run_copy):
    log = run_copy / "render.log"
    proc, shard = render(run_copy, log)
    assert proc.wait(timeout=600) == 0, log.read_text()[-3000:]
    ids = recorded_ids(run_copy, shard)
    slurm_cluster.wait(int(ids[0].split("_")[0]))
    command = [
        str(BIN / "synthact"),
        "status",
        "--config",
        "config.yaml",
        "--accounting",
    ]
    row = None
    for _ in range(20):  # slurmdbd may take a moment to hold the finished job
        result = subprocess.run(command, cwd=run_copy, env=env(run_copy), capture_output=True, text=True)
        rows = {
            line.split("│")[1].strip(): [c.strip() for c in line.split("│")[2:-1]]
            for line in result.stdout.splitlines()
            if line.startswith("│") and line.count("│") == 7
        }
        row = rows.get(shard)
        if row and float(row[1]) > 0 and float(row[3]) > 0:
            break
        time.sleep(1)
    assert row is not None, result.stdout + result.stderr
    jobs, elapsed_h, gpu_hours, rss_mb, states = row
    assert int(jobs) == len(ids) and states == f"{len(ids)} COMPLETED"
    assert float(gpu_hours) == pytest.approx(float(elapsed_h), abs=2e-4)  # one GPU per task
    assert float(rss_mb) > 50  # a Python process with numpy and bpy loaded
    assert rows["total"][0] == jobs and rows["total"][2] == gpu_hours
