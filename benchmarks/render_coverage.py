"""Rendered frames per needed frame: takes (rendered once) against the old per-chunk render.

Builds the demo's BABEL-format data (frame labels with transitions), adds a
second annotator for every train sequence in an ``extra_train.json`` (BABEL's
extra files: overlapping labels of another person), indexes it as takes, and
counts per view:

- needed: the frames of the sequences (every frame once, ``render.span: whole``);
- takes: the frames the take table renders (and, with ``--output DIR`` of a
  finished run, the frames its render tasks' logs say they rendered);
- old per-chunk: the frames the former clip-by-clip render drew, one render per
  chunk of every label of every annotator, for BABEL's chunks of 5 s.

    .venv/bin/python benchmarks/render_coverage.py [--sequences 10] [--fps 30] [--output output/demo]
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from synthact.config import validate_config  # noqa: E402
from synthact.config_sections import RunConfig  # noqa: E402
from synthact.demo.generate import generate_demo_inputs  # noqa: E402
from synthact.labels.protocols import take_chunks  # noqa: E402
from synthact.takes.index import IndexSettings, build_index  # noqa: E402
from synthact.takes.records import read_take_table  # noqa: E402


def add_second_annotator(babel_dir: Path) -> int:
    """An extra_train.json whose annotator shifts every label by 0.4 s: overlapping labels."""
    dense = json.loads((babel_dir / "train.json").read_text())
    extra = {}
    for sid, entry in dense.items():
        labels = copy.deepcopy(entry["frame_ann"]["labels"])
        for label in labels:
            label["start_t"] = max(0.0, label["start_t"] - 0.4)
            label["end_t"] = min(entry["dur"], label["end_t"] + 0.4)
        annotation = {"anntr_id": "second", "babel_lid": f"x-{sid}", "mul_act": True, "labels": labels}
        extra[sid] = {k: entry[k] for k in ("babel_sid", "dur", "feat_p", "url")} | {
            "seq_anns": [entry["seq_ann"]],
            "frame_anns": [annotation],
        }
    (babel_dir / "extra_train.json").write_text(json.dumps(extra))
    return len(extra)


def logged_frames(output: Path) -> tuple[int, int]:
    """(frames rendered, distinct (view, take, window)) from a finished run's render task logs."""
    pattern = re.compile(r"\[[^/\]]+/(\w+)\] rendered take (t\w+) window (\d+) \((\d+) frames")
    seen, total = set(), 0
    for log in (output / "work" / "logs" / "submitit").rglob("*.err"):
        for view, take, window, frames in pattern.findall(log.read_text(errors="replace")):
            seen.add((view, take, window))
            total += int(frames)
    return total, len(seen)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequences", type=int, default=10)
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--chunk-seconds", type=float, default=5.0)
    parser.add_argument("--output", type=Path, help="a finished run's OUTPUT_DIR: also count what its tasks rendered")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        motion = {
            "amass_root": str(root / "amass"),
            "babel_dir": str(root / "babel"),
            "body_model_dir": str(root / "body_models"),
            "babel_files": ["train.json", "val.json", "extra_train.json"],
        }
        generate_demo_inputs(
            validate_config({"demo": {"data_dir": str(root), "sequences": args.sequences}, "motion": motion})
        )
        extra = add_second_annotator(root / "babel")
        config = validate_config({"motion": motion, "clips": {"fps": args.fps}})
        run = RunConfig.from_dict(config)
        settings = IndexSettings.from_sections(run.motion, run.clips, run.render)
        build_index(settings, root / "takes.jsonl", root / "report.json")
        takes = list(read_take_table(root / "takes.jsonl"))
    needed = sum(t.num_sequence_frames for t in takes)
    rendered = sum(t.num_frames for t in takes)
    max_frames = round(args.chunk_seconds * args.fps)
    chunks = [c for t in takes for c in take_chunks(t, max_frames, 1)]
    old = sum(c.num_frames for c in chunks)
    covered = np.zeros(needed, bool)
    offsets = np.cumsum([0] + [t.num_sequence_frames for t in takes])
    for take, offset in zip(takes, offsets, strict=False):  # offsets has one entry more
        for c in take_chunks(take, max_frames, 1):
            covered[offset + c.frame_start : offset + c.frame_stop] = True
    labels = sum(len(t.labels) for t in takes)
    print(f"fixture: {len(takes)} sequences, {labels} labels ({extra} with a second annotator), {args.fps:g} fps")
    print(f"needed frames per view:            {needed}")
    print(f"takes render per view:             {rendered}   -> {rendered / needed:.3f} rendered per needed frame")
    print(
        f"old per-chunk render per view:     {old}   -> {old / needed:.3f} rendered per needed frame "
        f"({len(chunks)} chunks; {int((~covered).sum())} needed frames never rendered)"
    )
    if args.output:
        frames, windows = logged_frames(args.output)
        print(f"{args.output}: its tasks rendered {frames} frames in {windows} distinct (view, take, window)")


if __name__ == "__main__":
    main()
