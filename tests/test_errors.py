"""SynthAct's errors share one base, keep their built-in bases, and reach the
user through the CLI as one message without a traceback."""

from __future__ import annotations

import ast
import builtins
import importlib
from pathlib import Path

import pytest
import yaml

import synthact
from synthact.cli import main
from synthact.errors import SynthActError

PACKAGE = Path(synthact.__file__).parent
BUILTIN_ERRORS = {
    name for name, value in vars(builtins).items() if isinstance(value, type) and issubclass(value, Exception)
}


def _declared_error_classes() -> list[tuple[str, str]]:
    """(module, class) of every class in synthact/ that derives from an exception by its bases' names.

    Read from the source, so a new module is covered without being listed here.
    """
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.ClassDef):
                continue
            bases = {b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases}
            if bases & BUILTIN_ERRORS or any(b.endswith(("Error", "Failed")) for b in bases):
                found.append((module, node.name))
    return found


DECLARED = _declared_error_classes()


def test_the_scan_finds_the_known_errors():
    names = {name for _, name in DECLARED}
    assert {"ConfigError", "MotionError", "LabelError", "BodyModelError", "RenderFailed", "MergeError"} <= names
    assert len(DECLARED) >= 15


@pytest.mark.parametrize(("module", "name"), DECLARED, ids=[name for _, name in DECLARED])
def test_every_error_class_inherits_synthact_error(module, name):
    error = getattr(importlib.import_module(module), name)
    assert issubclass(error, SynthActError), f"{module}.{name} must inherit synthact.errors.SynthActError"


@pytest.mark.parametrize(
    ("module", "name", "builtin"),
    [
        ("synthact.config", "ConfigError", ValueError),
        ("synthact.body.model_files", "BodyModelError", ValueError),
        ("synthact.sources.amass", "MotionError", ValueError),
        ("synthact.sources.babel", "LabelError", ValueError),
        ("synthact.sources.ntu", "SkeletonError", ValueError),
        ("synthact.sources.smarthome", "PoseFileError", ValueError),
        ("synthact.fitting.convert", "FitStageError", ValueError),
        ("synthact.sources.amarv_password", "MissingAmassFiles", FileNotFoundError),
        ("synthact.dispatch.submit", "RenderFailed", RuntimeError),
        ("synthact.shards.writer", "MergeError", RuntimeError),
    ],
)
def test_errors_keep_their_builtin_base(module, name, builtin):
    """Code that catches the built-in (``except ValueError``) still catches them."""
    assert issubclass(getattr(importlib.import_module(module), name), builtin)


def _one_message(captured: str, command: str) -> str:
    assert "Traceback" not in captured
    assert captured.startswith(f"synthact {command}: error: "), captured
    return captured


def test_cli_reports_a_bad_config_in_one_message(tmp_path, capsys):
    config = tmp_path / "bad.yaml"
    config.write_text(yaml.safe_dump({"render": {"width": -5}}))
    assert main(["plan", "--config", str(config)]) == 1
    err = _one_message(capsys.readouterr().err, "plan")
    assert str(config) in err and "render.width" in err


def test_cli_reports_missing_amass_files_in_one_message(tmp_path, capsys):
    """MissingAmassFiles is raised deep in a tool, not by the config layer."""
    assert main(["amarv-password", str(tmp_path)]) == 1
    err = _one_message(capsys.readouterr().err, "amarv-password")
    assert str(tmp_path) in err
