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


@pytest.fixture(scope="session")
def demo_body_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The built-in licence-free SMPL-H model files (all genders), written once per session."""
    from synthact.demo.body_model import write_demo_body_models

    folder = tmp_path_factory.mktemp("demo_body_models")
    write_demo_body_models(folder)
    return folder
