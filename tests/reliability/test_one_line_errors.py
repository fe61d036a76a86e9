"""Errors a user meets outside the inputs, each as one line naming the key or file and the fix.

- ``sbatch`` against a Slurm controller that does not answer: a real ``sbatch``, pointed by
  ``SLURM_CONF`` at a configuration whose controller listens nowhere (no cluster is used,
  so these tests are not marked ``slurm``);
- ``render.device: CUDA`` on a machine without a GPU: the real Cycles probe.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from synthact.config import validate_config
from synthact.config_sections import DispatchSection
from synthact.dispatch.submit import RenderFailed, make_executor, submit_tasks
from synthact.preflight import PreflightError, probe_device
from synthact.render.worker import ViewTask
from tests.reliability.helpers import synthact
from tests.reliability.test_disk_full import can_mount

DEAD_CONTROLLER = """\
ClusterName=unreachable
GresTypes=gpu
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=1
MessageTimeout=2
NodeName=localhost CPUs=1 State=UNKNOWN
PartitionName=gpu Nodes=localhost Default=YES
"""
SYSTEM_SLURM_CONF = "/etc/slurm/slurm.conf"
SLURM_DISPATCH = {"cluster": "slurm", "partition": "gpu", "gpus_per_task": 1, "cpus_per_task": 1, "mem_gb": 1}

needs_sbatch = pytest.mark.skipif(shutil.which("sbatch") is None, reason="needs Slurm's sbatch client")


@pytest.fixture
def dead_controller(tmp_path, monkeypatch) -> Path:
    conf = tmp_path / "slurm.conf"
    conf.write_text(DEAD_CONTROLLER)
    monkeypatch.setenv("SLURM_CONF", str(conf))
    return conf


def expected_sbatch_line(shard: str) -> str:
    return (
        f"shard {shard}: sbatch refused the render tasks: Batch job submission failed: Unable to contact slurm "
        "controller (connect failure); nothing was submitted. Check that Slurm answers (sinfo) and that "
        "dispatch.partition and dispatch.slurm_extra suit it, then rerun"
    )


@needs_sbatch
def test_an_unreachable_slurm_controller_is_one_line(tmp_path, dead_controller, capsys):
    dispatch = DispatchSection.from_mapping(validate_config({"dispatch": SLURM_DISPATCH})["dispatch"])
    executor = make_executor(dispatch, tmp_path / "logs", threads=1)
    task = ViewTask(shard_plan="plan.json", view="front", cache_root=str(tmp_path), resolved_config="{}", threads=1)
    with pytest.raises(RenderFailed) as caught:  # before: submitit's FailedJobError, 9 frames of traceback
        submit_tasks(executor, [task], "shard-00000", "slurm")
    assert str(caught.value) == expected_sbatch_line("shard-00000")
    assert capsys.readouterr().err == ""  # sbatch's own line is in the message, not printed beside it


@needs_sbatch
@pytest.mark.skipif(
    not can_mount() or not Path(SYSTEM_SLURM_CONF).exists(), reason="needs root, unshare and Slurm's system config"
)
@pytest.mark.slow  # uses the suite's finished run (one tiny workflow run per session)
def test_render_shard_against_an_unreachable_controller_prints_one_line(run_copy, dead_controller):
    """Through the CLI, as a user meets it.

    The render step clears ``SLURM_*`` variables before it submits (submitit's ``clean_env``),
    ``SLURM_CONF`` too, so the dead configuration is bind-mounted over the system's one in a
    private mount namespace instead: nothing outside this command sees it, and no job can
    reach the shared cluster.
    """
    shard = min(p.stem for p in (run_copy / "output" / "work" / "plan" / "shards").glob("*.json"))
    system_conf = Path(os.path.realpath(SYSTEM_SLURM_CONF))
    script = f'mount --bind {dead_controller} {system_conf} && exec "$@"'
    command = [
        "render-shard",
        "--config",
        "config.yaml",
        "--shard",
        shard,
        "--dispatch-json",
        json.dumps(SLURM_DISPATCH),
    ]
    result = synthact(run_copy, *command, prefix=("unshare", "-m", "sh", "-c", script, "sh"))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [f"synthact render-shard: error: {expected_sbatch_line(shard)}"]


@pytest.mark.skipif(shutil.which("nvidia-smi") is not None, reason="this machine has an NVIDIA GPU")
def test_cuda_without_a_gpu_is_refused_naming_the_key_and_the_fix():
    with pytest.raises(PreflightError) as caught:  # before: a Cycles warning line was taken as a device name
        probe_device("CUDA")
    assert str(caught.value) == (
        "render.device CUDA: Cycles finds no CUDA device here (driver or GPU missing?); "
        "set render.device: CPU or run where the GPU is"
    )


def test_cpu_needs_no_probe():
    assert probe_device("CPU") == ["CPU"]
