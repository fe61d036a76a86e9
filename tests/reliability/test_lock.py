"""Two clones writing one absolute output_dir: the second run is refused while the first holds it."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from tests.reliability.conftest import small_config
from tests.reliability.helpers import make_run, snakemake

HOLD = """
import sys, time
from synthact.locking import acquire_output_lock
acquire_output_lock(sys.argv[1])
print("held", flush=True)
time.sleep(600)
"""


@pytest.mark.slow  # runs the workflow
def test_second_clone_is_refused_while_the_first_holds_the_output(tmp_path):
    shared = tmp_path / "shared-output"
    clone_a, clone_b = tmp_path / "a", tmp_path / "b"
    config = small_config() | {"output_dir": str(shared)}
    make_run(clone_a, config), make_run(clone_b, config)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(shared)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=clone_a,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        assert snakemake(clone_b, "-n").returncode == 0  # a dry run writes nothing: never refused
        result = snakemake(clone_b)
        output = result.stdout + result.stderr
        assert result.returncode != 0
        assert f"{shared}: output folder is in use by another run (pid {holder.pid}" in output
        assert f"working directory {clone_a}" in output and "give this run another output_dir" in output
        assert not (shared / "shards").exists() and not (clone_b / "data").exists()  # nothing ran
    finally:
        holder.kill()
        holder.wait()
    time.sleep(0.2)
    from synthact.locking import acquire_output_lock, release_output_lock

    acquire_output_lock(shared)  # the kernel dropped the killed holder's lock
    release_output_lock(shared)
