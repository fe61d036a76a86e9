"""The local single-node Slurm cluster (scripts/slurm-cluster.sh) runs real jobs.

These tests submit to a real slurmctld/slurmd with accounting through slurmdbd, the same
way the workflow does: plain sbatch, job arrays, a GPU GRES, and submitit.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
import submitit

from tests.slurm_fixture import SlurmCluster, run_script

pytestmark = pytest.mark.slurm


def test_cpu_job_completes_in_sacct(slurm_cluster: SlurmCluster, tmp_path: Path) -> None:
    # No -p: the cpu partition must be the default one.
    job = slurm_cluster.sbatch(
        "--job-name=synthact-cpu", "-o", "out.txt", "--wrap", "echo hello from $SLURM_JOB_PARTITION", cwd=tmp_path
    )
    assert slurm_cluster.wait(job) == {str(job): "COMPLETED"}
    assert (tmp_path / "out.txt").read_text().strip() == "hello from cpu"


def test_gpu_job_sees_cuda_visible_devices(slurm_cluster: SlurmCluster, tmp_path: Path) -> None:
    job = slurm_cluster.sbatch(
        "-p",
        "gpu",
        "--gres=gpu:1",
        "-o",
        "out.txt",
        "--wrap",
        'echo "CVD=${CUDA_VISIBLE_DEVICES:-unset}"',
        cwd=tmp_path,
    )
    assert slurm_cluster.wait(job) == {str(job): "COMPLETED"}
    cvd = (tmp_path / "out.txt").read_text().strip().removeprefix("CVD=")
    assert cvd in {"0", "1"}, f"CUDA_VISIBLE_DEVICES={cvd!r}"
    # Accounting records the GPU too.
    tres = slurm_cluster.run("sacct", "-j", str(job), "-X", "-n", "-P", "-o", "AllocTRES")
    assert "gres/gpu=1" in tres


def test_two_task_job_array(slurm_cluster: SlurmCluster, tmp_path: Path) -> None:
    job = slurm_cluster.sbatch(
        "--array=0-1",
        "-o",
        "task_%a.txt",
        "--wrap",
        "echo task $SLURM_ARRAY_TASK_ID of $SLURM_ARRAY_JOB_ID",
        cwd=tmp_path,
    )
    assert slurm_cluster.wait(job, array_tasks=2) == {f"{job}_0": "COMPLETED", f"{job}_1": "COMPLETED"}
    for task in (0, 1):
        assert (tmp_path / f"task_{task}.txt").read_text().strip() == f"task {task} of {job}"


@pytest.mark.parametrize(
    "gpu_request",
    [{"gpus_per_node": 1}, {"slurm_gres": "gpu:1"}],
    ids=["gpus_per_node", "slurm_gres"],
)
def test_submitit_map_array_on_gpu_partition(
    slurm_cluster: SlurmCluster, tmp_path: Path, gpu_request: dict[str, object]
) -> None:
    # Nested, so that cloudpickle ships it by value: the job cannot import this test module.
    def square_and_env(x: int) -> tuple[int, str | None, str | None]:
        import os

        return x * x, os.environ.get("CUDA_VISIBLE_DEVICES"), os.environ.get("SLURM_JOB_PARTITION")

    executor = submitit.AutoExecutor(folder=tmp_path / "submitit", cluster="slurm")
    executor.update_parameters(
        slurm_partition="gpu", timeout_min=5, cpus_per_task=1, mem_gb=1, slurm_array_parallelism=2, **gpu_request
    )
    # A clean environment, as the workflow does: SLURM_* variables inherited from an
    # enclosing job would otherwise leak into the submission.
    with submitit.helpers.clean_env():
        jobs = executor.map_array(square_and_env, [3, 4])
    assert len(jobs) == 2

    deadline = time.monotonic() + 180
    while not all(job.done() for job in jobs):
        if time.monotonic() > deadline:
            for job in jobs:
                job.cancel(check=False)
            pytest.fail(f"submitit jobs not done after 180 s: {[job.state for job in jobs]}")
        time.sleep(0.5)

    results = [job.result() for job in jobs]
    assert [r[0] for r in results] == [9, 16]
    assert all(r[1] in {"0", "1"} for r in results), results
    assert all(r[2] == "gpu" for r in results), results
    array_id = jobs[0].job_id.split("_")[0]
    assert slurm_cluster.wait(int(array_id), array_tasks=2) == {
        f"{array_id}_0": "COMPLETED",
        f"{array_id}_1": "COMPLETED",
    }


DAEMON_PID = re.compile(r"^\s+(\w+)\s+running \(pid (\d+)\)$", re.MULTILINE)


def daemon_pids() -> dict[str, str]:
    """Each daemon's PID, as `slurm-cluster.sh status` lists them."""
    status = run_script("status")
    assert status.returncode == 0, status.stdout + status.stderr
    pids = dict(DAEMON_PID.findall(status.stdout))
    assert len(pids) == 5, status.stdout
    return pids


def test_start_is_idempotent(slurm_cluster: SlurmCluster) -> None:
    # A no-op start restarts nothing: every daemon keeps its process.
    before = daemon_pids()
    proc = run_script("start")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "already running and healthy" in proc.stdout
    assert daemon_pids() == before


def test_start_resumes_a_drained_node(slurm_cluster: SlurmCluster, tmp_path: Path) -> None:
    slurm_cluster.run("scontrol", "update", f"nodename={slurm_cluster.node}", "state=drain", "reason=pytest-drain")
    try:
        assert "DRAIN" in slurm_cluster.node_state()
        assert run_script("status").returncode == 1  # not healthy while drained

        proc = run_script("start")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "resuming it" in proc.stdout
        state = slurm_cluster.node_state()
        assert "DRAIN" not in state and state.split("+")[0] in {"IDLE", "MIXED", "ALLOCATED"}, (
            state + "\n" + slurm_cluster.log_tail("slurmctld")
        )
    finally:
        # Never leave the shared cluster drained for the tests after this one.
        if "DRAIN" in slurm_cluster.node_state():
            slurm_cluster.run("scontrol", "update", f"nodename={slurm_cluster.node}", "state=resume")

    job = slurm_cluster.sbatch("--wrap", "true", cwd=tmp_path)
    assert slurm_cluster.wait(job) == {str(job): "COMPLETED"}
