"""A damaged finished shard is found by `synthact status` and rebuilt alone by a rerun.

Copies, touches and relocations that keep a shard's bytes: test_dataset_safety.py.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from synthact.shards.manifest import sha256_file
from tests.reliability.helpers import flip_byte, jobs_run, ok, snakemake, synthact

REPO = Path(__file__).resolve().parents[2]
PROFILE = REPO / "profiles" / "local"


def shards(workdir: Path) -> list[Path]:
    return sorted((workdir / "output" / "shards").glob("*.h5"))


def status(workdir: Path, *args: str):
    return synthact(workdir, "status", "--config", "config.yaml", "--profile", str(PROFILE), *args)


@pytest.mark.slow  # runs the workflow
def test_status_finds_a_flipped_byte_and_its_printed_command_rebuilds_that_shard_alone(
    run_copy,
):
    damaged, *others = shards(run_copy)
    before = {p.name: sha256_file(p) for p in others}
    good = sha256_file(damaged)
    flip_byte(damaged)
    result = status(run_copy)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "corrupt" in result.stdout and "merge wrote" in result.stdout
    command = result.stdout.split("rerun just these shards with:")[1].strip()
    argv = shlex.split(command)
    relative = str(damaged.relative_to(run_copy))
    assert argv[0] == "snakemake" and argv[argv.index("--forcerun") + 1] == relative
    assert [a for a in argv if a.endswith(".h5")] == [
        relative,
        relative,
    ]  # the damaged one only, twice
    rerun = ok(snakemake(run_copy, *argv[1:]))
    assert jobs_run(rerun) == {"manifest": 1, "merge": 1}, rerun.stderr
    assert sha256_file(damaged) == good  # rebuilt from the render cache: the same bytes
    assert {p.name: sha256_file(p) for p in others} == before
    assert ok(synthact(run_copy, "verify", "output")).returncode == 0
    assert status(run_copy).returncode == 0


@pytest.mark.slow  # runs the workflow
def test_a_plain_rerun_rebuilds_a_damaged_shard(run_copy):
    damaged = shards(run_copy)[0]
    good = sha256_file(damaged)
    flip_byte(damaged)
    rerun = ok(snakemake(run_copy))
    aside = run_copy / "output" / "work" / "damaged" / damaged.name
    assert f"synthact: shard {damaged.stem} is damaged (sha256 " in rerun.stderr
    assert f"moved to {aside.relative_to(run_copy)}, rebuilding it" in rerun.stderr
    assert aside.exists() and sha256_file(aside) != good
    assert jobs_run(rerun) == {"all": 1, "manifest": 1, "merge": 1}, rerun.stderr
    assert sha256_file(damaged) == good
    assert "Nothing to be done" in ok(snakemake(run_copy)).stderr


@pytest.mark.slow  # runs the workflow
def test_verify_finds_a_flip_that_kept_size_and_mtime_and_its_command_moves_it_aside(
    run_copy,
):
    """Only a hash sees this flip; status --verify writes nothing, and the --forcerun of its command makes the
    run hash that shard too, move it aside and rebuild it."""
    damaged = shards(run_copy)[0]
    good = sha256_file(damaged)
    flip_byte(damaged, keep_mtime=True)
    assert status(run_copy).returncode == 0  # the cheap check cannot see it
    result = status(run_copy, "--verify")
    assert result.returncode == 2 and "corrupt" in result.stdout and "sha256" in result.stdout
    argv = shlex.split(result.stdout.split("rerun just these shards with:")[1].strip())
    rerun = ok(snakemake(run_copy, *argv[1:]))
    assert jobs_run(rerun) == {"manifest": 1, "merge": 1}, rerun.stderr
    assert (run_copy / "output" / "work" / "damaged" / damaged.name).exists()
    assert sha256_file(damaged) == good
    assert status(run_copy, "--verify").returncode == 0
