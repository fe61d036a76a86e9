"""Helpers shared by several test modules: running the workflow and comparing
text with a recorded golden file (takes and rigs: tests/fixtures/takes.py).

A plain module, not a test module: tests import from here (or use the fixtures
in conftest.py) and never from one another, so moving or deleting one test
module cannot break another.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
SNAKEFILE = REPO / "workflow" / "Snakefile"
BIN = Path(sys.executable).parent
GOLDEN_DIR = Path(__file__).resolve().parent / "golden"
UPDATE_GOLDEN = "SYNTHACT_UPDATE_GOLDEN"  # set to 1 to rewrite the recorded files

TINY = {
    "seed": 7,
    "output_dir": "output",
    "demo": {"enabled": True, "data_dir": "data", "sequences": 3, "seed": 1},
    "motion": {"amass_root": "data/amass", "babel_dir": "data/babel", "body_model_dir": "data/body_models"},
    "clips": {"fps": 6},
    "labels": {"protocols": ["segments", "babel-chunks-150"], "chunk_seconds": 1.0},
    "plan": {"frames_per_shard": 40},
    "render": {"width": 96, "height": 72, "samples": 2, "window_frames": 16},
}


# --------------------------------------------------------------------------- the workflow


def run_bounded(command: list[str], timeout: float, **kwargs) -> subprocess.CompletedProcess:
    """``subprocess.run(command, capture_output=True, text=True)`` that cannot hang past ``timeout``.

    The command runs in its own session and, at the timeout, its whole process
    group is killed: with plain ``subprocess.run`` a grandchild (a render task
    of snakemake) keeps the output pipes open and the wait never ends.
    Output goes through files for the same reason. Raises AssertionError
    with the output's tail at the timeout.
    """
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        child = subprocess.Popen(command, stdout=out, stderr=err, text=True, start_new_session=True, **kwargs)
        code = None
        try:
            code = child.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
        finally:  # also when pytest-timeout interrupts the wait: nothing may outlive the test
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)  # what is left of the group: the command's children
            child.wait()
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if code is None:
        raise AssertionError(f"{' '.join(command[:4])} ... ran past {timeout} s:\n{stdout[-3000:]}\n{stderr[-6000:]}")
    return subprocess.CompletedProcess(command, code, stdout, stderr)


def snakemake(workdir: Path, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    env = {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(workdir), "PYTHONHASHSEED": "0"}
    command = [str(BIN / "snakemake"), "-s", str(SNAKEFILE), "-d", str(workdir), "--cores", "2", *args]
    result = run_bounded(command, timeout, env=env)
    if result.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{result.stdout[-4000:]}\n{result.stderr[-8000:]}")
    return result


def make_run(root: Path, config: dict) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "config.yaml").write_text(yaml.safe_dump(config))
    return root


def shard_files(workdir: Path) -> list[Path]:
    return sorted((workdir / "output" / "shards").glob("*.h5"))


# --------------------------------------------------------------------------- golden files


def assert_matches_golden(name: str, text: str) -> None:
    """Compare ``text`` with the checked-in ``tests/golden/<name>``, line by line.

    A missing file fails too (a golden test that records on first run could
    never fail). After an intended change, rerun with SYNTHACT_UPDATE_GOLDEN=1,
    read the diff, and commit the new file.
    """
    path = GOLDEN_DIR / name
    if os.environ.get(UPDATE_GOLDEN) == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(text)
        os.replace(tmp, path)
    if not path.exists():
        raise AssertionError(f"{path}: no recorded file; record it with {UPDATE_GOLDEN}=1 and check it in")
    recorded = path.read_text()
    if text == recorded:
        return
    new, old = text.splitlines(), recorded.splitlines()
    changes = [f"line {i + 1}: {a!r} -> {b!r}" for i, (a, b) in enumerate(zip(old, new, strict=False)) if a != b]
    if len(new) != len(old):
        changes.append(f"{len(old)} lines recorded, {len(new)} now")
    changes = changes or ["only the line endings or the final newline differ"]
    raise AssertionError(f"{path} differs ({UPDATE_GOLDEN}=1 rewrites it):\n" + "\n".join(changes))
