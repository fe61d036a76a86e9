"""The config is resolved once: the resolved file, its trusting loader, and the typed sections.

A stage command given the workflow's resolved file builds its sections without
validating again; anything that is not such a file is refused with one line;
a config file of one's own (``--config``) is still validated in full.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import yaml

import synthact.config
from synthact import cli
from synthact.config import load_schema, validate_config
from synthact.config_sections import SECTIONS, RunConfig
from synthact.errors import ConfigError
from synthact.resolved_config import MARKER, parse_resolved, read_resolved, resolved_text, write_resolved
from synthact.stages import fit_params, stage_config, stage_params
from tests.helpers import TINY


@pytest.fixture
def resolved(tmp_path: Path) -> tuple[dict, Path]:
    """A resolved tiny config (output under tmp_path) and the file the workflow would write for it."""
    config = validate_config(json.loads(json.dumps(TINY)) | {"output_dir": str(tmp_path / "output")})
    return config, write_resolved(tmp_path / "output" / "work", config)


@pytest.fixture
def validations(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Counts of schema validations and preflight content checks, from now on."""
    counts = {"schema": 0, "preflight": 0}
    raise_errors, check_content = synthact.config._raise_errors, synthact.config.check_content

    def counted_schema(*args, **kwargs):
        counts["schema"] += 1
        return raise_errors(*args, **kwargs)

    def counted_preflight(*args, **kwargs):
        counts["preflight"] += 1
        return check_content(*args, **kwargs)

    monkeypatch.setattr(synthact.config, "_raise_errors", counted_schema)
    monkeypatch.setattr(synthact.config, "check_content", counted_preflight)
    return counts


def stage_config_of(argv: list[str]) -> RunConfig:
    return cli._config(cli.build_parser().parse_args(argv))


def test_a_stage_given_the_resolved_file_does_not_validate_again(resolved, validations):
    config, path = resolved
    run = stage_config_of(["plan", "--config-json", str(path)])
    assert validations == {"schema": 0, "preflight": 0}
    assert run.render.width == TINY["render"]["width"] and run.as_dict() == config


def test_the_render_step_checks_only_its_dispatch_settings(resolved, validations):
    _, path = resolved
    run = stage_config_of(
        ["render-shard", "--config-json", str(path), "--shard", "s", "--dispatch-json", '{"cluster": "debug"}']
    )
    assert validations == {"schema": 1, "preflight": 0}  # the dispatch section alone
    assert run.dispatch.cluster == "debug" and run.dispatch.timeout_min == 120  # the schema's default filled in


def test_a_config_file_of_ones_own_is_validated_in_full(tmp_path, validations):
    path = tmp_path / "my.yaml"
    path.write_text(yaml.safe_dump(TINY | {"output_dir": str(tmp_path / "output")}))
    run = stage_config_of(["plan", "--config", str(path)])
    assert validations == {"schema": 1, "preflight": 1}
    assert run.seed == TINY["seed"]


def test_a_hand_written_config_with_a_bad_key_is_named_not_trusted(tmp_path, capsys):
    path = tmp_path / "my.yaml"
    path.write_text(yaml.safe_dump({"output_dir": str(tmp_path / "output"), "render": {"widht": 64}}))
    assert cli.main(["plan", "--config", str(path)]) == 1
    err = capsys.readouterr().err
    assert "'widht' (did you mean 'width'?)" in err and "Traceback" not in err


def _rewritten(path: Path, change) -> Path:
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))
    return path


@pytest.mark.parametrize(
    ("make_file", "message"),
    [
        (lambda config, path: _plain(config, path), "not a resolved configuration"),
        (lambda config, path: _rewritten(path, lambda d: d.update({MARKER: 2})), "of format 2"),
        (lambda config, path: _rewritten(path, lambda d: d["config"].update(seed=99)), "was changed after"),
        (lambda config, path: path.rename(path.with_name("0123456789abcdef.json")), "named by its sha256"),
        (lambda config, path: path.with_name("missing.json"), "cannot read the resolved configuration"),
    ],
    ids=["plain config", "other version", "edited", "renamed", "missing"],
)
def test_a_file_that_is_not_a_resolved_config_is_refused_in_one_line(resolved, capsys, make_file, message):
    config, path = resolved
    given = make_file(config, path)
    assert cli.main(["plan", "--config-json", str(given)]) == 1
    err = capsys.readouterr().err.strip()
    assert message in err and str(given) in err
    assert len(err.splitlines()) == 1 and "Traceback" not in err


def _plain(config: dict, path: Path) -> Path:
    """The config itself as JSON, under the right kind of name: what someone might write by hand."""
    path.write_text(json.dumps(config))
    return path


def test_the_render_tasks_read_the_same_text_without_validating(resolved, validations):
    config, _ = resolved
    text = resolved_text(config)
    content = parse_resolved(text, "task")
    assert "dispatch" not in content and content == {k: v for k, v in config.items() if k != "dispatch"}
    run = RunConfig.from_resolved(content, {}, "task")  # what each view task does (render/worker.py)
    assert run.dispatch.cluster == "local"  # the schema's default: a task needs none
    assert validations == {"schema": 0, "preflight": 0}
    with pytest.raises(ConfigError, match="was changed after"):
        parse_resolved(text.replace('"seed": 7', '"seed": 8'), "task")


def test_the_resolved_file_is_named_by_its_content(resolved, tmp_path):
    config, path = resolved
    assert read_resolved(path) == {k: v for k, v in config.items() if k != "dispatch"}
    other = write_resolved(tmp_path / "elsewhere", dict(config, dispatch={"cluster": "slurm"}))
    assert other.name == path.name  # dispatch is not in the file: moving to Slurm keeps every command
    moved = write_resolved(tmp_path / "elsewhere", dict(config, seed=8))
    assert moved.name != path.name


def test_sections_are_frozen_copies(resolved):
    config, _ = resolved
    run = RunConfig.from_dict(config)
    with pytest.raises(dataclasses.FrozenInstanceError):
        run.render.width = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        run.rig.views[0]["name"] = "top"  # type: ignore[index]
    with pytest.raises(AttributeError):
        run.labels.protocols.append("segments")  # type: ignore[attr-defined]
    config["render"]["width"] = 1  # the dict it was made from changes; the sections do not
    assert run.render.width == TINY["render"]["width"]


def test_sections_give_back_the_document_they_were_made_from(resolved):
    config, _ = resolved
    run = RunConfig.from_dict(config)
    assert run.as_dict() == config
    for name in SECTIONS:
        assert getattr(run, name).as_dict() == config[name], name
    assert run.rig.view_names == ("front", "left", "back", "right")


def test_every_section_field_is_a_schema_key_and_unnamed_keys_are_kept():
    properties = load_schema()["properties"]
    for name, kind in SECTIONS.items():
        names = {f.name for f in dataclasses.fields(kind)} - {"extra"}
        assert names <= set(properties[name]["properties"]), name
    config = validate_config({})
    config["randomize"]["a_later_key"] = "kept"  # a key the schema may gain before its section names it
    assert RunConfig.from_dict(config).randomize.as_dict()["a_later_key"] == "kept"


def test_the_fit_stage_keys_live_with_the_other_stages():
    config = validate_config({})
    fit = stage_config(config, "fit")
    assert set(fit) == {"motion", "clips"} and set(fit["clips"]) == {"on_bad_input"}
    assert {"fit", "estimates", "skeleton_dir", "body_model_dir"} <= set(fit["motion"])
    changed = validate_config({"motion": {"fit": {"body_iterations": 10}}})
    assert stage_params(changed, "fit") != stage_params(config, "fit")
    unrelated = validate_config({"clips": {"fps": 12}, "render": {"width": 64}})
    assert stage_params(unrelated, "fit") == stage_params(config, "fit")


def test_the_fit_rules_params_keep_the_text_existing_runs_recorded():
    config = validate_config({"motion": {"source": "ntu", "skeleton_dir": "s"}, "labels": {"protocols": ["segments"]}})
    # The form rules/fit.smk wrote before its keys moved to synthact/stages.py.
    motion_keys = "source skeleton_dir protocol ntu_classes fit body_model_dir estimates_dir estimator"
    motion_keys += " estimates_labels estimates"
    keys = {k: config["motion"][k] for k in motion_keys.split()} | {"on_bad_input": config["clips"]["on_bad_input"]}
    recorded = json.dumps(keys, sort_keys=True)
    assert fit_params(config) == recorded
    changed = validate_config({"motion": {"source": "ntu", "fit": {"robust_sigma": 0.2}}})
    assert fit_params(changed) != fit_params(validate_config({"motion": {"source": "ntu"}}))
