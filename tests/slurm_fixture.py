"""A real single-node Slurm cluster for tests: the session fixture ``slurm_cluster``.

The fixture runs ``bash scripts/slurm-cluster.sh up`` (install when needed, then start;
both idempotent) once per test session and yields a :class:`SlurmCluster` with helpers
to submit jobs and wait for them through ``sacct``.

tests/conftest.py registers this module as a plugin, so any test module just asks for it::

    pytestmark = pytest.mark.slurm

    def test_something(slurm_cluster, tmp_path):
        job = slurm_cluster.sbatch("--wrap", "true", cwd=tmp_path)
        assert slurm_cluster.wait(job) == {str(job): "COMPLETED"}

Policy:

* In CI (``CI=true``) a Slurm test never skips: if the cluster cannot start, it fails.
* Elsewhere it skips, with the reason, only when the cluster cannot be started here at
  all (not root, or no apt-get and Slurm not installed). A start that fails is a failure.
* The cluster is stopped at the end of the session only if this session started it
  from fully stopped; one that was already running (in part or in whole) is left up.
  ``SYNTHACT_SLURM_KEEP=1`` keeps it running in any case.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "slurm-cluster.sh"
IN_CI = os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}
# A first run installs packages (15-60 s measured); leave room for a slow mirror.
UP_TIMEOUT_S = 900

# sacct states after which a job or array task will not change any more.
TERMINAL_STATES = {
    "BOOT_FAIL",
    "CANCELLED",
    "COMPLETED",
    "DEADLINE",
    "FAILED",
    "NODE_FAIL",
    "OUT_OF_MEMORY",
    "PREEMPTED",
    "TIMEOUT",
}


def run_script(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run scripts/slurm-cluster.sh with ARGS; output is captured, never raised on."""
    return subprocess.run(
        ["bash", str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def _array_tasks(job_id: int, states: dict[str, str]) -> set[int]:
    """The task ids that sacct's lines of array ``job_id`` account for ("ID_3", "ID_[0-2,5%2]")."""
    tasks: set[int] = set()
    for key in states:
        if not key.startswith(f"{job_id}_"):
            continue  # the bare "ID" line of a finished array, before its tasks are listed
        spec = key.split("_", 1)[1].strip("[]").split("%")[0]
        for part in spec.split(","):
            low, _, high = part.partition("-")
            if low.isdigit() and (not high or high.isdigit()):
                tasks.update(range(int(low), int(high or low) + 1))
    return tasks


@dataclass
class SlurmCluster:
    """Handle on the running cluster, with small helpers for tests."""

    node: str
    state_dir: Path
    started_here: bool

    def run(self, *cmd: str, timeout: float = 60, cwd: Path | None = None) -> str:
        """Run a Slurm command; return stdout, or fail the test with its stderr."""
        proc = subprocess.run(
            list(cmd), capture_output=True, text=True, timeout=timeout, cwd=cwd, stdin=subprocess.DEVNULL
        )
        if proc.returncode != 0:
            pytest.fail(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
        return proc.stdout

    def sbatch(self, *args: str, cwd: Path) -> int:
        """Submit with sbatch ARGS (e.g. "--wrap", "true") from CWD; return the job id."""
        out = self.run("sbatch", "--parsable", *args, cwd=cwd)
        return int(out.strip().split(";")[0])

    def states(self, job_id: int) -> dict[str, str]:
        """sacct's state of the job, or of each array task: {"12": "COMPLETED"} or {"12_0": ..., "12_1": ...}."""
        out = self.run("sacct", "-j", str(job_id), "-X", "-n", "-P", "-o", "JobID,State")
        states = {}
        for line in out.splitlines():
            if "|" in line:
                job, state = line.split("|", 1)
                # "CANCELLED by 0" -> "CANCELLED"
                states[job.strip()] = state.split()[0] if state.strip() else ""
        return states

    def wait(self, job_id: int, timeout: float = 120, array_tasks: int | None = None) -> dict[str, str]:
        """Wait until the job is in a terminal state; return the states.

        For a job array pass ARRAY_TASKS, the number of tasks: sacct shows a pending
        array as one "ID_[0-1]" line, and (measured with Slurm 22.05) may briefly show
        a finished array as one bare "ID" line in a terminal state before it lists
        the tasks "ID_0", "ID_1", ... Tasks cancelled while still pending stay one
        "ID_[1-3%2]" line, in state CANCELLED: that line counts for its tasks.
        """
        deadline = time.monotonic() + timeout
        states: dict[str, str] = {}
        while time.monotonic() < deadline:
            states = self.states(job_id)
            # Empty right after submission: the record is not in slurmdbd yet.
            done = bool(states) and all(s in TERMINAL_STATES for s in states.values())
            if done and array_tasks is not None:
                done = len(_array_tasks(job_id, states)) == array_tasks
            if done:
                return states
            time.sleep(0.3)
        squeue = subprocess.run(["squeue", "-a"], capture_output=True, text=True).stdout
        pytest.fail(f"job {job_id} not finished after {timeout} s: sacct {states}\nsqueue:\n{squeue}")

    def node_state(self) -> str:
        """scontrol's State= of the node, e.g. IDLE or IDLE+DRAIN."""
        out = self.run("scontrol", "-o", "show", "node", self.node)
        for field in out.split():
            if field.startswith("State="):
                return field.removeprefix("State=")
        return ""

    def log_tail(self, daemon: str, lines: int = 40) -> str:
        path = self.state_dir / "log" / f"{daemon}.log"
        try:
            return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
        except OSError as exc:
            return f"({path}: {exc})"


def _cannot_start_reason() -> str | None:
    """Why this machine cannot run the cluster at all, or None if it can try."""
    if not SCRIPT.is_file():
        return f"{SCRIPT} is missing"
    if os.geteuid() != 0:
        return "the Slurm test cluster needs root (it installs packages and starts daemons); run pytest as root"
    if shutil.which("apt-get") is None and shutil.which("slurmctld") is None:
        return "Slurm is not installed and apt-get is unavailable (the test cluster needs Debian 12)"
    return None


def _state_dir() -> Path:
    return Path(os.environ.get("SYNTHACT_SLURM_DIR", "/var/lib/synthact-slurm"))


# Shared by every module that imports the fixture: pytest makes one fixture
# definition per importing module, and they must start (and stop) the cluster once.
_session: dict[str, object] = {"users": 0, "cluster": None}


@pytest.fixture(scope="session")
def slurm_cluster():
    if _session["cluster"] is None:
        status = run_script("status", timeout=60) if SCRIPT.is_file() else None
        already_healthy = status is not None and status.returncode == 0
        if not already_healthy:
            reason = _cannot_start_reason()
            if reason is not None:
                if IN_CI:
                    pytest.fail(f"Slurm tests must run in CI, but: {reason}")
                pytest.skip(reason)
        # Exit code 3 is "every daemon stopped": only then do we own the cluster.
        was_stopped = status is None or status.returncode == 3
        up = run_script("up", timeout=UP_TIMEOUT_S)
        if up.returncode != 0:
            pytest.fail(
                f"'bash {SCRIPT} up' exited {up.returncode}; the Slurm test cluster did not start.\n"
                f"--- stdout ---\n{up.stdout}\n--- stderr ---\n{up.stderr}"
            )
        node = subprocess.run(["hostname", "-s"], capture_output=True, text=True, check=True).stdout.strip()
        _session["cluster"] = SlurmCluster(node=node, state_dir=_state_dir(), started_here=was_stopped)
    _session["users"] = int(_session["users"]) + 1
    cluster = _session["cluster"]
    assert isinstance(cluster, SlurmCluster)
    try:
        yield cluster
    finally:
        _session["users"] = int(_session["users"]) - 1
        keep = os.environ.get("SYNTHACT_SLURM_KEEP", "").strip() not in {"", "0"}
        if _session["users"] == 0 and cluster.started_here and not keep:
            stop = run_script("stop", timeout=180)
            _session["cluster"] = None
            if stop.returncode != 0:
                # Teardown must not hide the tests' own results; say it loudly instead.
                print(f"WARNING: 'slurm-cluster.sh stop' exited {stop.returncode}:\n{stop.stdout}\n{stop.stderr}")
