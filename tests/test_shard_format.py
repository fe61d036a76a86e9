"""docs/FORMAT.md and synthact/shard_format.py list the same datasets and attributes,
and the format module stays on the bottom floor."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from synthact import shard_format

REPO = Path(__file__).resolve().parents[1]
DOC = (REPO / "docs" / "FORMAT.md").read_text()


def _section(title: str) -> str:
    """The text under a '## title' heading, up to the next heading of that level."""
    start = DOC.index(f"## {title}")
    end = DOC.find("\n## ", start + 1)
    return DOC[start : end if end != -1 else None]


def _first_column_names(text: str, after: str) -> set[str]:
    """Backticked names in the first column of the first table after ``after``."""
    lines = text[text.index(after) :].splitlines()
    lines = lines[next(i for i, line in enumerate(lines) if line.startswith("|")) :]
    table = lines[: next((i for i, line in enumerate(lines) if not line.startswith("|")), len(lines))]
    first_cells = [line.split("|")[1] for line in table[2:]]  # past the header and its rule
    return {name.rstrip("/") for cell in first_cells for name in re.findall(r"`([^`]+)`", cell)}


def test_the_docs_list_every_dataset_the_module_declares():
    take = _first_column_names(_section("Per take"), "Datasets:")
    view = _first_column_names(_section("Per view"), "| dataset")
    assert take == {spec.name for spec in shard_format.TAKE_DATASETS}
    assert view == {spec.name for spec in shard_format.VIEW_DATASETS}


def test_the_docs_list_every_attribute_the_module_declares():
    assert _first_column_names(_section("File attributes"), "| attribute") == {
        a.name for a in shard_format.FILE_ATTRIBUTES
    }
    assert _first_column_names(_section("Per take"), "Attributes:") == {a.name for a in shard_format.TAKE_ATTRIBUTES}
    view_prose = _section("Per view").split("View attributes:")[1]
    assert all(f"`{a.name}`" in view_prose for a in shard_format.VIEW_ATTRIBUTES)


def test_the_docs_state_the_version_the_module_writes():
    assert DOC.startswith(f"# SynthAct output format (format_version {shard_format.FORMAT_VERSION})")
    assert shard_format.FORMAT_VERSION in shard_format.READABLE_VERSIONS


def test_the_format_module_imports_only_the_bottom_floor():
    tree = ast.parse((REPO / "synthact" / "shard_format.py").read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    allowed = ("__future__", "enum", "dataclasses", "numpy", "synthact.errors", "synthact.codecs")
    assert imported and all(name.startswith(allowed) for name in imported), imported


def test_every_name_is_declared_once():
    for specs in (shard_format.TAKE_DATASETS, shard_format.VIEW_DATASETS):
        keys = [spec.key for spec in specs]
        assert len(keys) == len(set(keys))
    for attrs in (shard_format.FILE_ATTRIBUTES, shard_format.TAKE_ATTRIBUTES, shard_format.VIEW_ATTRIBUTES):
        names = [a.name for a in attrs]
        assert len(names) == len(set(names))
