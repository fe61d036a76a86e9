"""The scene's input folders are checked when the run starts, with the key and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from synthact.config import ConfigError, validate_config
from synthact.preflight import PreflightError
from synthact.run_inputs import check_run_inputs
from tests.helpers import tiny_config


def test_missing_hdri_and_background_folders_are_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = tiny_config()
    config["randomize"] = {"hdri_dir": str(tmp_path / "hdris"), "backgrounds_dir": str(tmp_path / "rooms")}
    with pytest.raises(PreflightError) as caught:
        check_run_inputs(validate_config(config), "my.yaml")
    assert str(caught.value).splitlines()[1:] == [
        f"  randomize.hdri_dir: {tmp_path / 'hdris'} does not exist: give a folder of .exr/.hdr environment maps",
        f"  randomize.backgrounds_dir: {tmp_path / 'rooms'} does not exist: give a folder of background pictures",
    ]
    (tmp_path / "hdris").mkdir()
    (tmp_path / "rooms").mkdir()
    check_run_inputs(validate_config(config), "my.yaml")


def test_the_scene_keys_are_in_the_schema() -> None:
    randomize = validate_config(tiny_config())["randomize"]
    assert (randomize["ground"], randomize["supports"], randomize["hdri_dir"], randomize["backgrounds_dir"]) == (
        "environment",
        True,
        "",
        "",
    )
    with pytest.raises(ConfigError, match=r"randomize\.ground"):
        validate_config({**tiny_config(), "randomize": {"ground": "lava"}})
