#!/usr/bin/env python
"""Plan an AMARV-size run and time ``snakemake -n`` on it.

AMARV is every labelled BABEL sequence (about 13,000 AMASS sequences, 43.5 hours)
rendered three times from four views, over 800,000 clips in all. This script
builds a synthetic take table of that size in a temporary folder, runs the plan
stage on it, then asks Snakemake for a dry-run of the whole workflow, and prints
the wall time and peak memory of both:

    python benchmarks/amarv_dryrun.py                      # 13,220 sequences x 3 takes
    python benchmarks/amarv_dryrun.py --sequences 1000     # a quick look

Steps:

1. **Take table.** ``--sequences`` x ``--repetitions`` synthetic but realistic
   ``Take`` records (AMASS file layout, BABEL-like durations of about 12 s at
   30 fps, 2-11 labels each with BABEL categories, trajectories), about 85 % train
   and 15 % val by sequence, sorted by source like the real ``index`` stage
   writes them. Written with ``write_take_table``, plus an index report, where the
   ``index`` rule declares its outputs.
2. **Plan.** ``build_plan(config)`` in a child process (so that its peak memory
   is its own): shard plans of whole takes with every view's draws, then ``plan.json``.
3. **Dry-run.** ``snakemake -n`` from the repository root with the run's config
   (``preset: amarv``, ``demo.enabled: false``, output and work folders in the
   temporary folder, removed unless kept). ``index`` and ``plan`` are up to date,
   so the DAG holds one render and one merge job per shard, the labels, the
   manifest, and ``all``. The script checks that.
4. **Figures**: takes, shards, jobs, plan seconds and peak MB, dry-run seconds
   and peak MB, jobs per second; and the target: dry-run within 30 s and 2 GiB.

Why index and plan count as up to date without any ``--touch``: Snakemake 9
reruns a job whose outputs exist only for reasons it can prove. Params, code,
input-set and software-environment triggers compare against the metadata that
Snakemake records under ``.snakemake/metadata`` when it runs a job itself;
for an output without metadata it has nothing to compare, so those triggers
stay silent (``persistence.params_changed`` & co. skip files with no record).
What remains is the mtime trigger, and the order of this script already
satisfies it: ``index`` has no inputs when the demo is off, and ``plan.json``
is written after the take table (``build_plan`` writes it last). Nor are the
outputs "incomplete": Snakemake flags those only for jobs it started. So no
``--touch`` run is needed (and none would be wanted: it would write metadata
for temporary paths into the repository's ``.snakemake``). A dry-run takes
no lock and writes no metadata (it only refreshes ``.snakemake/iocache``), so
it does not disturb other runs in the repository.

Peak memory is the measured process's own maximum resident set size, and
CPU seconds its user + system time, from ``os.wait4`` through a small launcher
process (see ``LAUNCHER``). On a shared machine CPU seconds are the steadier
figure; the target is stated in wall time.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from synthact.config import RunPaths, validate_config  # noqa: E402
from synthact.sources.babel_categories import BABEL_CATEGORIES  # noqa: E402
from synthact.takes.records import SourceLabel, Take, make_take_id, write_take_table  # noqa: E402

AMARV_SEQUENCES = 13_220  # BABEL's labelled sequences (train + val + test files)
TARGET_SECONDS = 30.0
TARGET_MB = 2048.0

# AMASS sub-datasets with their capture rates, in the AMASS folder layout
# (``<dataset>/<dataset>/<subject>/<trial>_poses.npz``, as BABEL's feat_p).
AMASS_DATASETS = (
    ("ACCAD", 120.0),
    ("BMLhandball", 240.0),
    ("BMLmovi", 120.0),
    ("BMLrub", 120.0),
    ("CMU", 120.0),
    ("DFaust", 60.0),
    ("EKUT", 100.0),
    ("EyesJapanDataset", 120.0),
    ("HDM05", 120.0),
    ("HumanEva", 120.0),
    ("KIT", 100.0),
    ("MoSh", 120.0),
    ("PosePrior", 120.0),
    ("SFU", 120.0),
    ("SSM", 120.0),
    ("TCDHands", 120.0),
    ("TotalCapture", 60.0),
    ("Transitions", 120.0),
)
FPS = 30.0
MEAN_SECONDS = 11.8  # 43.5 h over BABEL's sequences
RAW_SUFFIXES = ("", " forward", " slowly", " to the left", " with right hand", " in place", " and turn")


# --------------------------------------------------------------------------- take table


def synthetic_takes(sequences: int, repetitions: int, val_fraction: float, seed: int) -> Iterator[Take]:
    """Yield ``sequences`` x ``repetitions`` realistic takes, sorted by source, split by sequence."""
    rng = random.Random(seed)
    cum_weights = list(itertools.accumulate(1.0 / (i + 1) ** 0.9 for i in range(len(BABEL_CATEGORIES))))
    produced, sid, subject = 0, 10_000, 0
    while produced < sequences:
        dataset, source_fps = AMASS_DATASETS[produced * len(AMASS_DATASETS) // sequences]
        for trial in range(rng.randint(3, 11)):
            sid += 1
            source = f"{dataset}/{dataset}/s{subject:06d}/{trial:03d}_poses.npz"
            split = "val" if rng.random() < val_fraction else "train"
            seconds = max(1.0, rng.gammavariate(2.0, MEAN_SECONDS / 2.0))
            frames = int(seconds * FPS)
            labels = []
            for _ in range(rng.randint(2, 11)):
                a = rng.uniform(0, seconds - 0.5)
                cats = tuple(dict.fromkeys(rng.choices(BABEL_CATEGORIES, cum_weights=cum_weights, k=rng.randint(1, 3))))
                labels.append(
                    SourceLabel(
                        seg_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                        start_t=round(a, 3),
                        end_t=round(min(seconds, a + rng.uniform(0.5, 8.0)), 3),
                        act_cat=cats,
                        raw_label=cats[0] + rng.choice(RAW_SUFFIXES),
                        proc_label=cats[0],
                        annotation_id=f"lid-{sid}",
                        annotator="a",
                        whole_sequence=False,
                        label_file=f"{split}.json",
                    )
                )
            for repetition in range(repetitions):
                yield Take(
                    take_id=make_take_id(source, repetition),
                    sequence_key=source,
                    source=source,
                    sequence_id=str(sid),
                    split=split,
                    repetition=repetition,
                    fps=FPS,
                    source_fps=source_fps,
                    num_sequence_frames=frames,
                    duration_s=round(seconds, 3),
                    spans=((0, frames),),
                    gender=rng.choice(("female", "male", "neutral")),
                    labels=tuple(labels),
                    path_center=(round(rng.gauss(0, 0.8), 6), round(rng.gauss(0, 0.8), 6)),
                    path_radius=round(rng.gammavariate(1.5, 0.8), 6),
                    heading_deg=round(rng.uniform(-180, 180), 6),
                )
            produced += 1
            if produced == sequences:
                return
        subject += 1


def stub_inputs(root: Path) -> None:
    """Empty input folders and files where the config points, so that the workflow's start-up
    check of the run's inputs passes: index is up to date, so nothing ever reads them."""
    (root / "amass").mkdir(parents=True, exist_ok=True)
    (root / "babel").mkdir(parents=True, exist_ok=True)
    for name in ("train.json", "val.json"):
        (root / "babel" / name).touch()
    for gender in ("female", "male"):
        (root / "body_models" / "smplh" / gender).mkdir(parents=True, exist_ok=True)
        (root / "body_models" / "smplh" / gender / "model.npz").touch()


def run_config(root: Path, frames_per_shard: int, views: int, seed: int) -> dict:
    """The AMARV run (``preset: amarv``) in ``root``, validated: every key filled in."""
    config = {
        "preset": "amarv",
        "seed": seed,
        "output_dir": str(root / "output"),
        "work_dir": str(root / "work"),
        "demo": {"enabled": False, "data_dir": str(root / "demo")},
        "motion": {  # never read: index is up to date (stub_inputs makes them exist)
            "amass_root": str(root / "amass"),
            "babel_dir": str(root / "babel"),
            "babel_files": ["train.json", "val.json"],
            "body_model_dir": str(root / "body_models"),
        },
        "plan": {"frames_per_shard": frames_per_shard},
        "dispatch": {"cluster": "slurm"},  # as on a cluster: render jobs only wait (1 thread)
    }
    if views != 4:  # the preset's four views, or a ring of this many
        if views < 1:
            raise SystemExit("--views must be at least 1")
        config["rig"] = {"views": [{"name": f"view{i}", "azimuth_deg": 360.0 * i / views} for i in range(views)]}
    return validate_config(config, source="benchmark config")


# --------------------------------------------------------------------------- measuring


# Runs the command given as JSON, and writes its wall time and rusage as JSON.
# Linux counts the parent's memory high-water mark at fork into a child's
# ru_maxrss (exec records the old address space's peak), so a child of this
# script, which may have grown to hundreds of MB, would inherit it. This small
# launcher starts fresh and lean, so its child's figures are the child's own.
LAUNCHER = """
import json, os, subprocess, sys, time
cmd, report = json.loads(sys.argv[1]), sys.argv[2]
start = time.perf_counter()
proc = subprocess.Popen(cmd)
_, status, usage = os.wait4(proc.pid, 0)
wall = time.perf_counter() - start
code = os.waitstatus_to_exitcode(status)
with open(report, "w") as f:
    json.dump({"rc": code, "wall": wall, "maxrss_kib": usage.ru_maxrss, "cpu": usage.ru_utime + usage.ru_stime}, f)
sys.exit(0)
"""


def run_measured(cmd: list[str], stdout_path: Path, cwd: Path) -> tuple[int, float, float, float]:
    """Run ``cmd``; return (exit status, wall seconds, peak RSS in MB, CPU seconds).

    Peak RSS and CPU seconds are those of ``cmd``'s process (and of any child
    it waited for), from ``wait4``. On a shared machine CPU seconds say more
    than wall time.
    """
    report = stdout_path.with_suffix(".rusage.json")
    with open(stdout_path, "wb") as out:
        subprocess.run(
            [sys.executable, "-c", LAUNCHER, json.dumps(cmd), str(report)],
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=True,
        )
    result = json.loads(report.read_text())
    return result["rc"], result["wall"], result["maxrss_kib"] / 1024.0, result["cpu"]


PLAN_CHILD = """
import json, sys, time
sys.path.insert(0, {repo!r})
from synthact.config import load_config
from synthact.config_sections import RunConfig
from synthact.stages import stage_key
from synthact.takes.plan import build_plan
config = load_config({config!r})
run = RunConfig.from_dict(config)
start, cpu = time.perf_counter(), time.process_time()
shards = build_plan(run.paths, run.rig, run.render, run.plan, run.seed, stage_key(config, "plan"))
wall, cpu = time.perf_counter() - start, time.process_time() - cpu
print(json.dumps({{"plan_seconds": wall, "plan_cpu": cpu, "shards": len(shards)}}))
"""


def job_counts(text: str) -> dict[str, int]:
    """Per-rule counts from Snakemake's "Job stats" table."""
    counts: dict[str, int] = {}
    block = text.split("Job stats:", 1)[1] if "Job stats:" in text else ""
    for line in block.splitlines()[3:]:
        match = re.fullmatch(r"\s*(\S+)\s+(\d+)\s*", line)
        if not match:
            break
        counts[match.group(1)] = int(match.group(2))
    return counts


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({cpu}), {mem_gb:.0f} GiB RAM, Python {platform.python_version()}"


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sequences", type=int, default=AMARV_SEQUENCES, help="sequences (default: %(default)s, BABEL)"
    )
    parser.add_argument("--repetitions", type=int, default=3, help="takes per sequence (default: %(default)s, AMARV)")
    parser.add_argument(
        "--frames-per-shard", type=int, default=30000, help="plan.frames_per_shard (default: %(default)s)"
    )
    parser.add_argument("--views", type=int, default=4, help="views per take (default: %(default)s)")
    parser.add_argument(
        "--val-fraction", type=float, default=0.15, help="share of sequences in val (default: %(default)s)"
    )
    parser.add_argument("--cores", type=int, default=2, help="snakemake --cores (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work-dir", type=Path, help="use this folder (kept) instead of a temporary one")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--reuse-table", action="store_true", help="with --work-dir: reuse an existing take table")
    args = parser.parse_args(argv)
    if min(args.sequences, args.repetitions, args.frames_per_shard) < 1:
        parser.error("--sequences, --repetitions and --frames-per-shard must be positive")

    root = args.work_dir.resolve() if args.work_dir else Path(tempfile.mkdtemp(prefix="synthact-amarv-"))
    root.mkdir(parents=True, exist_ok=True)
    keep = args.keep or args.work_dir is not None
    try:
        return _benchmark(args, root)
    finally:
        if keep:
            print(f"kept: {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


def _benchmark(args: argparse.Namespace, root: Path) -> int:
    stub_inputs(root)
    config = run_config(root, args.frames_per_shard, args.views, args.seed)
    paths = RunPaths.from_config(config)
    config_file = root / "amarv-dryrun.yaml"
    # Every key, preset values included (applying the preset again changes nothing).
    config_file.write_text(yaml.safe_dump(config, sort_keys=False))
    print(f"work folder: {root}")
    print(f"machine: {machine()}")

    # 1. The take table, and the index report: both are outputs of rule index.
    paths.take_table.parent.mkdir(parents=True, exist_ok=True)
    if args.reuse_table and paths.take_table.exists():
        with paths.take_table.open() as table:
            num_takes = sum(1 for _ in table)
        print(f"take table: reusing {num_takes:,} takes")
    else:
        start = time.perf_counter()
        takes = synthetic_takes(args.sequences, args.repetitions, args.val_fraction, args.seed)
        num_takes = write_take_table(paths.take_table, takes)
        print(
            f"take table: {num_takes:,} takes, {paths.take_table.stat().st_size / 2**20:.0f} MB, "
            f"written in {time.perf_counter() - start:.1f} s"
        )
    paths.index_report.write_text(json.dumps({"num_takes": num_takes, "synthetic": True}) + "\n")
    # A plan from an earlier run in the same folder: plan afresh.
    paths.plan.unlink(missing_ok=True)
    shutil.rmtree(paths.plan.parent / "shards", ignore_errors=True)

    # 2. The plan stage, in its own process.
    plan_log = root / "plan.out"
    child = PLAN_CHILD.format(repo=str(REPO), config=str(config_file))
    rc, plan_wall, plan_mb, _ = run_measured([sys.executable, "-c", child], plan_log, cwd=REPO)
    plan_text = plan_log.read_text()
    if rc != 0:
        print(plan_text, file=sys.stderr)
        raise SystemExit(f"plan stage failed (exit {rc})")
    plan_result = json.loads(plan_text.strip().splitlines()[-1])
    num_shards = plan_result["shards"]
    plan_bytes = sum(f.stat().st_size for f in (paths.plan.parent / "shards").iterdir())
    num_frames = json.loads(paths.plan.read_text())["num_frames"]
    print(
        f"plan: {num_shards:,} shards in {plan_result['plan_seconds']:.1f} s "
        f"({plan_result['plan_cpu']:.1f} s CPU; {plan_wall:.1f} s with start-up), peak {plan_mb:.0f} MB; "
        f"shard documents {plan_bytes / 2**20:.0f} MB"
    )

    # 3. The dry-run, from the repository root, as users run it: the Snakefile
    # and its rules use paths relative to it (config.yaml, which a --configfile
    # replaces). A dry-run takes no lock and records no metadata; it only
    # refreshes .snakemake/iocache/latest.pkl (read only with --trust-io-cache).
    dry_log = root / "dryrun.out"
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "-n",
        "--cores",
        str(args.cores),
        "--snakefile",
        "workflow/Snakefile",
        "--configfile",
        str(config_file),
    ]
    print("dry-run: " + " ".join(cmd[2:]))
    rc, dry_wall, dry_mb, dry_cpu = run_measured(cmd, dry_log, cwd=REPO)
    dry_text = dry_log.read_text()
    if rc != 0:
        print(dry_text[-5000:], file=sys.stderr)
        raise SystemExit(f"snakemake -n failed (exit {rc}); output in {dry_log}")
    counts = job_counts(dry_text)
    total = counts.pop("total", sum(counts.values()))
    expected = {"all": 1, "labels": 1, "manifest": 1, "merge": num_shards, "render": num_shards}
    if counts != expected:
        raise SystemExit(f"unexpected DAG: {counts}, expected {expected} (see {dry_log})")

    # 4. Figures.
    rows = [
        ("takes", f"{num_takes:,} ({args.sequences:,} sequences x {args.repetitions}), {num_frames:,} frames per view"),
        ("views per take", f"{args.views}"),
        ("frames per shard", f"{args.frames_per_shard:,}"),
        ("shards", f"{num_shards:,}"),
        ("Snakemake jobs", f"{total:,}  (" + ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items())) + ")"),
        ("plan", f"{plan_result['plan_seconds']:.1f} s ({plan_result['plan_cpu']:.1f} s CPU), peak {plan_mb:,.0f} MB"),
        ("snakemake -n", f"{dry_wall:.1f} s ({dry_cpu:.1f} s CPU), peak {dry_mb:,.0f} MB"),
        ("dry-run rate", f"{total / dry_wall:,.0f} jobs/s ({1000 * dry_wall / total:.2f} ms/job)"),
    ]
    width = max(len(k) for k, _ in rows)
    print()
    for key, value in rows:
        print(f"  {key:<{width}}  {value}")
    ok = dry_wall <= TARGET_SECONDS and dry_mb <= TARGET_MB
    print(
        f"\ntarget (dry-run <= {TARGET_SECONDS:.0f} s and <= {TARGET_MB / 1024:.0f} GiB): {'met' if ok else 'NOT met'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
