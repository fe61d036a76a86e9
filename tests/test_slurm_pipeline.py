"""The workflow under the Slurm profile, against the real single-node Slurm
(scripts/slurm-cluster.sh): CPU rules as Slurm jobs on ``cpu``, render tasks as
submitit job arrays on ``gpu``, and what happens when a task is killed, reaches
its time limit, or fails.

Each test runs Snakemake in its own temporary folder holding its own
config.yaml (as tests/test_workflow.py does), with the repository's profile and
a few test-friendly overrides on the command line. The end-to-end test builds
everything from nothing through Slurm; the others start from a copy of a folder
whose demo inputs, clip table and plan were made once, locally, so that their
time goes to the part they test.
"""

from __future__ import annotations

import copy
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
import yaml

from synthact.config import load_config
from synthact.render.cache import RenderCache, windows
from synthact.stages import stage_key
from synthact.takes.plan import ShardPlan
from tests.helpers import run_bounded, tiny_config
from tests.slurm_fixture import SlurmCluster

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
SNAKEFILE = REPO / "workflow" / "Snakefile"
PROFILE = REPO / "profiles" / "slurm"
BIN = Path(sys.executable).parent

# The tiny config with two demo sequences: two takes, one in train (one shard), one in
# val (another), each rendered from two views in windows of 8 frames.
TINY = tiny_config(
    output_dir="dataset",
    demo={"sequences": 2},
    plan={"frames_per_shard": 1000},
    rig={"views": [{"name": "front", "azimuth_deg": 0}, {"name": "back", "azimuth_deg": 180}]},
    render={"width": 64, "height": 48, "samples": 1, "window_frames": 8},
    # No dispatch.cluster: the profile sets it (to slurm). The rest is this cluster's.
    dispatch={"partition": "gpu", "gpus_per_task": 1, "cpus_per_task": 1, "mem_gb": 1, "timeout_min": 5},
)
TRAIN, VAL = "train-00000-of-00001", "val-00000-of-00001"

# Test-friendly overrides of the profile: the plugin's first status check after
# 1 s (default 40 s), fewer jobs, and no minute-long wait for missing outputs.
SLURM_ARGS = ("--slurm-init-seconds-before-status-checks", "1", "--jobs", "8", "--latency-wait", "5")

RENDERED = re.compile(r"\[(?P<shard>[\w-]+)/(?P<view>\w+)\] rendered take (?P<take>\w+) window (?P<window>\d+) ")
SUBMITTED = re.compile(r"submitted with SLURM jobid (?P<job>\d+) \(log: \S*/rule_(?P<rule>\w+)/")


def with_changes(base: dict, **sections: dict) -> dict:
    config = copy.deepcopy(base)
    for key, values in sections.items():
        config[key] = dict(config.get(key, {}), **values)
    return config


def run_env(workdir: Path) -> dict[str, str]:
    # The Slurm jobs inherit this environment (sbatch exports it): snakemake and
    # synthact must be on PATH there too.
    return {"PATH": f"{BIN}:/usr/bin:/bin:/usr/sbin:/sbin", "HOME": str(workdir), "PYTHONHASHSEED": "0"}


def slurm_workflow_command(workdir: Path, *args: str) -> list[str]:
    where = ["-s", str(SNAKEFILE), "-d", str(workdir)]
    return [str(BIN / "snakemake"), "--profile", str(PROFILE), *where, *SLURM_ARGS, *args]


class Run:
    """One Snakemake invocation; its output goes to a log file in the run folder."""

    started: ClassVar[list[Run]] = []  # every run of this module, for the cleanup after a failed test

    def __init__(self, workdir: Path, command: list[str], timeout_s: int):
        self.workdir = workdir
        runs = sorted(workdir.glob("snakemake-*.log"))
        self.log_path = workdir / f"snakemake-{len(runs)}.log"
        with open(self.log_path, "w") as log:
            # Snakemake ignores SIGTERM while jobs run: `timeout -k` follows up with SIGKILL.
            self.proc = subprocess.Popen(
                ["timeout", "-k", "10", str(timeout_s), *command],
                cwd=workdir,
                env=run_env(workdir),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        Run.started.append(self)

    def kill(self) -> None:
        """SIGKILL this run's session (timeout, Snakemake and its local jobs), if still running."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait(self, timeout_s: float) -> int:
        try:
            return self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"snakemake still running after {timeout_s:.0f} s:\n{self.tail()}")

    def tail(self, chars: int = 6000) -> str:
        return f"--- {self.log_path} ---\n{self.log[-chars:]}"


def run_workflow(workdir: Path, *args: str, timeout_s: int = 420, expect_ok: bool = True) -> Run:
    run = Run(workdir, slurm_workflow_command(workdir, *args), timeout_s)
    code = run.wait(timeout_s + 30)
    if expect_ok:
        assert code == 0, f"snakemake exited {code}\n{run.tail()}"
    else:
        assert code not in (0, 124, 137), f"snakemake exited {code}\n{run.tail()}"
    return run


def make_run(root: Path, config: dict) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return root


def local_snakemake(workdir: Path, *targets: str) -> None:
    command = [str(BIN / "snakemake"), "-s", str(SNAKEFILE), "-d", str(workdir), "--cores", "2", *targets]
    result = run_bounded(command, 300, env=run_env(workdir), cwd=workdir)
    assert result.returncode == 0, f"local snakemake {' '.join(targets)} failed:\n{result.stderr[-6000:]}"


def plan_target(config: dict) -> str:
    return f"{config['output_dir']}/work/plan/plan.json"


@pytest.fixture(scope="module")
def planned(tmp_path_factory) -> Path:
    """Demo inputs, take table and plan for TINY, made once, locally."""
    workdir = make_run(tmp_path_factory.mktemp("planned"), TINY)
    local_snakemake(workdir, plan_target(TINY))
    return workdir


def copy_planned(planned: Path, dest: Path, config: dict) -> Path:
    """A run folder for CONFIG from the planned one; only what CONFIG changes is redone."""
    shutil.copytree(planned, dest, symlinks=True)  # keeps mtimes and .snakemake/ metadata
    make_run(dest, config)
    if config != TINY:
        local_snakemake(dest, plan_target(config))
    return dest


@pytest.fixture
def cancel_leftovers():
    """At the end of a test: kills its Snakemake runs still going (a failed test), and
    cancels the Slurm jobs they submitted that are still queued or running."""
    folders: list[Path] = []
    yield folders.append
    for run in Run.started:
        if run.workdir in folders:
            run.kill()
    ids = set()
    for workdir in folders:
        for log in workdir.glob("snakemake-*.log"):
            ids |= {m["job"] for m in SUBMITTED.finditer(log.read_text(errors="replace"))}
        ids |= set(render_arrays(workdir, "*"))
    if ids:
        subprocess.run(["scancel", *sorted(ids)], capture_output=True, timeout=60)


def output_dir(workdir: Path) -> Path:
    return workdir / TINY["output_dir"]


def work_dir(workdir: Path) -> Path:
    return output_dir(workdir) / "work"


def shard_document(workdir: Path, shard: str) -> ShardPlan:
    return ShardPlan.read(work_dir(workdir) / "plan" / "shards" / f"{shard}.json")


def render_cache(workdir: Path) -> RenderCache:
    config = load_config(workdir / "config.yaml")
    return RenderCache.for_key(work_dir(workdir), stage_key(config, "render"))


def window_of(path: Path) -> tuple[str, str, int]:
    """(view, take, window) of a cache file ``<view>/<take>/w<window>.npz``."""
    return path.parent.parent.name, path.parent.name, int(path.stem[1:])


def cache_files(workdir: Path, shard: str) -> dict[Path, tuple[int, int]]:
    """Finished window results of SHARD's takes (not the dot-prefixed temporary files): path -> (inode, mtime)."""
    root = render_cache(workdir).root
    takes = {t.take.take_id for t in shard_document(workdir, shard).takes}
    return {
        p: (p.stat().st_ino, p.stat().st_mtime_ns)
        for p in root.glob("*/*/*.npz")
        if not p.name.startswith(".") and p.parent.name in takes
    }


def render_arrays(workdir: Path, shard: str) -> list[str]:
    """The submitit job arrays of a shard's render tasks, from their log folders (ID_TASK)."""
    folders = (work_dir(workdir) / "logs" / "submitit").glob(f"{shard}/*_*")
    return sorted({p.name.split("_")[0] for p in folders if p.is_dir()}, key=int)


def rendered_windows(workdir: Path, shard: str, array: str = "*") -> Counter:
    """(view, take id, window) -> how many times the render tasks' logs (of ARRAY) say it was rendered."""
    counts: Counter = Counter()
    for log in (work_dir(workdir) / "logs" / "submitit" / shard).glob(f"{array}_*/*_log.err"):
        for m in RENDERED.finditer(log.read_text(errors="replace")):
            assert m["shard"] == shard
            counts[(m["view"], m["take"], int(m["window"]))] += 1
    return counts


def kill_workers(log_dir: Path) -> list[int]:
    """SIGKILL the submitit task processes (the bpy workers) whose job folder is under LOG_DIR."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = [a.decode(errors="replace") for a in (proc / "cmdline").read_bytes().split(b"\0")]
        except OSError:
            continue
        # python -u -m submitit.core._submit LOG_DIR/%j (srun's command line holds the same words)
        is_submitit = Path(argv[0]).name.startswith("python") and "submitit.core._submit" in argv
        if is_submitit and any(a.startswith(f"{log_dir.resolve()}/") for a in argv):
            pids.append(int(proc.name))
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    return pids


CALIBRATE = """
import sys, tempfile, time
from pathlib import Path
from dataclasses import replace
from synthact.config import load_config
from synthact.config_sections import RunConfig
from synthact.render.worker import TakeRenderer, render_windows
from synthact.takes.plan import ShardPlan
run = RunConfig.from_dict(load_config("config.yaml"))
plan = ShardPlan.read(sys.argv[1])
take = plan.takes[0]
renderer = TakeRenderer(run.seed, run.motion, run.rig, replace(run.render, threads=1), run.randomize, run.clips.fps)
frames = min(plan.window_frames, take.take.num_frames)
out = Path(tempfile.mkdtemp()) / "w.npz"
started = time.monotonic()
render_windows(renderer, plan.views[0], [(take, 0, 0, frames, out)])
print((time.monotonic() - started) / frames)
"""


def calibrated_samples(workdir: Path, shard: str, seconds: float) -> int:
    """Cycles samples for which one view task of SHARD renders for about SECONDS on this machine.

    Measured on one window of the run's plan at its render settings, with one thread
    as a task renders; the time per frame is about proportional to the samples.
    """
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    document = work_dir(workdir) / "plan" / "shards" / f"{shard}.json"
    result = subprocess.run(
        [str(BIN / "python"), "-c", CALIBRATE, str(document)],
        cwd=workdir,
        env=run_env(workdir),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    per_frame = float(result.stdout.split()[-1])
    frames = ShardPlan.read(document).num_frames
    samples = max(4, min(1024, round(config["render"]["samples"] * seconds / (frames * per_frame))))
    print(f"calibration: {per_frame:.2f} s/frame at {config['render']['samples']} samples -> {samples} samples")
    return samples


def all_windows(workdir: Path, shard: str) -> set[tuple[str, str, int]]:
    """(view, take, window) of every window the shard needs."""
    plan = shard_document(workdir, shard)
    return {
        (v, t.take.take_id, i)
        for t in plan.takes
        for v in plan.views
        for i in range(len(windows(t.take.num_frames, plan.window_frames)))
    }


def sacct(cluster: SlurmCluster, job: str, *fields: str, duplicates: bool = False) -> list[dict[str, str]]:
    cmd = ["sacct", "-j", job, "-X", "-n", "-P", "-o", ",".join(("JobID", *fields))]
    if duplicates:
        cmd.insert(1, "-D")
    rows = []
    for line in cluster.run(*cmd).splitlines():
        values = line.split("|")
        rows.append(dict(zip(("JobID", *fields), values, strict=False)))
    return rows


def assert_dataset_complete(workdir: Path, shards: list[str]) -> dict:
    out = output_dir(workdir)
    manifest = json.loads((out / "manifest.json").read_text())
    assert sorted(s["name"] for s in manifest["shards"]) == sorted(shards)
    assert sorted(p.name for p in (out / "shards").iterdir()) == sorted(f"{s}.h5" for s in shards)
    check = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=out, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.count(": OK") == len(shards) + len(manifest["labels"]) + 1  # shards, clip tables, the card
    return manifest


def status(workdir: Path) -> subprocess.CompletedProcess:
    command = [str(BIN / "synthact"), "status", "--config", "config.yaml", "--profile", str(PROFILE)]
    env = dict(run_env(workdir), COLUMNS="400")  # rich wraps the table to the terminal width
    return subprocess.run(command, cwd=workdir, capture_output=True, text=True, env=env, timeout=120)


# ---------------------------------------------------------------------------


def test_profile_builds_the_dataset_through_slurm(slurm_cluster: SlurmCluster, tmp_path: Path, cancel_leftovers):
    workdir = make_run(tmp_path / "run", TINY)
    cancel_leftovers(workdir)
    run = run_workflow(workdir, timeout_s=480)
    log = run.log

    shards = [s["name"] for s in json.loads((work_dir(workdir) / "plan" / "plan.json").read_text())["shards"]]
    assert shards == [TRAIN, VAL]
    assert_dataset_complete(workdir, shards)

    # Every CPU rule ran as a Slurm job on the cpu partition; render only waited, locally.
    jobs = {m["job"]: m["rule"] for m in SUBMITTED.finditer(log)}
    assert Counter(jobs.values()) == {
        "demo_data": 1,
        "index": 1,
        "plan": 1,
        "merge": len(shards),
        "labels": 1,
        "manifest": 1,
    }, log
    for job, rule in jobs.items():
        (row,) = sacct(slurm_cluster, job, "Partition", "State")
        assert (row["Partition"], row["State"]) == ("cpu", "COMPLETED"), (rule, row)
    assert log.count("localrule render:") == len(shards)
    for rule in ("demo_data", "index", "plan", "merge", "labels", "manifest"):
        assert f"localrule {rule}:" not in log and f"localcheckpoint {rule}:" not in log

    # Each shard's views were one submitit job array on the gpu partition, one GPU per task.
    for shard in shards:
        (array,) = render_arrays(workdir, shard)
        states = slurm_cluster.wait(int(array), array_tasks=2)
        assert states == {f"{array}_0": "COMPLETED", f"{array}_1": "COMPLETED"}
        for row in sacct(slurm_cluster, array, "Partition", "AllocTRES"):
            assert row["Partition"] == "gpu", row
            assert "cpu=1," in row["AllocTRES"] and "gres/gpu=1" in row["AllocTRES"], row  # the config's dispatch
        assert Counter(rendered_windows(workdir, shard)) == Counter(dict.fromkeys(all_windows(workdir, shard), 1))

    report = status(workdir)
    assert report.returncode == 0, report.stdout + report.stderr
    assert "2 done" in report.stdout


def test_killed_render_task_leaves_nothing_that_looks_finished_and_resumes(
    slurm_cluster: SlurmCluster, planned: Path, tmp_path: Path, cancel_leftovers
):
    # Slower windows than TINY's (several seconds each), so that the kill lands mid-shard.
    config = with_changes(TINY, render={"width": 96, "height": 72, "samples": 8})
    workdir = copy_planned(planned, tmp_path / "run", config)
    cancel_leftovers(workdir)
    victim, other = TRAIN, VAL
    everything = all_windows(workdir, victim)

    # No retries here: the rerun below is what must resume.
    run = Run(workdir, slurm_workflow_command(workdir, "--retries", "0"), timeout_s=420)
    deadline = time.monotonic() + 300
    while not cache_files(workdir, victim):
        assert run.proc.poll() is None, f"snakemake ended before {victim} rendered a window\n{run.tail()}"
        assert time.monotonic() < deadline, f"no window of {victim} rendered after 300 s\n{run.tail()}"
        time.sleep(0.05)
    # Kill the shard's bpy workers at once. (scancel would not do: Slurm sends SIGTERM,
    # which submitit ignores, and SIGKILL only KillWait seconds later.) A task still
    # pending is cancelled first, so that none starts in between.
    (array,) = render_arrays(workdir, victim)
    slurm_cluster.run("scancel", "--state=PENDING", array)
    killed = kill_workers(work_dir(workdir) / "logs" / "submitit" / victim)
    assert killed, "no running render task found to kill"
    states = slurm_cluster.wait(int(array), array_tasks=2)
    # The killed task ends FAILED, or CANCELLED when Slurm tears its step down first ("srun:
    # Force Terminated"); which one depends on timing, and either ends it without a result.
    ended = set(states.values())
    assert ended & {"FAILED", "CANCELLED"} and ended <= {"FAILED", "CANCELLED", "COMPLETED"}, states

    code = run.wait(360)
    assert code not in (0, 124, 137), f"snakemake exited {code}\n{run.tail()}"
    log = run.log
    assert "Error in rule render:" in log and f"wildcards: shard={victim}" in log, run.tail()

    # Nothing partial looks finished.
    out = output_dir(workdir)
    assert not (out / "shards" / f"{victim}.h5").exists()
    assert not (work_dir(workdir) / "render" / f"{victim}.json").exists()
    assert not (out / "manifest.json").exists() and not (out / "SHA256SUMS").exists()
    assert sorted(p.name for p in (out / "shards").iterdir()) == [f"{other}.h5"]
    kept = cache_files(workdir, victim)
    assert 0 < len(kept) < len(everything)
    victim_takes = {t.take.take_id for t in shard_document(workdir, victim).takes}
    for path in render_cache(workdir).root.glob("*/*/*"):
        if path.parent.name in victim_takes and not (path.suffix == ".npz" and path in kept):
            assert path.name.startswith(".") and path.name.endswith(".tmp"), f"unexpected file {path}"
    for path in kept:
        with np.load(path) as data:  # complete archives: every member reads
            assert all(data[name].size >= 0 for name in data.files)
    render_log = (work_dir(workdir) / "logs" / "render" / f"{victim}.log").read_text()
    assert "render tasks failed" in render_log and "without a result" in render_log, render_log
    report = status(workdir)
    (victim_line,) = [line for line in report.stdout.splitlines() if victim in line and "failed" in line]
    assert "without a result" in victim_line and "_log.err" in victim_line, report.stdout
    before_rerun = rendered_windows(workdir, victim)
    other_shard = out / "shards" / f"{other}.h5"
    other_mtime = other_shard.stat().st_mtime_ns

    # The rerun regenerates only the victim, and renders only its missing windows.
    rerun = run_workflow(workdir, timeout_s=420)
    log = rerun.log
    assert log.count("localrule render:") == 1 and f"wildcards: shard={victim}" in log, rerun.tail()
    assert [m["rule"] for m in SUBMITTED.finditer(log)] == ["merge", "manifest"], rerun.tail()
    assert other_shard.stat().st_mtime_ns == other_mtime
    assert_dataset_complete(workdir, [TRAIN, VAL])
    after = cache_files(workdir, victim)
    assert {p: after[p] for p in kept} == kept, "a window finished before the kill was rendered again"
    rendered_now = rendered_windows(workdir, victim) - before_rerun
    missing_at_kill = everything - {window_of(p) for p in kept}
    assert set(rendered_now) == missing_at_kill and set(rendered_now.values()) == {1}


def test_task_at_its_time_limit_is_requeued_and_resumes(
    slurm_cluster: SlurmCluster, planned: Path, tmp_path: Path, cancel_leftovers
):
    # Each view task must render for longer than one 1-minute attempt lasts. Slurm
    # signals a task signal_delay_s before its limit, or up to 30 s earlier (its
    # time-limit checks run every 30 s): here 25-55 s after the start. submitit then
    # checkpoints and requeues it. The samples are chosen for about 60 s of rendering
    # on this machine (measured on one clip): long enough for a requeue, short enough
    # for a quick test. Should the machine turn out faster during the run (no task
    # outlived its first attempt), the run is repeated with more samples.
    config = with_changes(
        TINY,
        render={"width": 160, "height": 120, "samples": 16},
        dispatch={"timeout_min": 1, "signal_delay_s": 5, "max_requeues": 8},
    )
    workdir = copy_planned(planned, tmp_path / "run", config)
    cancel_leftovers(workdir)
    samples = calibrated_samples(workdir, TRAIN, seconds=60)
    target = f"{config['output_dir']}/work/render/{TRAIN}.json"
    for _ in range(3):
        config["render"]["samples"] = samples
        make_run(workdir, config)
        local_snakemake(workdir, plan_target(config))
        earlier = set(render_arrays(workdir, TRAIN))
        run_workflow(workdir, target, timeout_s=480)
        (array,) = set(render_arrays(workdir, TRAIN)) - earlier
        rows = sacct(slurm_cluster, array, "State", "ElapsedRaw", duplicates=True)
        requeued = [r["JobID"] for r in rows if r["State"] == "REQUEUED"]
        if requeued:
            break
        longest = max(int(r["ElapsedRaw"]) for r in rows)
        print(f"no requeue: the tasks took at most {longest} s with {samples} samples; again with more")
        samples = math.ceil(samples * 80 / max(longest, 1))
    else:
        pytest.fail(f"no render task reached its time limit; sacct: {rows}")

    # Each window was rendered exactly once across all attempts.
    counts = rendered_windows(workdir, TRAIN, array)
    assert counts == Counter(dict.fromkeys(all_windows(workdir, TRAIN), 1)), counts
    assert len(cache_files(workdir, TRAIN)) == len(counts)
    # Not every task's final state is COMPLETED: Slurm's signal may also reach a task
    # that has just written its result and is exiting, which then ends as FAILED.
    # The render job goes by the results, and every view has one.
    done = json.loads((work_dir(workdir) / "render" / f"{TRAIN}.json").read_text())
    assert sorted(v["view"] for v in done["views"]) == ["back", "front"]

    # Slurm's accounting shows the requeues (above); submitit's logs the checkpoints.
    task_logs = (work_dir(workdir) / "logs" / "submitit" / TRAIN).glob(f"{array}_*/*_log.err")
    logs = {p.parent.name: p.read_text(errors="replace") for p in task_logs}
    for task in set(requeued):
        text = logs[task]
        assert "Caught signal SIGUSR2" in text and "Calling checkpoint method" in text, text[-3000:]
        # Each attempt started with what the ones before had left.
        todo = [int(n) for n in re.findall(r"\] (\d+) windows to render", text)]
        per_view = len(all_windows(workdir, TRAIN)) // 2
        assert len(todo) >= 2 and todo[0] == per_view and todo == sorted(todo, reverse=True) and todo[-1] < per_view, (
            todo
        )


def test_failing_clip_fails_its_shard_only_and_status_names_it(
    slurm_cluster: SlurmCluster, planned: Path, tmp_path: Path, cancel_leftovers
):
    workdir = copy_planned(planned, tmp_path / "run", TINY)
    cancel_leftovers(workdir)
    # The val shard holds the take of one sequence; break that sequence's motion file.
    sources = {shard: {t.take.source for t in shard_document(workdir, shard).takes} for shard in (TRAIN, VAL)}
    assert len(sources[VAL]) == 1 and not sources[VAL] & sources[TRAIN], sources
    motion = workdir / TINY["motion"]["amass_root"] / sources[VAL].pop()
    good = motion.read_bytes()
    motion.write_bytes(b"this is not a zip archive" * 10)

    run_workflow(workdir, timeout_s=420, expect_ok=False)
    out = output_dir(workdir)
    assert (out / "shards" / f"{TRAIN}.h5").exists()
    assert not (out / "shards" / f"{VAL}.h5").exists() and not (out / "manifest.json").exists()
    render_log = (work_dir(workdir) / "logs" / "render" / f"{VAL}.log").read_text()
    assert "MotionError" in render_log and str(motion.relative_to(workdir)) in render_log, render_log
    assert re.search(r"log: \S+_log\.err", render_log), render_log

    report = status(workdir)
    assert report.returncode == 2, report.stdout + report.stderr
    lines = report.stdout.splitlines()
    (val_line,) = [line for line in lines if VAL in line and "failed" in line]
    assert "MotionError" in val_line and str(motion.relative_to(workdir)) in val_line, report.stdout
    assert re.search(r"log: \S+_log\.err", val_line), report.stdout
    assert any(TRAIN in line and " done " in line for line in lines), report.stdout
    command = next(line.strip() for i, line in enumerate(lines) if i and "rerun" in lines[i - 1])
    assert command.startswith(f"snakemake --profile {PROFILE} "), report.stdout
    assert command.endswith(" --configfile config.yaml"), report.stdout
    assert f"{VAL}.h5" in command and f"{TRAIN}.h5" not in command, command

    # Restore the file and run the printed command (plus where the workflow lives,
    # and this test's overrides): the dataset completes, only val is redone.
    motion.write_bytes(good)
    train_mtime = (out / "shards" / f"{TRAIN}.h5").stat().st_mtime_ns
    argv = command.split()
    where = ["-s", str(SNAKEFILE), "-d", str(workdir)]
    rerun = Run(workdir, [str(BIN / "snakemake"), *argv[1:], *where, *SLURM_ARGS], timeout_s=420)
    assert rerun.wait(450) == 0, rerun.tail()
    assert rerun.log.count("localrule render:") == 1 and f"wildcards: shard={VAL}" in rerun.log
    assert (out / "shards" / f"{TRAIN}.h5").stat().st_mtime_ns == train_mtime
    assert_dataset_complete(workdir, [TRAIN, VAL])
    assert status(workdir).returncode == 0
