"""Mistakes caught before any work, in one message of ours: missing inputs, body models, the Slurm
client, command-line values, an empty take table, and errors whose detail spans several lines."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from synthact.cli import main
from synthact.config import ConfigError, validate_config
from synthact.preflight import PreflightError
from synthact.run_inputs import SLURM_COMMANDS, check_run_inputs, slurm_problems
from tests.reliability.helpers import BIN, make_run, snakemake, tiny_config


def user_config(root: Path, **motion) -> dict:
    """A config of the user's own: the demo off, every input where ``motion`` says."""
    return validate_config(
        {
            "demo": {"enabled": False},
            "output_dir": str(root / "output"),
            "clips": {"on_bad_input": "lenient"},
            "motion": motion,
        }
    )


def without_slurm(folder: Path) -> Path:
    """A PATH folder with this machine's commands except Slurm's: a machine where Slurm is not installed."""
    folder.mkdir()
    for command in Path("/usr/bin").iterdir():
        if command.name not in {*SLURM_COMMANDS, "sinfo", "scancel", "salloc"}:
            (folder / command.name).symlink_to(command)
    return folder


def test_every_missing_input_is_named_in_one_message(tmp_path):
    babel = tmp_path / "babel"
    babel.mkdir()
    (babel / "train.json").write_text("{}")
    config = user_config(
        tmp_path,
        amass_root=str(tmp_path / "amass"),
        babel_dir=str(babel),
        babel_files=["train.json", "val.json"],
        body_model_dir=str(tmp_path / "models"),
    )
    with pytest.raises(PreflightError) as caught:
        check_run_inputs(config, "my.yaml")
    assert str(caught.value).splitlines() == [
        "my.yaml: this run cannot start:",
        f"  motion.amass_root: {tmp_path / 'amass'} does not exist: give your AMASS download's root folder",
        f"  motion.babel_files: ['val.json'] not in {babel} (it has ['train.json']): list the BABEL files you have",
        f"  motion.body_model_dir: {tmp_path / 'models'} does not exist: give the folder of the SMPL-H models"
        " (female, male)",
    ]


def test_body_models_are_checked_by_the_genders_the_source_poses(tmp_path, demo_body_model_dir):
    models = tmp_path / "models"
    (models / "smplh").mkdir(parents=True)
    shutil.copy(demo_body_model_dir / "smplh" / "SMPLH_NEUTRAL.npz", models / "smplh")
    (tmp_path / "amass").mkdir()
    shutil.copytree(tmp_path / "amass", tmp_path / "babel")
    for name in ("train.json", "val.json"):
        (tmp_path / "babel" / name).write_text("{}")
    amass = user_config(
        tmp_path, amass_root=str(tmp_path / "amass"), babel_dir=str(tmp_path / "babel"), body_model_dir=str(models)
    )
    with pytest.raises(PreflightError) as caught:
        check_run_inputs(amass, "my.yaml")
    message = str(caught.value)
    assert "no SMPL-H model for gender 'female'" in message and "no SMPL-H model for gender 'male'" in message
    assert "This folder has: neutral" in message
    fitted = user_config(tmp_path, source="ntu", skeleton_dir=str(tmp_path / "amass"), body_model_dir=str(models))
    check_run_inputs(fitted, "my.yaml")  # fitting poses the neutral model only


def test_inputs_the_demo_generates_are_not_demanded_before_they_exist(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the config's relative paths, as in the workflow's directory
    config = validate_config(tiny_config())
    assert not Path(config["motion"]["amass_root"]).exists()
    check_run_inputs(config, "config.yaml")


def test_the_slurm_client_is_checked_only_for_slurm_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(without_slurm(tmp_path / "bin")))
    assert slurm_problems(validate_config({"dispatch": {"cluster": "local"}})) == []
    assert slurm_problems(validate_config({"dispatch": {"cluster": "slurm"}})) == [
        "dispatch.cluster: slurm, but sbatch, srun, squeue, sacct, scontrol are not on PATH:"
        " run on a Slurm submit host, or set dispatch.cluster: local"
    ]


@pytest.mark.skipif(shutil.which("sbatch") is None, reason="Slurm's client is not installed here")
def test_an_installed_slurm_client_passes():
    assert slurm_problems(validate_config({"dispatch": {"cluster": "slurm"}})) == []


@pytest.mark.slow  # a real snakemake dry-run
def test_a_dry_run_names_every_missing_input_and_the_missing_slurm_client(tmp_path):
    config = tiny_config(demo={"enabled": False}, dispatch={"cluster": "slurm"}, clips={"on_bad_input": "lenient"})
    config["motion"] = {"amass_root": "/data/amass", "babel_dir": "/data/babel", "body_model_dir": "/data/models"}
    workdir = make_run(tmp_path / "run", config)
    bin_dir = without_slurm(tmp_path / "bin")
    result = snakemake(workdir, "-n", prefix=("env", f"PATH={BIN}:{bin_dir}"))
    output = result.stdout + result.stderr
    assert result.returncode == 1 and "Traceback" not in output
    for line in (
        "motion.amass_root: /data/amass does not exist: give your AMASS download's root folder",
        "motion.babel_dir: /data/babel does not exist",
        "motion.body_model_dir: /data/models does not exist",
        "dispatch.cluster: slurm, but sbatch, srun, squeue, sacct, scontrol are not on PATH",
    ):
        assert line in output, output
    assert len(output.splitlines()) < 12, output
    assert not (workdir / "output").exists()  # nothing was started


@pytest.mark.slow  # a real snakemake run of demo_data, index and plan
def test_an_empty_take_table_says_why_in_one_line_with_the_log(tmp_path):
    demo = make_run(tmp_path / "demo", tiny_config())
    snakemake(demo, "data/synthact-demo.json")
    (tmp_path / "amass").mkdir()  # there, but not the download the labels name
    config = tiny_config(demo={"enabled": False}, clips={"on_bad_input": "lenient"})
    config["motion"] = {
        "amass_root": str(tmp_path / "amass"),
        "babel_dir": str(demo / "data" / "babel"),
        "body_model_dir": str(demo / "data" / "body_models"),
    }
    workdir = make_run(tmp_path / "run", config)
    result = snakemake(workdir)
    output = result.stdout + result.stderr
    assert result.returncode == 1 and "Traceback" not in output
    report = workdir / "output" / "work" / "index" / "report.json"
    skipped = len(json.loads(report.read_text())["skipped"])
    (line,) = [ln for ln in output.splitlines() if ln.startswith("synthact plan: error:")]
    assert line == (
        "synthact plan: error: output/work/index/takes.jsonl: the take table is empty: the index read 0 labelled"
        f" sequences from 0 motion files under {tmp_path / 'amass'} (BABEL files ['train.json', 'val.json'] in"
        f" {demo / 'data' / 'babel'}), and skipped {skipped} inputs (on_bad_input: lenient):"
        f" {skipped} x motion file not found under {tmp_path / 'amass'};"
        " each is listed in output/work/index/report.json"
    )
    assert "output/work/logs/plan.log" in output and line in (workdir / "output/work/logs/plan.log").read_text()
    assert '"clips"' not in output  # the failed command names a config file, not the whole config


@pytest.mark.slow  # real snakemake dry-runs
def test_command_line_values_are_coerced_or_refused_naming_the_key(tmp_path):
    workdir = make_run(tmp_path, tiny_config())
    for good in ("render={width: 128}", "seed=1e3", "output_dir=2024", "render={denoise: yes}"):
        result = snakemake(workdir, "-n", "--config", good)
        assert result.returncode == 0, (good, result.stderr[-2000:])
    result = snakemake(workdir, "-n", "--config", "render={width: 12x}")
    output = result.stdout + result.stderr
    assert result.returncode == 1 and "render.width: '12x' is not of type 'integer'" in output
    assert "Traceback" not in output and len(output.splitlines()) < 10, output


def test_values_snakemake_parsed_as_numbers_take_the_schema_type():
    config = validate_config({"seed": 1000.0, "output_dir": 2024, "render": {"width": "128", "samples": "4.0"}})
    assert (config["seed"], config["output_dir"], config["render"]["width"], config["render"]["samples"]) == (
        1000,
        "2024",
        128,
        4,
    )
    for bad, key in (({"seed": 1.5}, "seed: 1.5"), ({"render": {"width": True}}, "render.width: True")):
        with pytest.raises(ConfigError, match=key):
            validate_config(bad)


def test_a_multi_line_error_reaches_the_user_whole(tmp_path, capsys):
    (tmp_path / "CMU").mkdir()  # an AMASS root without the files the password needs
    assert main(["amarv-password", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("synthact amarv-password: error: 19 of the 19 AMASS files")
    assert "CMU/CMU/01/01_01_poses.npz" in err and "download the SMPL+H release of subset 'CMU'" in err
    assert "Traceback" not in err


def test_other_os_errors_stay_one_line_naming_the_file(tmp_path, capsys):
    (tmp_path / "manifest.json").mkdir()  # an OSError of the system's, not one of ours
    assert main(["verify", str(tmp_path)]) == 1
    assert capsys.readouterr().err == f"synthact verify: error: {tmp_path / 'manifest.json'}: Is a directory\n"
