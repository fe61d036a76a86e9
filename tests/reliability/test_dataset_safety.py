"""A finished dataset survives what its users do by habit: copies, touches, moves, dry runs, other configs.

One tiny rendered run (two shards, in ``output/demo`` like the demo) is made
once for this module; every test works on a copy of it. Commands that must
not write (``snakemake -n``, ``synthact status``, ``synthact verify``) are
checked against a hash of the whole output tree: paths, bytes and mtimes.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from synthact.config import RunPaths
from synthact.ownership import Launch, OutputOwned, check_owner, claim, profile_given
from synthact.shards.integrity import ShardCheck, check_shard, keep_confirmed, move_aside, write_record
from synthact.shards.manifest import sha256_file
from tests.reliability.helpers import env, flip_byte, jobs_run, make_run, ok, snakemake, synthact, tiny_config

OUT = "output/demo"
RENDERING_RULES = {"index", "plan", "render", "merge"}


def run_config() -> dict:
    return tiny_config(
        output_dir=OUT,
        demo={"sequences": 2},
        rig={"views": [{"name": "front", "azimuth_deg": 0}]},
        render={"width": 64, "height": 48, "samples": 1},
    )


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    workdir = make_run(tmp_path_factory.mktemp("safety") / "run", run_config())
    ok(snakemake(workdir))
    assert len(shards(workdir)) == 2
    return workdir


@pytest.fixture
def run_copy(finished, tmp_path) -> Path:
    dest = tmp_path / "run"
    shutil.copytree(finished, dest, symlinks=True)  # copy2: mtimes kept to the nanosecond
    return dest


def shards(workdir: Path, out: str = OUT) -> list[Path]:
    return sorted((workdir / out / "shards").glob("*.h5"))


def tree_state(root: Path) -> dict[str, tuple[str, int, int] | str]:
    """Every entry under ``root``: a file's sha256, size and mtime; a folder's name. Any write shows."""
    state: dict[str, tuple[str, int, int] | str] = {}
    for path in sorted(root.rglob("*")):
        key = str(path.relative_to(root))
        if path.is_dir():
            state[key] = "folder"
        else:
            stat = path.stat()
            state[key] = (hashlib.sha256(path.read_bytes()).hexdigest(), stat.st_size, stat.st_mtime_ns)
    return state


def read_only_commands(config: str, out: str) -> dict[str, tuple[str, ...]]:
    """Every command that must leave the dataset as it is (program, then its arguments)."""
    return {
        "snakemake -n": ("snakemake", "-n", "--configfile", config),
        "snakemake --summary": ("snakemake", "--summary", "--configfile", config),
        "synthact status": ("synthact", "status", "--config", config),
        "synthact status --verify": ("synthact", "status", "--config", config, "--verify"),
        "synthact verify": ("synthact", "verify", out),
    }


def output(result: subprocess.CompletedProcess) -> str:
    """Snakemake's log, wherever it went: a dry run logs to stdout."""
    return result.stdout + result.stderr


def jobs_planned(result: subprocess.CompletedProcess) -> dict[str, int]:
    return jobs_run(subprocess.CompletedProcess(result.args, result.returncode, "", output(result)))


def run_command(workdir: Path, program: str, *args: str) -> subprocess.CompletedProcess:
    return snakemake(workdir, *args) if program == "snakemake" else synthact(workdir, *args)


def assert_read_only(workdir: Path, config: str, out: str) -> dict[str, subprocess.CompletedProcess]:
    """Run every read-only command; the output tree must be byte- and mtime-identical after each."""
    results = {}
    for name, (program, *args) in read_only_commands(config, out).items():
        before = tree_state(workdir / out)
        results[name] = run_command(workdir, program, *args)
        assert tree_state(workdir / out) == before, f"{name} changed the dataset:\n{results[name].stderr[-3000:]}"
    return results


# --------------------------------------------------------------------------- what users do to a finished dataset
# Each habit changes files' metadata, never their bytes; it returns the copy's
# folder, its config file and its output folder.


def tar_copy(src: Path, dest: Path) -> tuple[Path, str, str]:
    """tar keeps mtimes to the second: every shard's mtime differs from the one merge left."""
    dest.mkdir()
    subprocess.run(
        f"tar -C {shlex.quote(str(src))} -cf - . | tar -C {shlex.quote(str(dest))} -xf -", shell=True, check=True
    )
    return dest, "config.yaml", OUT


def cp_archive(src: Path, dest: Path) -> tuple[Path, str, str]:
    subprocess.run(["cp", "-a", str(src), str(dest)], check=True)
    return dest, "config.yaml", OUT


def cp_plain(src: Path, dest: Path) -> tuple[Path, str, str]:
    """cp without -p: every file gets the copy's time, in the order cp walked the tree."""
    subprocess.run(["cp", "-r", str(src), str(dest)], check=True)
    return dest, "config.yaml", OUT


def touch_shards(src: Path, dest: Path) -> tuple[Path, str, str]:
    """What users of purged scratch file systems do: touch everything."""
    shutil.move(src, dest)
    subprocess.run(["touch", *map(str, shards(dest))], check=True)
    return dest, "config.yaml", OUT


def restore_old_mtimes(src: Path, dest: Path) -> tuple[Path, str, str]:
    """A restore from a backup that set older mtimes than the ones merge left."""
    shutil.move(src, dest)
    subprocess.run(["touch", "-d", "2020-01-01 00:00:00", *map(str, shards(dest))], check=True)
    return dest, "config.yaml", OUT


def relocate(src: Path, dest: Path) -> tuple[Path, str, str]:
    """The output folder moved under another output_dir, run with a config file of its own that says so."""
    shutil.move(src, dest)
    (dest / "archive").mkdir()
    shutil.move(dest / OUT, dest / "archive" / "amarv-copy")
    config = yaml.safe_load((dest / "config.yaml").read_text())
    (dest / "moved.yaml").write_text(yaml.safe_dump(dict(config, output_dir="archive/amarv-copy")))
    return dest, "moved.yaml", "archive/amarv-copy"


HABITS: dict[str, Callable[[Path, Path], tuple[Path, str, str]]] = {
    "tar copy": tar_copy,
    "cp -a": cp_archive,
    "cp without -p": cp_plain,
    "touch every shard": touch_shards,
    "restored with older mtimes": restore_old_mtimes,
    "relocated under another output_dir": relocate,
}


@pytest.mark.slow  # runs the workflow
@pytest.mark.parametrize("habit", list(HABITS))
def test_a_dataset_whose_metadata_changed_stays_done_and_read_only_commands_write_nothing(run_copy, tmp_path, habit):
    digests = {p.name: sha256_file(p) for p in shards(run_copy)}
    manifest = (run_copy / OUT / "manifest.json").read_bytes()
    workdir, config, out = HABITS[habit](run_copy, tmp_path / "after")
    results = assert_read_only(workdir, config, out)
    for name, result in results.items():
        assert result.returncode == 0, f"{name}: exit {result.returncode}\n{result.stdout}\n{result.stderr[-3000:]}"
        assert "damaged" not in output(result) and "corrupt" not in result.stdout, f"{name}:\n{output(result)}"
    dry = output(results["snakemake -n"])
    assert "Nothing to be done" in dry or "Job stats" in dry, dry  # the plan was read, not missed
    assert not RENDERING_RULES & set(jobs_planned(results["snakemake -n"])), dry
    assert "2 done" in results["synthact status"].stdout

    rerun = ok(snakemake(workdir, "--configfile", config))
    assert not RENDERING_RULES & set(jobs_run(rerun)), rerun.stderr
    assert {p.name: sha256_file(p) for p in shards(workdir, out)} == digests
    assert (workdir / out / "manifest.json").read_bytes() == manifest  # rewritten or not: no mtimes in it
    assert not (workdir / out / "work" / "damaged").exists()
    # The hash that found the shards intact was kept: the next check is one stat again.
    for shard in shards(workdir, out):
        record = json.loads((workdir / out / "work" / "integrity" / f"{shard.stem}.json").read_text())
        assert (record["seen_size"], record["seen_mtime_ns"]) == (shard.stat().st_size, shard.stat().st_mtime_ns)
    assert ok(synthact(workdir, "verify", out)).returncode == 0


@pytest.mark.slow  # runs the workflow
def test_touched_shards_survive_the_render_cache_being_cleaned(run_copy):
    """The render cache is as large as the shards: users clean it. Nothing can be rebuilt then, nor must it be."""
    digests = {p.name: sha256_file(p) for p in shards(run_copy)}
    subprocess.run(["touch", *map(str, shards(run_copy))], check=True)
    shutil.rmtree(run_copy / OUT / "work" / "cache")
    dry = assert_read_only(run_copy, "config.yaml", OUT)["snakemake -n"]
    assert "Nothing to be done" in output(dry) or "Job stats" in output(dry), output(dry)
    assert not RENDERING_RULES & set(jobs_planned(dry)), output(dry)
    rerun = ok(snakemake(run_copy))
    assert not RENDERING_RULES & set(jobs_run(rerun)), rerun.stderr
    assert {p.name: sha256_file(p) for p in shards(run_copy)} == digests


# --------------------------------------------------------------------------- real damage


@pytest.mark.slow  # runs the workflow
def test_a_flipped_byte_is_moved_aside_by_a_real_run_never_by_a_read_only_command(run_copy):
    damaged, intact = shards(run_copy)
    good, other = sha256_file(damaged), sha256_file(intact)
    flip_byte(damaged)
    bad = sha256_file(damaged)
    results = assert_read_only(run_copy, "config.yaml", OUT)
    dry = output(results["snakemake -n"])
    assert f"synthact: shard {damaged.stem} is damaged (sha256" in dry and "(nothing was moved)" in dry
    for name in ("synthact status", "synthact status --verify"):
        assert results[name].returncode == 2 and "corrupt" in results[name].stdout, results[name].stdout
    assert results["synthact verify"].returncode == 1
    assert "to repair: `synthact status --config YOUR_CONFIG --verify`" in results["synthact verify"].stderr

    rerun = ok(snakemake(run_copy))
    aside = run_copy / OUT / "work" / "damaged" / damaged.name
    assert f"moved to {aside.relative_to(run_copy)}, rebuilding it" in rerun.stderr
    assert jobs_run(rerun) == {"all": 1, "manifest": 1, "merge": 1}, rerun.stderr
    assert sha256_file(aside) == bad  # the bad bytes are kept for a look, never deleted
    assert (sha256_file(damaged), sha256_file(intact)) == (good, other)
    assert ok(synthact(run_copy, "verify", OUT)).returncode == 0


def mount_tmpfs(folder: Path, size: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True, text=True
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {result.stderr.strip()}")


@pytest.fixture
def damaged_folder_elsewhere(run_copy):
    """WORK/damaged on another file system; unmounted after the test."""
    folder = run_copy / OUT / "work" / "damaged"
    yield folder
    subprocess.run(["umount", str(folder)], capture_output=True)


@pytest.mark.slow  # runs the workflow
def test_damaged_folder_on_another_file_system_gets_a_copy_then_a_rebuild(run_copy, damaged_folder_elsewhere):
    mount_tmpfs(damaged_folder_elsewhere, "4m")
    damaged = shards(run_copy)[0]
    good = sha256_file(damaged)
    flip_byte(damaged)
    bad = sha256_file(damaged)
    rerun = ok(snakemake(run_copy))
    assert jobs_run(rerun) == {"all": 1, "manifest": 1, "merge": 1}, rerun.stderr
    assert sha256_file(damaged_folder_elsewhere / damaged.name) == bad
    assert sha256_file(damaged) == good


@pytest.mark.slow  # runs the workflow
def test_damaged_folder_too_small_leaves_the_shard_in_place_and_says_so(run_copy, damaged_folder_elsewhere):
    mount_tmpfs(damaged_folder_elsewhere, "16k")
    damaged = shards(run_copy)[0]
    flip_byte(damaged)
    before = tree_state(run_copy / OUT)
    rerun = snakemake(run_copy)
    assert rerun.returncode == 1
    assert (
        f"{damaged.relative_to(run_copy)}: damaged, but it could not be copied to "
        f"{damaged_folder_elsewhere.relative_to(run_copy)} (another file system: No space left on device); "
        "it was left in place"
    ) in rerun.stderr
    after = tree_state(run_copy / OUT)
    assert after.pop(".synthact.lock", None) is not None  # the run took the folder's lock before acting
    before.pop(".synthact.lock", None)
    assert after == before


# --------------------------------------------------------------------------- a run owns its folder


@pytest.mark.slow  # runs the workflow
def test_a_config_without_output_dir_is_refused_beside_the_demo_naming_both(run_copy):
    mine = {k: v for k, v in run_config().items() if k != "output_dir"} | {"seed": 8}
    (run_copy / "my-run.yaml").write_text(yaml.safe_dump(mine))
    before = tree_state(run_copy / OUT)
    for command in (("-n",), ()):
        refused = snakemake(run_copy, *command, "--configfile", "my-run.yaml")
        assert refused.returncode == 1
        assert (
            f"{OUT}: holds the run of config.yaml, with other settings than this run's config my-run.yaml "
            f"(my-run.yaml sets no output_dir, so the default {OUT} was used); refused"
        ) in output(refused)
        assert "--config allow_output_reuse=true" in output(refused)
        assert tree_state(run_copy / OUT) == before
    for command in ("plan", "index", "status"):  # the stages run by hand keep out too
        refused = synthact(run_copy, command, "--config", "my-run.yaml")
        assert refused.returncode == 1, output(refused)
        assert f"{OUT}: holds the run of config.yaml" in output(refused)
        assert tree_state(run_copy / OUT) == before
    allowed = ok(snakemake(run_copy, "-n", "--configfile", "my-run.yaml", "--config", "allow_output_reuse=true"))
    assert "plan" in jobs_planned(allowed), output(allowed)  # the new seed draws new cameras: a new plan


@pytest.mark.slow  # runs the workflow
def test_the_same_run_may_change_its_settings_and_a_copy_of_its_config_is_the_same_run(run_copy):
    config = yaml.safe_load((run_copy / "config.yaml").read_text())
    (run_copy / "copy.yaml").write_text(yaml.safe_dump(config))
    assert "Nothing to be done" in output(ok(snakemake(run_copy, "-n", "--configfile", "copy.yaml")))
    config["render"]["samples"] = 2
    (run_copy / "config.yaml").write_text(yaml.safe_dump(config))
    changed = ok(snakemake(run_copy, "-n"))
    assert {"render", "merge"} <= set(jobs_planned(changed)), output(changed)


# --------------------------------------------------------------------------- the printed rerun command


@pytest.mark.slow  # runs the workflow
def test_status_prints_a_rerun_command_that_works_as_printed(run_copy):
    """A local run, started elsewhere than the Snakefile's folder: the command names no profile, and the Snakefile."""
    gone, kept = shards(run_copy)
    kept_digest = sha256_file(kept)
    gone.unlink()
    report = synthact(run_copy, "status", "--config", "config.yaml")
    assert report.returncode == 2, report.stdout + report.stderr
    command = report.stdout.split("rerun just these shards with:")[1].strip()
    argv = shlex.split(command)
    assert argv[:3] == ["snakemake", "--cores", "all"] and "--profile" not in argv, command
    assert argv[-2:] == ["--configfile", "config.yaml"] and str(gone.relative_to(run_copy)) in argv, command
    rerun = subprocess.run(
        command, shell=True, cwd=run_copy, env=env(run_copy), capture_output=True, text=True, timeout=900
    )
    assert rerun.returncode == 0, rerun.stderr[-4000:]
    assert "merge" in jobs_run(rerun) and gone.exists()
    assert ok(synthact(run_copy, "status", "--config", "config.yaml")).returncode == 0
    assert ok(synthact(run_copy, "verify", OUT)).returncode == 0
    assert sha256_file(kept) == kept_digest


# --------------------------------------------------------------------------- the rules themselves, without a run


def small_shard(tmp_path: Path) -> tuple[RunPaths, str]:
    paths = RunPaths(tmp_path / "out", tmp_path / "out" / "work")
    shard = "train-00000-of-00001"
    paths.shard_file(shard).parent.mkdir(parents=True)
    paths.shard_file(shard).write_bytes(bytes(range(256)) * 64)
    write_record(paths, shard)
    return paths, shard


def test_a_changed_stat_is_a_reason_to_hash_and_only_other_bytes_are_damage(tmp_path):
    paths, shard = small_shard(tmp_path)
    path = paths.shard_file(shard)
    first = check_shard(paths, shard)
    assert not first.damage and first.confirmed is not None  # never seen since merge: hashed once
    keep_confirmed(paths, first)
    assert check_shard(paths, shard) == ShardCheck(shard)  # seen: one stat, nothing to keep
    for mtime_ns in (0, 10**18, path.stat().st_mtime_ns + 1):  # restore, touch, copy: same bytes
        os.utime(path, ns=(mtime_ns, mtime_ns))
        check = check_shard(paths, shard)
        assert not check.damage and check.confirmed is not None and check.confirmed.seen_mtime_ns == mtime_ns
    keep_confirmed(paths, check_shard(paths, shard))
    flip_byte(path, keep_mtime=True)
    assert not check_shard(paths, shard).damage  # same stat as last seen: only a full check reads it
    assert check_shard(paths, shard, full=True).damage.startswith("sha256 ")
    with open(path, "ab") as f:
        f.write(b"x")
    assert check_shard(paths, shard).damage == f"size {256 * 64 + 1} bytes, merge wrote {256 * 64}"


def test_moving_aside_never_replaces_an_earlier_damaged_copy(tmp_path):
    paths, shard = small_shard(tmp_path)
    first = move_aside(paths, shard)
    paths.shard_file(shard).write_bytes(b"second")
    second = move_aside(paths, shard)
    assert (first.name, second.name) == (f"{shard}.h5", f"{shard}.h5.1")
    assert second.read_bytes() == b"second" and first.stat().st_size == 256 * 64
    assert not paths.shard_file(shard).exists()


def test_the_same_run_is_the_same_config_file_or_the_same_settings(tmp_path):
    paths = RunPaths(tmp_path / "out", tmp_path / "out" / "work")
    check_owner(paths, ["/a/demo.yaml"], "h1", allow_reuse=False)  # no record: the folder is free
    claim(paths, ["/a/demo.yaml"], "h1", Launch(snakefile="/repo/workflow/Snakefile"))
    check_owner(paths, ["/a/demo.yaml"], "h2", allow_reuse=False)  # same file, settings changed: a rerun
    check_owner(paths, ["/b/copy.yaml"], "h1", allow_reuse=False)  # other file, same settings: a copy
    check_owner(paths, ["/b/mine.yaml"], "h2", allow_reuse=True)
    with pytest.raises(OutputOwned, match=r"holds the run of /a/demo.yaml, .* this run's config /b/mine.yaml"):
        check_owner(paths, ["/b/mine.yaml"], "h2", allow_reuse=False)


def test_the_profile_is_read_as_snakemake_found_it(tmp_path):
    (tmp_path / "profiles" / "slurm").mkdir(parents=True)
    started_in = {"PWD": str(tmp_path)}
    assert profile_given(["snakemake", "--profile", "profiles/slurm"], started_in) == str(tmp_path / "profiles/slurm")
    assert profile_given(["snakemake", "--profile=slurm"], started_in) == "slurm"  # a name: Snakemake's folders
    assert profile_given(["snakemake"], {"SNAKEMAKE_PROFILE": "/etc/p"}) == "/etc/p"
    assert profile_given(["snakemake", "--cores", "all"], started_in) == ""


@pytest.mark.slow  # runs the workflow
def test_a_shard_of_an_older_layout_is_reported_by_read_only_commands_and_moved_aside_by_a_real_run(run_copy):
    """After plan.frames_per_shard changed, the old layout's files must not sit in shards/ as if they belonged."""
    digests = {p.name: sha256_file(p) for p in shards(run_copy)}
    old = run_copy / OUT / "shards" / "train-00000-of-00009.h5"
    shutil.copy2(shards(run_copy)[0], old)
    results = assert_read_only(run_copy, "config.yaml", OUT)
    assert f"synthact: {old.relative_to(run_copy)} is not in the plan" in output(results["snakemake -n"])
    assert results["synthact status"].returncode == 2 and " unplanned " in results["synthact status"].stdout
    assert results["synthact verify"].returncode == 1
    assert f"FAILED {old.relative_to(run_copy / OUT)}: unlisted" in results["synthact verify"].stdout
    rerun = ok(snakemake(run_copy))
    assert not RENDERING_RULES & set(jobs_run(rerun)), rerun.stderr
    assert (run_copy / OUT / "work" / "stale" / old.name).exists() and not old.exists()
    assert {p.name: sha256_file(p) for p in shards(run_copy)} == digests
    assert ok(synthact(run_copy, "verify", OUT)).returncode == 0
    assert ok(synthact(run_copy, "status", "--config", "config.yaml")).returncode == 0
