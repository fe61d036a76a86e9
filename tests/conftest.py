"""Fixtures shared by the whole test suite.

Plain helpers (running the workflow, building clips and rigs, golden files)
live in tests/helpers.py; fixtures live here or in a plugin module registered
below, so that no test module imports another test module.
"""

from __future__ import annotations

from pathlib import Path

import pytest

# The real single-node Slurm cluster (fixture ``slurm_cluster``), one per session.
pytest_plugins = ("tests.slurm_fixture",)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Groups for ``pytest -n N --dist loadgroup`` (make test-fast; TEST_WORKERS=2 make test):
    every test that uses the one Slurm cluster runs on one worker, and each other module stays
    on one worker, so its module fixtures (a rendered run) are built once."""
    for item in items:
        group = "slurm" if "slurm_cluster" in getattr(item, "fixturenames", ()) else item.nodeid.split("::")[0]
        item.add_marker(pytest.mark.xdist_group(group))


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
