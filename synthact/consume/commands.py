"""The ``export``, ``preview`` and ``stats`` subcommands of ``synthact``.

Kept here, not in ``synthact/cli.py``, so the CLI module only registers them
(one call) and imports nothing heavy (PyAV, matplotlib) until they run.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from synthact.consume.run import ShardRun


def _run(output_dir: str) -> ShardRun:
    from synthact.consume.run import ShardRun

    return ShardRun(output_dir)


def report_dir(output_dir: str, dest: str | None, name: str) -> Path:
    """Where ``preview`` and ``stats`` write: DEST, or the folder the workflow's report rules use."""
    return Path(dest) if dest else Path(output_dir) / "report" / name


def cmd_export(args: argparse.Namespace) -> int:
    from synthact.consume.export_summary import export_summary
    from synthact.consume.exports import export_run
    from synthact.consume.video import ExportVideo

    run, dest = _run(args.output_dir), Path(args.dest)
    video = ExportVideo(keyframe_interval=args.keyframe_interval, pix_fmt=args.pix_fmt)
    result = export_run(
        args.format, run, dest, args.protocol, replace=args.replace, show_progress=not args.quiet, video=video
    )
    print(f"export {args.format}: {export_summary(args.format, result, dest)}")
    return 0


def cmd_preview(args: argparse.Namespace) -> int:
    from synthact.consume.exports import preview_run

    dest = report_dir(args.output_dir, args.dest, "preview")
    files = preview_run(_run(args.output_dir), dest, args.protocol, args.max_clips, show_progress=not args.quiet)
    clips = sum(1 for f in files if f.suffix == ".mp4")
    print(f"preview: {clips} clips, {len(files)} files; open {dest / 'index.html'}")
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    from synthact.consume.exports import stats_run

    files = stats_run(_run(args.output_dir), report_dir(args.output_dir, args.dest, "stats"))
    print(f"stats: {files[0]} and {len(files) - 1} plots in {files[0].parent}")
    return 0


def add_consume_commands(sub: argparse._SubParsersAction) -> None:
    """Register the three subcommands on ``synthact``'s subparsers."""
    formats = ("amarv", "pyskl", "video-list", "ntu-depth")
    p = sub.add_parser("export", help="write a run in a format people train with: " + ", ".join(formats))
    p.add_argument("format", choices=formats)
    p.add_argument("output_dir", help="the run's output folder (manifest.json, shards/, labels/)")
    p.add_argument("dest", help="where to write, outside the run; an interrupted export resumes here")
    p.add_argument("--protocol", help="clip table to export (default: the run's first; amarv always uses segments)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--replace", action="store_true", help="DEST holds another export: delete it, then write this one")
    p.add_argument(
        "--keyframe-interval", type=int, default=16, help="amarv, video-list: a keyframe every K frames (default 16)"
    )
    p.add_argument(
        "--pix-fmt",
        choices=("yuv420p", "yuv444p"),
        default="yuv420p",
        help="amarv, video-list: RGB chroma; yuv444p keeps full-resolution colour (FFmpeg-based loaders only)",
    )
    p.set_defaults(func=cmd_export)
    p = sub.add_parser("preview", help="per-clip preview videos, contact sheets and one index.html for the run")
    p.add_argument("output_dir")
    p.add_argument("dest", nargs="?", help="where to write (default: OUTPUT_DIR/report/preview)")
    p.add_argument("--protocol", help="clip table to preview (default: the run's first)")
    p.add_argument("--max-clips", type=int, default=8, help="clips to preview, spread over the classes")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_preview)
    p = sub.add_parser("stats", help="statistics of a run: stats.json and matplotlib plots")
    p.add_argument("output_dir")
    p.add_argument("dest", nargs="?", help="where to write (default: OUTPUT_DIR/report/stats)")
    p.set_defaults(func=cmd_stats)
