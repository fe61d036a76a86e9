"""One tiny finished run, made once; tests work on copies of it (mtimes and .snakemake/ kept)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.reliability.helpers import make_run, ok, snakemake, tiny


def small_config() -> dict:
    """The suite's run: one demo sequence, one view, 64x48 at 1 sample (TINY's other keys)."""
    return tiny(
        demo={"sequences": 1},
        rig={"views": [{"name": "front", "azimuth_deg": 0}]},
        render={"width": 64, "height": 48, "samples": 1},
    )


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory) -> Path:
    workdir = make_run(tmp_path_factory.mktemp("finished"), small_config())
    ok(snakemake(workdir))
    return workdir


@pytest.fixture
def run_copy(finished_run, tmp_path) -> Path:
    dest = tmp_path / "run"
    shutil.copytree(finished_run, dest, symlinks=True)
    return dest
