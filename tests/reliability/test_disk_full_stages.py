"""A full disk in every stage that writes: one line naming the file and the advice, nothing half-written.

As in ``test_disk_full.py`` (merge), the full disk is real: a 16 KiB tmpfs mounted over the
folder the stage writes, in a private mount namespace (``unshare -m``, root), so nothing
outside the test sees it. Each stage runs as the user runs it, through ``synthact``.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.fixtures.estimates import write_wham
from tests.reliability.helpers import ok, synthact
from tests.reliability.test_disk_full import can_mount
from tests.test_estimates import body, estimates_config, models, truth, write_labels  # noqa: F401  (fixtures)

ADVICE = (
    "no space left on device while writing; nothing half-written was kept "
    "(free space, then rerun: finished work is reused)"
)

pytestmark = [
    pytest.mark.skipif(not can_mount(), reason="needs root and unshare to mount a private tmpfs"),
    pytest.mark.slow,  # each uses the suite's finished run (one tiny workflow run per session)
]


def on_full_disk(
    run: Path, folder: Path, *command: str, fill: bool = True
) -> tuple[subprocess.CompletedProcess, list[str]]:
    """``synthact *command`` with a full 16 KiB file system over ``folder``; the files it left there.

    With ``fill`` the file system is filled before the command starts (``.fill``), so the
    stage fails at its first write, however small its output; without, it fills as it writes.
    """
    folder.mkdir(parents=True, exist_ok=True)
    listing = run / "left-on-full-disk.txt"
    script = (
        f"mount -t tmpfs -o size=16k tmpfs {folder} && "
        + (f"(head -c 1M /dev/zero > {folder}/.fill) 2>/dev/null; " if fill else "")
        + f'"$@"; rc=$?; find {folder} -type f ! -name .fill > {listing}; exit $rc'
    )
    result = synthact(run, *command, prefix=("unshare", "-m", "sh", "-c", script, "sh"))
    return result, listing.read_text().split()


def error_lines(result: subprocess.CompletedProcess) -> list[str]:
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    return [line for line in result.stderr.splitlines() if "error" in line.lower()]


def first_shard(run: Path) -> str:
    return min(p.stem for p in (run / "output" / "work" / "plan" / "shards").glob("*.json"))


def test_render_names_the_full_disk_not_a_closed_file(run_copy):
    work = run_copy / "output" / "work"
    shard = first_shard(run_copy)
    (work / "render" / f"{shard}.json").unlink()
    cache = work / "cache"
    result, left = on_full_disk(run_copy, cache, "render-shard", "--config", "config.yaml", "--shard", shard)
    assert result.returncode == 1
    (line,) = error_lines(result)  # before: "ValueError: seek of closed file", the disk never named
    prefix = f"synthact render-shard: error: shard {shard}: output/work/cache/"
    assert line.startswith(prefix) and line.endswith(ADVICE), line
    assert ".npz: " in line and not [path for path in left if path.endswith(".tmp")]
    assert not (work / "render" / f"{shard}.json").exists()


def test_plan_on_a_full_disk_is_one_line(run_copy):
    folder = run_copy / "output" / "work" / "plan"
    result, left = on_full_disk(run_copy, folder, "plan", "--config", "config.yaml")
    assert result.returncode == 1
    (line,) = error_lines(result)
    assert line.startswith("synthact plan: error: output/work/plan/") and line.endswith(ADVICE), line
    assert not [path for path in left if path.endswith(".tmp")]
    ok(synthact(run_copy, "plan", "--config", "config.yaml"))  # space is back: the rerun completes


def test_labels_on_a_full_disk_is_one_line(run_copy):
    folder = run_copy / "output" / "labels"
    shutil.rmtree(folder)
    result, left = on_full_disk(run_copy, folder, "labels", "--config", "config.yaml")
    assert result.returncode == 1
    (line,) = error_lines(result)
    assert line.startswith("synthact labels: error: output/labels/") and line.endswith(ADVICE), line
    assert not [path for path in left if path.endswith(".tmp")]
    ok(synthact(run_copy, "labels", "--config", "config.yaml"))
    assert list(folder.glob("*/clips.jsonl"))


def test_export_on_a_full_disk_is_one_line(run_copy, tmp_path):
    disk = tmp_path / "disk"
    dest = disk / "export"  # a new folder on the full disk: a filled DEST would not be an export's
    result, _ = on_full_disk(run_copy, disk, "export", "pyskl", "output", str(dest), "--quiet")
    assert result.returncode == 1
    assert error_lines(result) == [f"synthact export: error: {dest}/.synthact-export.json: {ADVICE}"]
    ok(synthact(run_copy, "export", "pyskl", "output", str(dest), "--quiet"))


def test_export_that_fills_the_disk_midway_is_one_line(run_copy, tmp_path):
    dest = tmp_path / "export"
    result, _ = on_full_disk(run_copy, dest, "export", "pyskl", "output", str(dest), "--quiet", fill=False)
    assert result.returncode == 1
    # The file is not named here: the export's own writer (consume package) drops it.
    assert error_lines(result) == [f"synthact export: error: {ADVICE}"]
    ok(synthact(run_copy, "export", "pyskl", "output", str(dest), "--quiet"))


def test_fit_on_a_full_disk_is_one_line(tmp_path, estimates_run):
    folder = estimates_run / "output" / "work" / "fitted"
    result, left = on_full_disk(estimates_run, folder, "fit", "--config", "config.yaml")
    assert result.returncode == 1
    (line,) = error_lines(result)
    assert line.startswith("synthact fit: error: output/work/fitted/") and line.endswith(ADVICE), line
    assert not [path for path in left if path.endswith(".tmp")]
    ok(synthact(estimates_run, "fit", "--config", "config.yaml"))


@pytest.fixture
def estimates_run(tmp_path, models, truth) -> Path:  # noqa: F811
    run = tmp_path / "fitrun"
    write_wham(run / "estimates", truth)
    write_labels(run / "labels.csv", [("clip", 0, 10, "walk", "train")])
    config = estimates_config(run, models)
    for key in ("estimates_dir", "estimates_labels"):
        config["motion"][key] = str(Path(config["motion"][key]).relative_to(run))
    config["output_dir"] = "output"
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    return run
