"""One run identity on a real run: the manifest and every shard record the same key, the one
the stage commands compute from the resolved file the workflow wrote."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import pytest

import synthact.config
from synthact import cli
from synthact.resolved_config import read_resolved
from synthact.stages import run_key


def resolved_file(workdir: Path) -> Path:
    files = sorted((workdir / "output" / "work" / "config").glob("*.json"))
    assert len(files) == 1, files  # one run, one resolved config
    return files[0]


@pytest.mark.slow  # the suite's finished run (built once per session)
def test_the_manifest_and_every_shard_record_the_same_run_key(finished_run):
    key = run_key(read_resolved(resolved_file(finished_run)))
    output = finished_run / "output"
    manifest = json.loads((output / "manifest.json").read_text())
    assert manifest["render_key"] == key and "config_hash" not in manifest
    assert manifest["shards"]
    for entry in manifest["shards"]:
        with h5py.File(output / entry["path"], "r") as f:
            assert entry["render_key"] == f.attrs["render_key"] == key
    assert (output / "work" / "cache" / key[:16]).is_dir()  # the same key names the render cache


@pytest.mark.slow
def test_a_stage_of_a_real_run_reads_the_resolved_file_without_validating(run_copy, monkeypatch):
    calls: list[str] = []
    monkeypatch.setattr(synthact.config, "validate_config", lambda *a, **k: calls.append("validate_config"))
    monkeypatch.setattr(synthact.config, "_raise_errors", lambda *a, **k: calls.append("schema"))
    monkeypatch.chdir(run_copy)
    labels = sorted((run_copy / "output" / "labels").rglob("*.json*"))
    before = {p: p.read_bytes() for p in labels}
    for p in labels:
        p.unlink()
    assert cli.main(["labels", "--config-json", str(resolved_file(run_copy))]) == 0
    assert calls == []
    assert {p: p.read_bytes() for p in labels} == before  # the same tables as the workflow's own run


@pytest.mark.slow
def test_the_manifest_step_refuses_a_shard_merged_under_another_configuration(run_copy, monkeypatch, capsys):
    output = run_copy / "output"
    manifest_before = (output / "manifest.json").read_bytes()
    shard = min((output / "shards").glob("*.h5"))
    with h5py.File(shard, "r+") as f:
        f.attrs["render_key"] = "0" * 64
    monkeypatch.chdir(run_copy)
    assert cli.main(["manifest", "--config-json", str(resolved_file(run_copy))]) == 1
    err = capsys.readouterr().err
    assert f"{shard.name}: merged under another configuration (render_key 0000000000000000..." in err
    assert (output / "manifest.json").read_bytes() == manifest_before  # nothing written
