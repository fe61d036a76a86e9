"""Fixtures shared by the whole test suite.

Plain helpers (running the workflow, building clips and rigs, golden files)
live in tests/helpers.py; fixtures live here or in a plugin module registered
below, so that no test module imports another test module.

The tiny run. ``tiny_run`` is the workflow run of .test/config_tiny/config.yaml
(its first train sequence walked 7 m further), built once per session: demo inputs,
Blender renders, shards, clip tables, manifest, and the .snakemake/ metadata. Tests
only read it. A test that reruns, deletes, damages or reconfigures anything asks for
``tiny_run_copy`` instead: a fresh copy in its own tmp_path, mtimes and metadata
kept, so Snakemake sees it as finished. For example::

    @pytest.mark.slow
    def test_relabelling(tiny_run_copy):
        make_run(tiny_run_copy, tiny_config(labels={"chunk_seconds": 2.0}))
        snakemake(tiny_run_copy)

A test that needs another config builds its own run from ``tiny_config(...)``
(tests/helpers.py), with the few keys it changes spelled out. Under pytest-xdist
the workers share the one build (a lock, a finished marker).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.helpers import build_tiny, built_once

# The real single-node Slurm cluster (fixture ``slurm_cluster``), one per session.
pytest_plugins = ("tests.slurm_fixture",)


def uses_slurm(item: pytest.Item) -> bool:
    return "slurm_cluster" in getattr(item, "fixturenames", ())


def xdist_group(item: pytest.Item) -> str:
    """One group for the tests that use the Slurm cluster, one for the other ``slow`` tests,
    one per module for the rest. The slow tests render or run Snakemake with 2 cores each:
    one group runs them one after another on one worker, so no two local workflows share
    the machine (two side by side once stalled for an hour on 2 cores), and the session's
    and modules' runs are built once. The Slurm tests mostly wait on the scheduler, and the
    fast ones fill the other worker around them.

    The markers must be in place before pytest-xdist reads them (its own hook writes the
    ``@group`` suffix that loadgroup schedules by), hence ``tryfirst`` below; and pytest must
    stay below 9, whose node ids ignore that suffix (pyproject.toml).
    """
    if uses_slurm(item):
        return "slurm"
    return "slow" if item.get_closest_marker("slow") else item.nodeid.split("::")[0]


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Order and groups for ``pytest -n N --dist loadgroup --no-loadscope-reorder``
    (make test, make test-fast): the Slurm tests first, then the slow ones, then the rest.

    Slurm first also helps without workers: while no Slurm controller answers, every
    Snakemake start waits about 9 s (its Slurm plugin asks ``scontrol show config`` for a
    default, and scontrol retries until MessageTimeout), even a local run or a dry run. Once
    the session has started the cluster, Snakemake starts at once.
    """
    rank = {"slurm": 0, "slow": 1}
    items.sort(key=lambda item: rank.get(xdist_group(item), 2))  # stable: otherwise in collection order
    for item in items:
        item.add_marker(pytest.mark.xdist_group(xdist_group(item)))


@pytest.fixture(scope="session")
def demo_body_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The built-in licence-free SMPL-H model files (all genders), written once per session."""
    from synthact.demo.body_model import write_demo_body_models

    folder = tmp_path_factory.mktemp("demo_body_models")
    write_demo_body_models(folder)
    return folder


@pytest.fixture(scope="session")
def demo_neutral_arrays(demo_body_model_dir: Path) -> dict:
    """The neutral demo model's arrays (``build_demo_body_models()["neutral"]``), read from the
    session's files instead of generated again (a few seconds each time)."""
    import numpy as np

    with np.load(demo_body_model_dir / "smplh" / "SMPLH_NEUTRAL.npz") as data:
        return {k: data[k] for k in data.files}


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """The tiny config's finished run, built once for the whole session (all workers): read only."""
    return built_once(tmp_path_factory, worker_id, "tiny-run", build_tiny)


@pytest.fixture
def tiny_run_copy(tiny_run: Path, tmp_path: Path) -> Path:
    """A copy of the tiny run for one test to change: mtimes and .snakemake/ kept, so it is finished."""
    dest = tmp_path / "tiny"
    shutil.copytree(tiny_run, dest, symlinks=True)
    return dest
