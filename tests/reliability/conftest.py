"""One tiny finished run, made once; tests work on copies of it (mtimes and .snakemake/ kept)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.helpers import built_once
from tests.reliability.helpers import make_run, ok, snakemake, tiny_config


def small_config() -> dict:
    """The suite's run: one demo sequence, one view, 64x48 at 1 sample (TINY's other keys)."""
    return tiny_config(
        demo={"sequences": 1},
        rig={"views": [{"name": "front", "azimuth_deg": 0}]},
        render={"width": 64, "height": 48, "samples": 1},
    )


def build_small(workdir: Path) -> None:
    ok(snakemake(make_run(workdir, small_config())))


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """The small run, built once for the whole session (all pytest-xdist workers): read only."""
    return built_once(tmp_path_factory, worker_id, "reliability-run", build_small)


@pytest.fixture
def run_copy(finished_run, tmp_path) -> Path:
    dest = tmp_path / "run"
    shutil.copytree(finished_run, dest, symlinks=True)
    return dest
