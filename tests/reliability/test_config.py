"""Config mistakes found at config time, in short messages of ours."""

from __future__ import annotations

import pytest

from synthact.config import validate_config
from synthact.errors import ConfigError
from synthact.preflight import bundled_hdris
from tests.reliability.helpers import make_run, snakemake, tiny_config


def test_nested_command_line_values_are_coerced_to_the_schema_types():
    # What Snakemake hands over for --config 'dispatch={"cluster": "slurm", "cpus_per_task": 1}'.
    config = {
        "dispatch": {"cluster": "slurm", "cpus_per_task": "1", "mem_gb": "2.5"},
        "render": {"denoise": "true"},
    }
    validate_config(config)
    assert config["dispatch"]["cpus_per_task"] == 1 and config["dispatch"]["mem_gb"] == 2.5
    assert config["render"]["denoise"] is True
    with pytest.raises(ConfigError, match=r"dispatch.cpus_per_task: 'one' is not of type 'integer'"):
        validate_config({"dispatch": {"cpus_per_task": "one"}})


@pytest.mark.slow  # a real snakemake dry-run (about 12 s)
def test_nested_dispatch_override_passes_the_real_dry_run(tmp_path):
    workdir = make_run(tmp_path, tiny_config())
    # cluster: local, so the run-input check does not demand Slurm's commands on a machine without Slurm.
    result = snakemake(workdir, "-n", "--config", 'dispatch={"cluster": "local", "cpus_per_task": 1}')
    assert result.returncode == 0, result.stderr[-3000:]
    assert "is not of type" not in result.stdout + result.stderr


@pytest.mark.slow  # a real snakemake dry-run (about 12 s)
def test_unknown_top_level_key_is_one_short_message(tmp_path):
    config = tiny_config()
    config["randomise"] = {"hdris": []}
    workdir = make_run(tmp_path, config)
    result = snakemake(workdir, "-n")
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "unknown top-level key: 'randomise' (did you mean 'randomize'?)" in output
    assert len(output.splitlines()) < 15, output  # not the ~950-line schema
    assert "additionalProperties" not in output and "properties:" not in output
    with pytest.raises(ConfigError, match="unknown top-level key: 'randomise'"):
        validate_config(dict(config))


@pytest.mark.skipif(bundled_hdris() is None, reason="bpy is not installed")
@pytest.mark.slow  # a real snakemake dry-run (about 12 s)
def test_unknown_hdri_fails_the_dry_run(tmp_path):
    known = bundled_hdris()
    workdir = make_run(tmp_path, tiny_config(randomize={"hdris": [known[0], "sunset_beach"]}))
    result = snakemake(workdir, "-n")
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "randomize.hdris: ['sunset_beach'] are not bundled HDRIs" in output
    assert known[0] in output  # the available names are listed
    ok_run = snakemake(make_run(tmp_path / "ok", tiny_config(randomize={"hdris": known[:1]})), "-n")
    assert ok_run.returncode == 0, ok_run.stderr[-2000:]


def test_resolution_against_the_preset_is_a_warning_at_config_time(capsys):
    validate_config({"preset": "ntu", "render": {"width": 640, "height": 480}})
    err = capsys.readouterr().err
    assert (
        "synthact: warning: render.width x render.height 640x480 (aspect 1.333) does not match preset ntu's 640x360"
        in err
    )
    validate_config({"preset": "ntu", "render": {"width": 1920, "height": 1080}})  # same aspect: quiet
    validate_config({"preset": "none", "render": {"width": 640, "height": 480}})
    assert capsys.readouterr().err == ""


def test_device_is_probed_when_asked():
    from synthact.preflight import PreflightError, probe_device

    assert probe_device("CPU") == ["CPU"]
    try:
        names = probe_device("CUDA")
    except PreflightError as exc:  # no GPU here: the message names the key and the way out
        assert ("render.device CUDA" in str(exc) and "render.device: CPU" in str(exc)) or "does not support" in str(exc)
    else:
        assert names
