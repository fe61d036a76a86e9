"""envs/*.yaml (for --sdm conda) pin exactly what pyproject.toml pins."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[2]
ENV_FILES = sorted((REPO / "envs").glob("*.yaml"))


def normalised(requirement: str) -> tuple[str, str]:
    parsed = Requirement(requirement)
    return parsed.name.lower().replace("_", "-"), str(parsed.specifier)


def pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def test_there_are_env_files():
    assert ENV_FILES, "no envs/*.yaml"


@pytest.mark.parametrize("path", ENV_FILES, ids=lambda p: p.name)
def test_env_file_parses_and_pins_equal_pyproject(path):
    env = yaml.safe_load(path.read_text())
    assert set(env) >= {"name", "channels", "dependencies"}
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip_lists = [d["pip"] for d in env["dependencies"] if isinstance(d, dict)]
    assert len(pip_lists) == 1 and "pip" in conda
    python = [d for d in conda if d.startswith("python")]
    requires = pyproject()["project"]["requires-python"]  # "==3.11.*"
    assert python == [f"python={requires.removeprefix('==').removesuffix('.*')}"]
    pins = dict(normalised(r) for r in pip_lists[0] if not r.startswith("-"))
    wanted = dict(normalised(r) for r in pyproject()["project"]["dependencies"])
    assert pins == wanted
