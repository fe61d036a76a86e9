"""The render step's local tasks die with it (SIGKILL: the watchdog; SIGTERM: its handler), and it says why."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from tests.reliability.helpers import BIN, env


def start_render(workdir: Path) -> tuple[subprocess.Popen, str, Path]:
    work = workdir / "output" / "work"
    shutil.rmtree(work / "cache")
    shutil.rmtree(work / "logs" / "submitit")  # the finished run's job records
    for done in (work / "render").glob("*.json"):
        done.unlink()
    shard = min(p.stem for p in (work / "plan" / "shards").glob("*.json"))
    log = workdir / "render-shard.log"
    command = [
        str(BIN / "synthact"),
        "render-shard",
        "--config",
        "config.yaml",
        "--shard",
        shard,
        "--threads",
        "1",
        "--dispatch-json",
        json.dumps({"cluster": "local"}),
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
    return proc, shard, log


def task_tree(workdir: Path, shard: str, timeout_s: float = 120) -> list[psutil.Process]:
    """The local task processes (submitit's controller and the renderer under it), once they run."""
    jobs = workdir / "output" / "work" / "logs" / "submitit" / shard / "jobs.jsonl"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if jobs.exists() and jobs.read_text().strip():
            pids = [int(j["job_id"]) for j in json.loads(jobs.read_text().splitlines()[-1])["jobs"]]
            tree = []
            for pid in pids:
                try:
                    root = psutil.Process(pid)
                    tree += [root, *root.children(recursive=True)]
                except psutil.NoSuchProcess:
                    pass
            if len(tree) > len(pids):  # the renderer has started under its controller
                return tree
        time.sleep(0.2)
    pytest.fail(f"no local render task started within {timeout_s} s")


def wait_gone(tree: list[psutil.Process], timeout_s: float = 30) -> list[psutil.Process]:
    _, alive = psutil.wait_procs(tree, timeout=timeout_s)
    return [p for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


@pytest.mark.slow
def test_sigkilled_render_step_takes_its_local_tasks_down(run_copy):
    proc, shard, log = start_render(run_copy)
    tree = task_tree(run_copy, shard)
    time.sleep(1.0)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert wait_gone(tree) == [], "render tasks outlived the render step"
    deadline = time.monotonic() + 120  # a guard against a hang: the loop ends as soon as the line is there
    while "died without finishing" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.2)
    text = log.read_text()
    assert (
        f"synthact render-shard: error: shard {shard}: the render step (pid {proc.pid}) died without finishing" in text
    )
    assert "its tasks were stopped: killed" in text and "a rerun resumes" in text


@pytest.mark.slow
def test_sigterm_cancels_the_tasks_and_logs_the_reason(run_copy):
    proc, shard, log = start_render(run_copy)
    tree = task_tree(run_copy, shard)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 1
    assert wait_gone(tree, 10) == []
    text = log.read_text()
    assert (
        f"synthact render-shard: error: shard {shard}: the render step got SIGTERM and stopped its tasks (killed"
        in text
    )
    assert "Traceback" not in text
