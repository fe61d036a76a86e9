"""Helpers shared by several test modules: running the workflow and comparing
text with a recorded golden file (takes and rigs: tests/fixtures/takes.py).

A plain module, not a test module: tests import from here (or use the fixtures
in conftest.py) and never from one another, so moving or deleting one test
module cannot break another.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SNAKEFILE = REPO / "workflow" / "Snakefile"
BIN = Path(sys.executable).parent
GOLDEN_DIR = Path(__file__).resolve().parent / "golden"
UPDATE_GOLDEN = "SYNTHACT_UPDATE_GOLDEN"  # set to 1 to rewrite the recorded files

TINY_CONFIG = REPO / ".test" / "config_tiny" / "config.yaml"


def tiny_config(**sections: Any) -> dict[str, Any]:
    """A fresh copy of the tiny run's config (.test/config_tiny/config.yaml), with SECTIONS
    set on top: a dict merges into that section key by key, any other value replaces it."""
    config: dict[str, Any] = yaml.safe_load(TINY_CONFIG.read_text())
    for key, values in sections.items():
        config[key] = dict(config.get(key, {}), **values) if isinstance(values, dict) else values
    return config


# The tiny config as loaded; copy it (tiny_config()) rather than change it.
TINY = tiny_config()


# --------------------------------------------------------------------------- the workflow


def run_bounded(command: list[str], timeout: float, **kwargs) -> subprocess.CompletedProcess:
    """``subprocess.run(command, capture_output=True, text=True)`` that cannot hang past ``timeout``.

    The command runs in its own session and, at the timeout, its whole process
    group is killed: with plain ``subprocess.run`` a grandchild (a render task
    of snakemake) keeps the output pipes open and the wait never ends.
    Output goes through files for the same reason. Raises AssertionError
    with the output's tail at the timeout.
    """
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        child = subprocess.Popen(command, stdout=out, stderr=err, text=True, start_new_session=True, **kwargs)
        code = None
        try:
            code = child.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
        finally:  # also when pytest-timeout interrupts the wait: nothing may outlive the test
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)  # what is left of the group: the command's children
            child.wait()
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if code is None:
        raise AssertionError(f"{' '.join(command[:4])} ... ran past {timeout} s:\n{stdout[-3000:]}\n{stderr[-6000:]}")
    return subprocess.CompletedProcess(command, code, stdout, stderr)


def snakemake(workdir: Path, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    env = {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(workdir), "PYTHONHASHSEED": "0"}
    command = [str(BIN / "snakemake"), "-s", str(SNAKEFILE), "-d", str(workdir), "--cores", "2", *args]
    result = run_bounded(command, timeout, env=env)
    if result.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{result.stdout[-4000:]}\n{result.stderr[-8000:]}")
    return result


@dataclass(frozen=True)
class PlannedJob:
    """One job a dry run would start: its rule and its output files, as Snakemake reports them."""

    rule: str
    outputs: tuple[str, ...]


class _JobInfoRecords(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.jobs: list[PlannedJob] = []

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, "event", None) == "job_info":  # LogEvent.JOB_INFO, a str enum
            outputs = getattr(record, "output", None) or ()
            self.jobs.append(PlannedJob(record.rule_name, tuple(str(o) for o in outputs)))


def dry_run(workdir: Path) -> list[PlannedJob]:
    """The jobs ``snakemake -n`` in WORKDIR (with its config.yaml) would start, from Snakemake's
    API in this process: the same DAG and the same job records as the command's listing, without
    starting Python and importing Snakemake again (a few seconds of CPU each time). A dry run that
    fails raises. Tests of what the command prints (errors, warnings) still run the command."""
    from snakemake.api import SnakemakeApi
    from snakemake.logging import logger
    from snakemake.settings.types import DAGSettings, OutputSettings, ResourceSettings

    records = _JobInfoRecords()
    with SnakemakeApi(OutputSettings()) as api:
        logger.addHandler(records)
        try:
            workflow = api.workflow(ResourceSettings(cores=2), snakefile=SNAKEFILE, workdir=workdir)
            workflow.dag(DAGSettings()).execute_workflow(executor="local", pseudo_executor="dryrun")
        finally:
            logger.removeHandler(records)
    return records.jobs


def make_run(root: Path, config: dict) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "config.yaml").write_text(yaml.safe_dump(config))
    return root


def shard_files(workdir: Path) -> list[Path]:
    return sorted((workdir / "output" / "shards").glob("*.h5"))


WALK_M = 7.0  # metres the tiny run's first train sequence is made to travel


def walk_further(workdir: Path) -> Path:
    """Make the first train sequence travel WALK_M metres more along +X (a take that walks off).

    The demo's short sequences travel up to ~5 m; a following camera has to keep a longer
    walk in frame. Only the translation changes, so the labels stay true.
    """
    babel = json.loads((workdir / "data" / "babel" / "train.json").read_text())
    path = workdir / "data" / "amass" / next(iter(babel.values()))["feat_p"]
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["trans"][:, 0] += np.linspace(0.0, WALK_M, len(arrays["trans"]))
    np.savez(path, **arrays)
    return path


def build_tiny(workdir: Path) -> Path:
    """The tiny run in WORKDIR: the demo inputs, one sequence walked further, then the whole workflow.

    Tests read the session's build (fixture ``tiny_run``); only a test that needs a second,
    independent build calls this.
    """
    make_run(workdir, TINY)
    snakemake(workdir, "data/synthact-demo.json")
    walk_further(workdir)
    snakemake(workdir)
    return workdir


def built_once(factory: pytest.TempPathFactory, worker_id: str, name: str, build: Callable[[Path], object]) -> Path:
    """The folder NAME, made by BUILD once per session: the pytest-xdist workers share it (the
    first builds it, the others wait on a lock), and a build that failed is redone from scratch."""
    base = factory.getbasetemp()
    shared = base if worker_id == "master" else base.parent  # the run's folder, above each worker's
    folder, finished = shared / name, shared / f"{name}.finished"
    with open(shared / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not finished.exists():
            shutil.rmtree(folder, ignore_errors=True)
            build(folder)
            finished.touch()
    return folder


# --------------------------------------------------------------------------- golden files


def assert_matches_golden(name: str, text: str) -> None:
    """Compare ``text`` with the checked-in ``tests/golden/<name>``, line by line.

    A missing file fails too (a golden test that records on first run could
    never fail). After an intended change, rerun with SYNTHACT_UPDATE_GOLDEN=1,
    read the diff, and commit the new file.
    """
    path = GOLDEN_DIR / name
    if os.environ.get(UPDATE_GOLDEN) == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(text)
        os.replace(tmp, path)
    if not path.exists():
        raise AssertionError(f"{path}: no recorded file; record it with {UPDATE_GOLDEN}=1 and check it in")
    recorded = path.read_text()
    if text == recorded:
        return
    new, old = text.splitlines(), recorded.splitlines()
    changes = [f"line {i + 1}: {a!r} -> {b!r}" for i, (a, b) in enumerate(zip(old, new, strict=False)) if a != b]
    if len(new) != len(old):
        changes.append(f"{len(old)} lines recorded, {len(new)} now")
    changes = changes or ["only the line endings or the final newline differ"]
    raise AssertionError(f"{path} differs ({UPDATE_GOLDEN}=1 rewrites it):\n" + "\n".join(changes))
