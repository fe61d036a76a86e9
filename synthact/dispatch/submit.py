"""Dispatch a shard's render tasks through submitit, wait, and collect.

This process is light: under the Slurm profile it runs where Snakemake runs and
only waits, while the per-view tasks run as a job array on the GPU partition.
With ``dispatch.cluster: local`` the same code runs the tasks as local
processes (laptops, CI); ``debug`` runs them in this process.

A task that is preempted or reaches its time limit checkpoints and is requeued
by submitit; on restart it skips the windows already in the cache.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import resource
import signal
import sys
import time
from dataclasses import replace
from pathlib import Path

import submitit
from submitit.core.utils import FailedJobError, FailedSubmissionError

from synthact import atomic
from synthact.config_sections import DispatchSection, RenderSection, thawed
from synthact.dispatch.guard import (
    Interrupted,
    Watchdog,
    cancel_tasks,
    install_stop_handlers,
    job_ids,
    never_clearing,
    pending_reasons,
    record_jobs,
)
from synthact.errors import SynthActError, space_errno
from synthact.preflight import probe_device
from synthact.render.cache import RenderCache
from synthact.render.worker import ViewTask, render_view
from synthact.takes.plan import ShardPlan

POLL_SECONDS = 2.0
PENDING_CHECK_SECONDS = 10.0
JOBS_FILE = "jobs.jsonl"
RESULT_GRACE_SECONDS = 15.0


class RenderViewTask(submitit.helpers.Checkpointable):
    """A picklable, requeueable callable; resuming is safe since finished windows are skipped."""

    def __call__(self, task: ViewTask) -> dict:
        result = render_view(task)
        # The task's own peak memory, for accounting where Slurm gathers none (sacct MaxRSS empty).
        return dict(result, peak_rss_bytes=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)


class RenderFailed(SynthActError, RuntimeError):
    """One or more view tasks of a shard failed; the message names their logs."""


def make_executor(dispatch: DispatchSection, log_dir: Path, threads: int) -> submitit.Executor:
    # How often a timed-out task may be requeued is a constructor argument in
    # submitit, not an update_parameters one (that raises NameError).
    # A folder per job (%j) only on Slurm: submitit's local controller opens its log under
    # <folder>/<pid>/ before the submitting process has made that folder, and on a loaded
    # machine it loses the race (FileNotFoundError, a task that ends without a result).
    folder = log_dir / "%j" if dispatch.cluster == "slurm" else log_dir
    executor = submitit.AutoExecutor(
        folder=str(folder), cluster=dispatch.cluster, slurm_max_num_timeout=dispatch.max_requeues
    )
    executor.update_parameters(timeout_min=dispatch.timeout_min, name="synthact-render")
    if dispatch.cluster == "slurm":
        executor.update_parameters(
            slurm_partition=dispatch.partition,
            gpus_per_node=dispatch.gpus_per_task,
            cpus_per_task=dispatch.cpus_per_task,
            mem_gb=dispatch.mem_gb,
            slurm_array_parallelism=dispatch.array_parallelism,
            # Slurm sends USR2 this long before the time limit: submitit then
            # checkpoints and requeues the task (submitit's own default is 90 s).
            slurm_signal_delay_s=dispatch.signal_delay_s,
            # Plain values again: submitit checks for dicts and pickles its parameters.
            **{f"slurm_{k}": thawed(v) for k, v in dispatch.slurm_extra.items()},
        )
    elif dispatch.cluster == "local":
        executor.update_parameters(cpus_per_task=threads, gpus_per_node=0)
    return executor


def submit_tasks(executor: submitit.Executor, tasks: list[ViewTask], shard: str, cluster: str) -> list:
    """The view tasks as one job array, or ``RenderFailed`` in one line when submission fails.

    submitit prints ``sbatch``'s stderr and raises its own error with a traceback
    (``FailedJobError``); neither says what to do, so both become one line here.
    """
    said = io.StringIO()
    try:
        with contextlib.redirect_stderr(said):
            return executor.map_array(RenderViewTask(), tasks)
    except (FailedJobError, FailedSubmissionError, OSError) as exc:
        raise RenderFailed(submission_failure(shard, cluster, f"{exc}\n{said.getvalue()}")) from None


def submission_failure(shard: str, cluster: str, text: str) -> str:
    """One line: what the scheduler said, and where to look."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower()] or lines
    said = re.sub(r"^sbatch: error: ", "", errors[0]) if errors else "no reason given"
    if cluster != "slurm":
        return f"shard {shard}: the render tasks could not be started: {said}; nothing was started, rerun"
    return (
        f"shard {shard}: sbatch refused the render tasks: {said}; nothing was submitted. Check that Slurm answers "
        "(sinfo) and that dispatch.partition and dispatch.slurm_extra suit it, then rerun"
    )


def threads_per_task(render: RenderSection, dispatch: DispatchSection, job_threads: int, num_views: int) -> int:
    """Cycles threads per task: local tasks share the job's cores."""
    if render.threads:
        return render.threads
    if dispatch.cluster == "slurm":
        return dispatch.cpus_per_task
    return max(1, job_threads // num_views)


def missing_windows(plan: ShardPlan, cache: RenderCache) -> list[Path]:
    return cache.missing(plan.take_frames(), list(plan.views), plan.window_frames)


def wait_with_progress(
    jobs: list, plan: ShardPlan, cache: RenderCache, dispatch: DispatchSection | None = None
) -> None:
    """Print progress until every task ends; on Slurm, fail fast on a pending reason that never clears."""
    total = cache.count(plan.take_frames(), list(plan.views), plan.window_frames)
    last = -1
    checked = 0.0
    while not all(job.done() for job in jobs):
        done = total - len(missing_windows(plan, cache))
        if done != last:
            print(f"[{plan.name}] {done}/{total} take-view windows rendered", file=sys.stderr, flush=True)
            last = done
        if dispatch is not None and dispatch.cluster == "slurm" and time.monotonic() - checked > PENDING_CHECK_SECONDS:
            checked = time.monotonic()
            problem = never_clearing(pending_reasons(job_ids(jobs)), dispatch)
            if problem:
                raise RenderFailed(f"shard {plan.name}: {problem}")
        time.sleep(POLL_SECONDS)


def task_error(job: submitit.Job, exc: Exception | None = None) -> str:
    """The task's own error line, from its log; submitit's message wraps it."""
    try:
        lines = [line.strip() for line in Path(job.paths.stderr).read_text(errors="replace").splitlines()]
    except OSError:
        lines = []
    errors = [line for line in _without_finalizer_noise(lines) if _is_error_line(line)]
    if errors:
        # "synthact.sources.amass.MotionError: ..." -> "MotionError: ..."
        return re.sub(r"^(?:[A-Za-z_]\w*\.)+(?=\w+:)", "", errors[-1])
    if exc is None:  # killed: the last words of its log, e.g. Slurm's or srun's
        last = [line for line in lines if line and "Bypassing signal" not in line]
        return f"the task ended ({job.state}) without a result" + (f"; its log ends with: {last[-1]}" if last else "")
    return f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"


def _is_error_line(line: str) -> bool:
    head = line.split(":")[0]
    return bool(line) and ("Error" in head or "Exception" in head)


def _without_finalizer_noise(lines: list[str]) -> list[str]:
    """The log without Python's "Exception ignored in" blocks.

    A writer that failed on a full disk fails again when the interpreter
    finalises it at exit (zipfile's ``seek of closed file``), after the task's
    own error; that later line is never the cause.
    """
    kept, ignoring = [], False
    for line in lines:
        if line.startswith("Exception ignored in"):
            ignoring = True
        elif ignoring and _is_error_line(line) and not line.startswith("Traceback"):
            ignoring = False
        elif not ignoring:
            kept.append(line)
    return kept


def has_result(job: submitit.Job) -> bool:
    # A debug job runs when its result is asked for; the others leave a result file.
    return isinstance(job, submitit.DebugJob) or job.paths.result_pickle.exists()


def collect(jobs: list, views: list[str], shard: str) -> list[dict]:
    # A finished task's result file may show up late on a shared file system; a task
    # that was killed (SIGKILL, out of memory, node failure) or cancelled has none.
    # Wait once for all of them, not submitit's 15 s in turn for each.
    deadline = time.monotonic() + RESULT_GRACE_SECONDS
    while not all(has_result(job) for job in jobs) and time.monotonic() < deadline:
        time.sleep(0.5)
    results, failures, errors = [], [], []
    for job, view in zip(jobs, views, strict=True):
        if not has_result(job):
            errors.append(task_error(job))
            failures.append(f"  view {view!r} (job {job.job_id}): {errors[-1]}\n    log: {job.paths.stderr}")
            continue
        try:
            results.append(job.result())
        except Exception as exc:  # noqa: BLE001  submitit re-raises the task's error (any type), or UncompletedJobError
            errors.append(task_error(job, exc))
            failures.append(f"  view {view!r} (job {job.job_id}): {errors[-1]}\n    log: {job.paths.stderr}")
    if errors and all(space_errno(OSError(error)) is not None for error in errors):
        # One cause for all, and the task named the file: one line, as every stage says a full disk.
        cause = re.sub(r"^\w+: ", "", errors[0])  # "OutputError: " is the task's class, not news
        raise RenderFailed(f"shard {shard}: {cause}")
    if failures:
        raise RenderFailed(
            f"shard {shard}: {len(failures)} of {len(jobs)} render tasks failed; "
            "finished windows are kept and a rerun renders only the rest:\n" + "\n".join(failures)
        )
    return results


def render_shard(
    resolved_config: str,
    render: RenderSection,
    dispatch: DispatchSection,
    shard_plan: Path,
    cache: RenderCache,
    done_path: Path,
    log_dir: Path,
    job_threads: int,
    render_log: Path | None = None,
) -> dict:
    """Render every view of one shard; write ``done_path`` only once every window exists.

    ``resolved_config`` is the text of the resolved config file
    (``synthact.resolved_config``): each view task reads its sections from it
    without validating it again; ``threads`` is handed to the tasks apart from it.

    The tasks never outlive this call: a stop signal or a pending reason that
    never clears cancels them here, and a watchdog cancels them if this process
    is SIGKILLed (``guard``); the reason goes to ``render_log``. Every
    submission's job ids are appended to ``log_dir/jobs.jsonl`` (accounting).
    """
    plan = ShardPlan.read(shard_plan)
    views = list(plan.views)
    threads = threads_per_task(render, dispatch, job_threads, len(views))
    base = ViewTask(
        str(shard_plan), view="", cache_root=str(cache.root), resolved_config=resolved_config, threads=threads
    )
    tasks = [replace(base, view=view) for view in views]
    if dispatch.cluster != "slurm":  # the GPU is here: ask Cycles before starting tasks
        probe_device(render.device)
    env = submitit.helpers.clean_env() if dispatch.cluster == "slurm" else contextlib.nullcontext()
    install_stop_handlers()  # before submitting: a stop signal now still cancels what was submitted
    jobs: list = []
    watchdog = None
    try:
        with env:
            executor = make_executor(dispatch, log_dir, threads)
            jobs = submit_tasks(executor, tasks, plan.name, dispatch.cluster)
        record_jobs(log_dir / JOBS_FILE, dispatch.cluster, views, jobs)
        if dispatch.cluster != "debug":
            watchdog = Watchdog(dispatch.cluster, job_ids(jobs), render_log, plan.name)
        print(
            f"[{plan.name}] dispatched {len(jobs)} view tasks ({dispatch.cluster}); logs in {log_dir}",
            file=sys.stderr,
            flush=True,
        )
        wait_with_progress(jobs, plan, cache, dispatch)
        results = collect(jobs, views, plan.name)
    except Interrupted as stop:
        done = cancel_tasks(dispatch.cluster, job_ids(jobs))
        raise RenderFailed(
            f"shard {plan.name}: the render step got {signal.Signals(stop.signum).name} and "
            f"stopped its tasks ({done}); finished windows are kept and a rerun resumes"
        ) from None
    except RenderFailed:
        cancel_tasks(dispatch.cluster, [j.job_id for j in jobs if not j.done()])
        raise
    finally:
        if watchdog is not None:
            watchdog.stop()
    missing = missing_windows(plan, cache)
    if missing:
        raise RenderFailed(
            f"shard {plan.name}: tasks ended but {len(missing)} window results are missing, e.g. {missing[0]}"
        )
    summary = {"shard": plan.name, "views": results, "num_takes": len(plan.takes), "num_frames": plan.num_frames}
    atomic.write_text(done_path, json.dumps(summary, indent=1))
    return summary
