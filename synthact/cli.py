"""The ``synthact`` command: one subcommand per workflow stage, plus tools.

The Snakemake rules call these subcommands with the config the workflow
resolved, as a file (``--config-json WORK/config/<hash>.json``), which they
read without validating it again (``synthact.resolved_config``); a person
passes ``--config FILE`` instead, which is validated in full.
Known errors print one clear message and exit 1, without a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from synthact.config import RunPaths, config_hash, load_config, resolve_dispatch
from synthact.config_sections import RunConfig
from synthact.errors import SynthActError, describe_os_error, output_error, space_error
from synthact.ownership import REUSE_KEY, as_recorded, check_owner, names_output_dir
from synthact.render.cache import RenderCache
from synthact.resolved_config import read_resolved

if TYPE_CHECKING:
    from rich.console import Console


def _config(args: argparse.Namespace) -> RunConfig:
    """The stage's config: the workflow's resolved file as it is, or the user's file validated in full."""
    dispatch = getattr(args, "dispatch_json", None)
    if args.config_json:  # from the workflow, which has checked the folder's owner already
        resolved = read_resolved(args.config_json)
        return RunConfig.from_resolved(resolved, json.loads(dispatch or "{}"), source="--dispatch-json")
    config = load_config(args.config)
    _check_folder_owner(args.config, config)
    if dispatch:
        config["dispatch"] = resolve_dispatch(json.loads(dispatch), source="--dispatch-json")
    return RunConfig.from_dict(config)


def _check_folder_owner(config_file: str, config: dict) -> None:
    """A stage run by hand keeps out of another configuration's run, as the workflow does (ownership.py)."""
    files = as_recorded([config_file])
    paths = RunPaths.from_config(config)
    chose = names_output_dir(files, {})
    check_owner(paths, files, config_hash(config), allow_reuse=config[REUSE_KEY], chose_output_dir=chose)


def cmd_demo_data(args: argparse.Namespace) -> None:
    from synthact.demo.generate import generate_demo_inputs

    generate_demo_inputs(_config(args).as_dict())


def cmd_fit(args: argparse.Namespace) -> None:
    from synthact.fitting.convert import run_fit

    run_fit(_config(args).as_dict(), workers=args.workers)


def cmd_index(args: argparse.Namespace) -> None:
    from synthact.takes.index import IndexSettings, build_index

    config = _config(args)
    settings = IndexSettings.from_sections(config.motion, config.clips, config.render)
    build_index(settings, config.paths.take_table, config.paths.index_report)


def cmd_plan(args: argparse.Namespace) -> None:
    from synthact.stages import stage_key
    from synthact.takes.plan import build_plan

    config = _config(args)
    key = stage_key(config.as_dict(), "plan")
    shards = build_plan(config.paths, config.rig, config.render, config.plan, config.seed, key)
    takes = sum(len(s.takes) for s in shards)
    frames = sum(s.num_frames for s in shards)
    print(
        f"plan: {takes} takes ({frames} frames) in {len(shards)} shards, {len(config.rig.views)} views each",
        file=sys.stderr,
    )


def cmd_render_shard(args: argparse.Namespace) -> None:
    from synthact.dispatch.submit import render_shard
    from synthact.resolved_config import resolved_text
    from synthact.stages import run_key

    config = _config(args)
    paths = config.paths
    cache = RenderCache.for_key(paths.work_dir, run_key(config.as_dict()))
    summary = render_shard(
        resolved_text(config.as_dict()),
        config.render,
        config.dispatch,
        shard_plan=paths.shard_plan(args.shard),
        cache=cache,
        done_path=paths.render_done(args.shard),
        log_dir=paths.dispatch_logs(args.shard),
        job_threads=args.threads,
        render_log=paths.work_dir / "logs" / "render" / f"{args.shard}.log",
    )
    rendered = sum(v["rendered"] for v in summary["views"])
    print(
        f"[{args.shard}] done: {rendered} take-view windows rendered now; {summary['num_takes']} takes "
        f"({summary['num_frames']} frames) x {len(summary['views'])} views in {cache.root}",
        file=sys.stderr,
    )


def cmd_merge(args: argparse.Namespace) -> None:
    from synthact.shards.writer import write_shard
    from synthact.stages import run_key
    from synthact.takes.plan import ShardPlan

    config = _config(args)
    paths = config.paths
    plan = ShardPlan.read(paths.shard_plan(args.shard))
    key = run_key(config.as_dict())
    attrs = {"seed": config.seed, "render_key": key}
    from synthact.isolate import run_writer

    # In a child: on a full disk HDF5 floods stderr and may crash; the parent says one line and cleans up.
    target = paths.shard_file(args.shard)
    n_takes, n_bytes = run_writer(
        write_shard,
        (plan, RenderCache.for_key(paths.work_dir, key), target, attrs),
        target,
        paths.work_dir / "logs" / "merge-writer" / f"{args.shard}.log",
    )
    from synthact.shards.integrity import write_record

    write_record(paths, args.shard)  # what a later status or rerun checks the shard against
    print(f"[{args.shard}] merged {n_takes} takes, {n_bytes / 1e6:.1f} MB -> {target}", file=sys.stderr)


def cmd_labels(args: argparse.Namespace) -> None:
    from synthact.labels.stage import build_labels

    config = _config(args)
    build_labels(config.paths, config.labels, config.motion, config.preset)


def cmd_manifest(args: argparse.Namespace) -> None:
    from synthact.shards.manifest import write_manifest
    from synthact.stages import run_key
    from synthact.takes.plan import read_plan

    config = _config(args)
    paths = config.paths
    plan = read_plan(paths.plan)
    shard_paths = [paths.shard_file(s["name"]) for s in plan["shards"]]
    label_files = [(p, paths.clip_table(p), paths.class_table(p)) for p in config.labels.protocols]
    from synthact.shards.dataset_card import write_card
    from synthact.shards.integrity import refuse_changed_shard

    try:
        manifest = write_manifest(
            paths.output_dir,
            shard_paths,
            label_files,
            run_key(config.as_dict()),
            plan["views"],
            check=lambda e: refuse_changed_shard(paths, e),
            card=lambda m: write_card(paths.output_dir, m, config.as_dict()),
        )
    except OSError as exc:
        raise output_error(exc, paths.manifest) from None
    total = sum(s.size for s in manifest.shards)
    splits = ", ".join(f"{n} {split}" for split, n in manifest.splits.items())
    clips = ", ".join(f"{e.protocol} {e.num_clips}" for e in manifest.labels if e.path.endswith("clips.jsonl"))
    print(
        f"SynthAct dataset ready: {manifest.num_takes} takes ({splits}), {manifest.num_frames} frames x "
        f"{len(manifest.views)} views ({', '.join(manifest.views)}) in {len(manifest.shards)} shards, "
        f"{total / 1e6:.1f} MB\n  clips:     {clips}\n"
        f"  shards:    {paths.output_dir / 'shards'}\n  labels:    {paths.labels_dir}\n  manifest:  {paths.manifest}\n"
        f"  checksums: {paths.checksums} (check with: cd {paths.output_dir} && sha256sum -c SHA256SUMS)\n"
        f"  card:      {paths.output_dir / 'README.md'}"
    )


def cmd_verify(args: argparse.Namespace) -> int:
    from synthact.shards.manifest import verify

    output_dir = Path(args.output_dir)
    manifest, problems = verify(output_dir, progress=lambda e: print(f"checking {e.path}", file=sys.stderr))
    for problem in problems:
        print(f"FAILED {problem.path}: {problem.kind}: {problem.detail}")
    files = manifest.files()
    print(
        f"verify: {len(files) - len(problems)}/{len(files)} files OK ({len(manifest.shards)} shards, "
        f"{len(manifest.labels)} label files, {manifest.num_takes} takes) in {output_dir}"
    )
    if problems:  # verify writes nothing; the workflow repairs, when it is told which shards to hash
        print(
            "to repair: `synthact status --config YOUR_CONFIG --verify` prints the command that moves damaged and "
            "unlisted shards aside and rebuilds them",
            file=sys.stderr,
        )
    return 1 if problems else 0


def cmd_status(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from synthact.shards.status import rerun_command, rerun_configfiles, rerun_options, run_status
    from synthact.stages import run_key

    config = _config(args)
    paths = config.paths
    statuses = run_status(paths, run_key(config.as_dict()), verify=args.verify)
    table = Table(title=f"SynthAct run in {paths.output_dir}")
    for column in ("shard", "state", "windows rendered", "detail"):
        table.add_column(column)
    for s in statuses:
        table.add_row(s.name, s.state, f"{s.rendered}/{s.total}", s.detail)
    console = Console()
    console.print(table)
    counts = {state: sum(s.state == state for s in statuses) for state in dict.fromkeys(s.state for s in statuses)}
    console.print(", ".join(f"{n} {state}" for state, n in counts.items()))
    if args.accounting:
        _print_accounting(console, paths, [s.name for s in statuses])
    options = rerun_options(paths, config.dispatch, args.profile)
    command = rerun_command(paths, statuses, options, rerun_configfiles(paths, args.config))
    if command:
        console.print(f"rerun just these shards with:\n  {command}", soft_wrap=True)
    return 0 if not command else 2


def _print_accounting(console: Console, paths: RunPaths, shards: list[str]) -> None:
    from rich.table import Table

    from synthact.dispatch.accounting import Usage, run_accounting

    per_shard, total = run_accounting(paths, shards)
    table = Table(title="Slurm render tasks (sacct)")
    for column in ("shard", "jobs", "elapsed h", "GPU-hours", "peak RSS MB", "states"):
        table.add_column(column)

    def row(name: str, u: Usage) -> None:
        states = ", ".join(f"{n} {s}" for s, n in sorted(u.states.items()))
        table.add_row(
            name,
            str(u.jobs),
            f"{u.elapsed_s / 3600:.4f}",
            f"{u.gpu_hours:.4f}",
            f"{u.peak_rss_bytes / 2**20:.1f}",
            states,
        )

    for name, usage in per_shard.items():
        row(name, usage)
    row("total", total)
    console.print(table)


def cmd_amass_check(args: argparse.Namespace) -> int:
    from synthact.sources.amass_check import check_amass, format_report

    path = Path(args.path)
    if not path.is_dir():
        print(f"synthact amass check: error: {path}: not a folder", file=sys.stderr)
        return 2
    report = check_amass(path, deep=args.deep, workers=args.workers)
    print(format_report(report))
    if report.total_sequences == 0:
        return 2
    return 0 if report.ok else 1


def cmd_amarv_password(args: argparse.Namespace) -> None:
    from synthact.sources.amarv_password import amarv_password

    print(amarv_password(Path(args.path)))


def _add_config_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--config", help="configuration YAML file")
    group.add_argument(
        "--config-json",
        metavar="RESOLVED_FILE",
        help="the resolved configuration the workflow writes (WORK/config/<hash>.json), read without validating again",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="synthact", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    stages = {
        "demo-data": (cmd_demo_data, "generate the built-in licence-free inputs (body model, motion, labels)"),
        "index": (cmd_index, "build the take table (sequence x repetition, frames, source labels)"),
        "plan": (cmd_plan, "assign whole takes to shards and draw every view's camera placement"),
        "render-shard": (cmd_render_shard, "render every view of one shard through submitit"),
        "merge": (cmd_merge, "merge one shard's render results into an HDF5 shard"),
        "labels": (cmd_labels, "write the clip tables of every label protocol (no re-render)"),
        "manifest": (cmd_manifest, "write manifest.json and SHA256SUMS"),
    }
    for name, (func, help_text) in stages.items():
        p = sub.add_parser(name, help=help_text)
        _add_config_args(p)
        p.set_defaults(func=func)
        if name in ("render-shard", "merge"):
            p.add_argument("--shard", required=True)
        if name == "render-shard":
            p.add_argument("--threads", type=int, default=1, help="cores this job may use (Snakemake's {threads})")
            p.add_argument("--dispatch-json", help="dispatch settings as JSON (overrides the config's)")
    p = sub.add_parser(
        "fit",
        help="fit SMPL-H to NTU RGB+D / Smarthome skeletons, or convert 3D pose estimates (motion.source),"
        " as AMASS + BABEL files",
    )
    _add_config_args(p)
    p.add_argument("--workers", type=int, default=1, help="parallel fitting processes (Snakemake's {threads})")
    p.set_defaults(func=cmd_fit)
    p = sub.add_parser("status", help="shards done, failed or missing, and the command that reruns the rest")
    _add_config_args(p)
    p.add_argument("--profile", help="Snakemake profile to put in the rerun command (default: how the run was started)")
    p.add_argument("--verify", action="store_true", help="recompute every finished shard's sha256 (reads them all)")
    p.add_argument("--accounting", action="store_true", help="elapsed time, GPU-hours and peak RSS per shard (sacct)")
    p.set_defaults(func=cmd_status)
    amass = sub.add_parser("amass", help="tools for an AMASS download").add_subparsers(
        dest="amass_command", required=True
    )
    p = amass.add_parser("check", help="which AMASS subsets are present, sequence counts, unreadable files")
    p.add_argument("path", help="AMASS root folder")
    p.add_argument("--deep", action="store_true", help="fully load every file (slower, catches damaged data)")
    p.add_argument("--workers", type=int, default=8, help="parallel readers")
    p.set_defaults(func=cmd_amass_check)
    p = sub.add_parser("amarv-password", help="the AMARV archive password, from your AMASS SMPL+H download")
    p.add_argument("path", help="AMASS root folder")
    p.set_defaults(func=cmd_amarv_password)
    p = sub.add_parser("verify", help="recompute shard checksums against the manifest")
    p.add_argument("output_dir")
    p.set_defaults(func=cmd_verify)
    from synthact.consume.commands import add_consume_commands

    add_consume_commands(sub)  # export, preview, stats
    return parser


def known_errors() -> tuple[type[BaseException], ...]:
    """Errors that carry a complete message for the user: one line, no traceback.

    SynthAct's own errors all inherit SynthActError; the built-ins here are
    the ones our code lets through with a message that already names the file.
    """
    return (SynthActError, FileNotFoundError, json.JSONDecodeError)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    one_line: tuple[type[BaseException], ...] = (*known_errors(), OSError)
    try:
        return args.func(args) or 0
    except one_line as exc:  # OSError: disk full, permission denied, ...: one line, the file named
        print(f"synthact {args.command}: error: {user_message(exc)}", file=sys.stderr)
        return 1
    except Exception as exc:  # a full disk that a later error hid (a writer failing again as it closes)
        full = space_error(exc)
        if full is None:
            raise
        print(f"synthact {args.command}: error: {describe_os_error(full[0])}", file=sys.stderr)
        return 1


def user_message(exc: BaseException) -> str:
    """Our own errors whole (a list of missing files and the fix may follow the first line);
    other OSErrors as one line naming the file, without HDF5's error stack."""
    if isinstance(exc, SynthActError) or not isinstance(exc, OSError):
        return str(exc)
    return describe_os_error(exc)


if __name__ == "__main__":
    sys.exit(main())
