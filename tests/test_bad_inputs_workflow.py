"""Bad input beside good input, through the whole workflow in lenient mode:
every bad item is listed in the index report with its file and reason, and
every good sequence is still indexed, rendered and merged."""

from __future__ import annotations

import json
from pathlib import PurePosixPath

import h5py
import numpy as np
import pytest

from tests.helpers import make_run, shard_files, snakemake, tiny_config

BAD = {  # file name -> how the copy of a good motion file is broken
    "truncated_poses.npz": "truncate",
    "nan_poses.npz": "nan",
    "no_trans_poses.npz": "drop_trans",
    "missing_poses.npz": "absent",
}


def break_copy(good, bad, how: str) -> None:
    if how == "truncate":
        bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    elif how in ("nan", "drop_trans"):
        with np.load(good) as data:
            arrays = {k: data[k] for k in data.files}
        if how == "nan":
            arrays["poses"][2, 5] = np.nan
        else:
            del arrays["trans"]
        np.savez(bad, **arrays)


def add_bad_inputs(workdir) -> set[str]:
    """Bad motion files and labels next to the demo's; returns the good feat_p."""
    labels_path = workdir / "data" / "babel" / "train.json"
    labels = json.loads(labels_path.read_text())
    good = {entry["feat_p"] for entry in labels.values()}
    template = next(iter(labels.values()))
    good_file = workdir / "data" / "amass" / template["feat_p"]
    for i, (name, how) in enumerate(BAD.items()):
        feat_p = str(PurePosixPath(template["feat_p"]).parent / name)
        break_copy(good_file, workdir / "data" / "amass" / feat_p, how)
        labels[str(99000 + i)] = dict(template, babel_sid=99000 + i, feat_p=feat_p)
    # A label whose segment ends before it starts.
    entry = dict(template, babel_sid=99100)
    entry["frame_ann"] = json.loads(json.dumps(template["frame_ann"]))
    entry["frame_ann"]["labels"][0]["start_t"], entry["frame_ann"]["labels"][0]["end_t"] = 1.0, 0.5
    labels["99100"] = entry
    labels_path.write_text(json.dumps(labels))
    return good


@pytest.mark.slow
def test_lenient_run_lists_bad_items_and_renders_every_good_sequence(tmp_path):
    # One small view is enough to show which sequences were rendered.
    config = tiny_config(
        clips={"on_bad_input": "lenient"},
        demo={"sequences": 2},
        rig={"views": [{"name": "front", "azimuth_deg": 0}]},
        render={"width": 64, "height": 48, "samples": 1},
    )
    workdir = make_run(tmp_path, config)
    snakemake(workdir, "data/synthact-demo.json")  # the demo inputs only
    good = add_bad_inputs(workdir)
    snakemake(workdir)
    report = json.loads((workdir / "output" / "work" / "index" / "report.json").read_text())
    skipped = json.dumps(report)
    for name in BAD:
        assert name in skipped, f"{name} is not reported as skipped"
    assert "99100" in skipped
    rendered_sources = set()
    for path in shard_files(workdir):
        with h5py.File(path) as f:
            rendered_sources |= {f[f"takes/{t}"].attrs["source"] for t in f["takes"]}
    assert not any(name in source for source in rendered_sources for name in BAD)
    assert good <= rendered_sources  # every good training sequence was rendered
