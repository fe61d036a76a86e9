"""A full disk during merge: one line of ours, no traceback, no partial file, and a rerun completes.

The full disk is real: a 16 KiB tmpfs mounted over the shards folder in a private
mount namespace (``unshare -m``, needs root), so nothing outside the test sees it.
Without root, the same failure comes from RLIMIT_FSIZE (EFBIG), which says the same.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess

import pytest

from tests.reliability.helpers import ok, snakemake, synthact


def remove_shards(workdir):
    for path in (workdir / "output" / "shards").glob("*.h5"):
        path.unlink()
    for log in (workdir / "output" / "work" / "logs" / "merge").glob("*.log"):
        log.unlink()  # the finished run's


def can_mount() -> bool:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=16k tmpfs /mnt"],
        capture_output=True,
    )
    return probe.returncode == 0


@pytest.mark.skipif(not can_mount(), reason="needs root and unshare to mount a private tmpfs")
@pytest.mark.slow  # runs the workflow
def test_full_disk_in_merge_through_the_workflow(run_copy):
    remove_shards(run_copy)
    shards = run_copy / "output" / "shards"
    script = (
        f'mount -t tmpfs -o size=16k tmpfs {shards} && "$@"; rc=$?; ls -A {shards} > {run_copy}/listing.txt; exit $rc'
    )
    result = snakemake(run_copy, prefix=("unshare", "-m", "sh", "-c", script, "sh"))
    assert result.returncode != 0
    assert (run_copy / "listing.txt").read_text() == ""  # not even a temporary file
    logs = sorted((run_copy / "output" / "work" / "logs" / "merge").glob("*.log"))
    assert logs
    for log in logs:
        text = log.read_text()
        lines = [line for line in text.splitlines() if "error" in line]
        assert len(lines) == 1, text
        assert "no space left on device while writing" in lines[0] and f"shards/{log.stem}.h5" in lines[0]
        assert "Traceback" not in text and "HDF5" not in text and len(text.splitlines()) <= 2
    assert not list(shards.glob("*"))
    ok(snakemake(run_copy))  # space is back: the rerun completes
    assert list(shards.glob("*.h5")) and ok(synthact(run_copy, "verify", "output")).returncode == 0


def _limit_file_size():
    resource.setrlimit(resource.RLIMIT_FSIZE, (16 * 1024, resource.RLIM_INFINITY))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # write() then fails with EFBIG instead of killing


@pytest.mark.slow  # runs the workflow
def test_file_size_limit_in_merge_is_one_line(run_copy):
    shard = min((run_copy / "output" / "shards").glob("*.h5"))
    shard.unlink()
    result = synthact(
        run_copy,
        "merge",
        "--config",
        "config.yaml",
        "--shard",
        shard.stem,
        preexec_fn=_limit_file_size,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"synthact merge: error: {shard.relative_to(run_copy)}: file too large while writing; nothing half-written "
        "was kept (free space, then rerun: finished work is reused)"
    ]
    assert not list(shard.parent.glob(f"*{shard.stem}*"))
    ok(synthact(run_copy, "merge", "--config", "config.yaml", "--shard", shard.stem))
    assert shard.exists()
