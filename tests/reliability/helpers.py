"""Running the real workflow and CLI from the reliability tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.helpers import SNAKEFILE, make_run, tiny_config  # noqa: F401  (re-exported)

BIN = Path(sys.executable).parent


def env(workdir: Path) -> dict[str, str]:
    # COLUMNS: rich tables one row a line, so the tests can read them.
    return {
        "PATH": f"{BIN}:/usr/bin:/bin:/usr/sbin:/sbin",
        "HOME": str(workdir),
        "PYTHONHASHSEED": "0",
        "COLUMNS": "250",
    }


def snakemake(
    workdir: Path, *args: str, timeout: int = 900, prefix: tuple[str, ...] = ()
) -> subprocess.CompletedProcess:
    """Snakemake in ``workdir``, result returned whatever the exit code (``prefix`` wraps the command)."""
    command = [
        *prefix,
        str(BIN / "snakemake"),
        "-s",
        str(SNAKEFILE),
        "-d",
        str(workdir),
        "--cores",
        "2",
        *args,
    ]
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        env=env(workdir),
        timeout=timeout,
        cwd=workdir,
    )


def synthact(
    workdir: Path,
    *args: str,
    timeout: int = 600,
    prefix: tuple[str, ...] = (),
    **kwargs,
) -> subprocess.CompletedProcess:
    command = [*prefix, str(BIN / "synthact"), *args]
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        env=env(workdir),
        timeout=timeout,
        cwd=workdir,
        **kwargs,
    )


def ok(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout[-4000:]}\n{result.stderr[-6000:]}"
    return result


def jobs_run(result: subprocess.CompletedProcess) -> dict[str, int]:
    """Snakemake's job-count table (rule -> count) from a run's stderr."""
    counts: dict[str, int] = {}
    lines = result.stderr.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("Job stats:"):
            for row in lines[i + 3 :]:
                parts = row.split()
                if len(parts) < 2 or not parts[1].isdigit() or parts[0] == "total":
                    break
                counts[parts[0]] = int(parts[1])
            break
    return counts


def flip_byte(path: Path, keep_mtime: bool = False) -> None:
    """Invert the middle byte of a file: damage that keeps its size (and, with ``keep_mtime``, its mtime)."""
    stat = path.stat()
    with open(path, "r+b") as f:
        f.seek(stat.st_size // 2)
        byte = f.read(1)
        f.seek(stat.st_size // 2)
        f.write(bytes([byte[0] ^ 0xFF]))
    if keep_mtime:
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
