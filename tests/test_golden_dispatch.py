"""Golden tests of the pure builders around dispatch, in the manner of
submitit's own test of ``_make_sbatch_string``: the text they produce is
compared line by line with a file recorded under tests/golden/.

- the sbatch file that submitit writes for a shard's render job array, with
  the executor that ``make_executor`` builds from the Slurm profile's settings;
- the executor settings (submitit's parameters, requeues) for the Slurm and the
  local profile;
- the text of ``rerun_command``.

Any change to the profiles, config.yaml's dispatch section, the schema's
dispatch defaults, ``make_executor`` or the submitit version shows up here as
a diff. When it is intended, rerun with SYNTHACT_UPDATE_GOLDEN=1 and commit
the new files.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import submitit
import yaml
from snakemake.cli import parse_config
from snakemake.utils import update_config
from submitit.slurm.slurm import _make_sbatch_string

from synthact.config import validate_config
from synthact.config_sections import RunConfig
from synthact.dispatch.submit import make_executor, threads_per_task
from synthact.shards.status import ShardStatus, rerun_command
from tests.helpers import REPO, assert_matches_golden

SHARD = "train-00000-of-00003"
JOB_THREADS = 8  # the render job's cores on an 8-core machine (Snakemake's {threads})


def profile_config(profile: str, output_dir: Path | str) -> dict[str, Any]:
    """The config the workflow runs with under ``--profile profiles/<profile>``.

    config.yaml, then the profile's ``config:`` entries merged in as Snakemake
    merges ``--config`` (its own parser and update_config), then validated with
    the schema's defaults. ``output_dir`` is set so that paths are known.
    """
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    profile_settings = yaml.safe_load((REPO / "profiles" / profile / "config.yaml").read_text())
    update_config(config, parse_config(profile_settings.get("config", [])))
    config["output_dir"] = str(output_dir)
    return validate_config(config, source=f"profiles/{profile}")


def executor_settings(executor: submitit.AutoExecutor, output_dir: Path) -> str:
    """What the backend executor will use, as stable JSON text (paths relative to the run)."""
    inner = executor._executor
    settings = {
        "executor": type(inner).__name__,
        "folder": str(inner.folder).replace(str(output_dir), "<output_dir>"),
        "max_num_timeout": inner.max_num_timeout,
        "parameters": inner.parameters,
    }
    return json.dumps(settings, indent=2, sort_keys=True) + "\n"


@pytest.fixture
def srun_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """submitit's SlurmExecutor refuses to start unless ``srun`` is on PATH.

    Where no Slurm is installed, a stand-in ``srun`` answers that check only:
    nothing here submits or runs a job, and the sbatch text comes from
    submitit's own code.
    """
    if shutil.which("srun"):
        return
    stand_in = tmp_path / "bin" / "srun"
    stand_in.parent.mkdir()
    stand_in.write_text("#!/bin/sh\necho 'stand-in srun for a golden test; it runs nothing' >&2\nexit 1\n")
    stand_in.chmod(0o755)
    monkeypatch.setenv("PATH", f"{stand_in.parent}:{os.environ['PATH']}")


def slurm_executor(tmp_path: Path) -> tuple[dict[str, Any], submitit.AutoExecutor, Path]:
    output_dir = tmp_path / "run"
    config = profile_config("slurm", output_dir)
    views = len(config["rig"]["views"])
    run = RunConfig.from_dict(config)
    threads = threads_per_task(run.render, run.dispatch, job_threads=1, num_views=views)  # the rule asks 1 under Slurm
    executor = make_executor(run.dispatch, run.paths.dispatch_logs(SHARD), threads)
    return config, executor, output_dir


def test_slurm_profile_sbatch_file(tmp_path, srun_on_path):
    """The sbatch file submitit writes for one shard's job array (one task per view)."""
    config, executor, output_dir = slurm_executor(tmp_path)
    inner = executor._executor
    assert isinstance(inner, submitit.SlurmExecutor)
    # What SlurmExecutor._internal_process_submissions writes for an array of one task per view.
    text = _make_sbatch_string(
        command=inner._submitit_command_str,
        folder=inner.folder,
        map_count=len(config["rig"]["views"]),
        **inner.parameters,
    )
    text = text.replace(shlex.quote(sys.executable), "<python>").replace(str(output_dir), "<output_dir>")
    assert_matches_golden("slurm_render_array.sbatch", text)


def test_slurm_profile_executor_settings(tmp_path, srun_on_path):
    _, executor, output_dir = slurm_executor(tmp_path)
    assert_matches_golden("slurm_executor.json", executor_settings(executor, output_dir))


def test_local_profile_executor_settings(tmp_path):
    output_dir = tmp_path / "run"
    config = profile_config("local", output_dir)
    run = RunConfig.from_dict(config)
    threads = threads_per_task(run.render, run.dispatch, JOB_THREADS, len(run.rig.views))
    executor = make_executor(run.dispatch, run.paths.dispatch_logs(SHARD), threads)
    assert isinstance(executor._executor, submitit.LocalExecutor)
    assert_matches_golden("local_executor.json", executor_settings(executor, output_dir))


def _statuses() -> list[ShardStatus]:
    states = ["done", "failed", "partial", "missing", "stale", "merging", "corrupt"]
    return [ShardStatus(f"train-{i:05d}-of-{len(states):05d}", state, i, 8) for i, state in enumerate(states)]


def test_rerun_command_text():
    paths = RunConfig.from_dict(profile_config("slurm", "output")).paths
    cases = {
        "slurm profile, the default config": rerun_command(paths, _statuses(), ["--profile", "slurm"], None),
        "a local run, a config file of one's own": rerun_command(
            paths, _statuses(), ["--cores", "all"], "runs/ntu.yaml"
        ),
        "started outside the repository": rerun_command(
            paths, _statuses(), ["--cores", "all", "--snakefile", "../synthact/workflow/Snakefile"], "my.yaml"
        ),
        "every shard done": rerun_command(
            paths, [s for s in _statuses() if s.state == "done"], ["--profile", "slurm"], "a.yaml"
        ),
    }
    assert cases["every shard done"] == ""
    text = "".join(f"# {case}\n{command or '(no command: nothing to rerun)'}\n" for case, command in cases.items())
    assert_matches_golden("rerun_command.txt", text)
