"""The resolved config file: validated once by the workflow, read by every stage command as it is.

The Snakefile resolves the user's config once (schema, defaults, preset,
coercion, cross-field and preflight checks: ``synthact.config``) and writes
the result to ``WORK/config/<hash>.json``. The rules pass that path to
``synthact <stage> --config-json``, and the stage trusts it: it builds its
sections without validating again. Trust needs a reason, so the file says
what it is: a marker key with the format version, and the sha256 of its
``config``, whose first 16 hex digits are also its name. A hand-written file,
one from another SynthAct version, or one edited since it was written is
refused with the way out (``--config`` validates a file of one's own).

The dispatch section is left out of the file (the workflow passes it on its
own, ``--dispatch-json``): moving a run to Slurm keeps the file, its name and
so every rule's command.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from synthact import atomic
from synthact.errors import ConfigError

MARKER = "synthact_resolved_config"
VERSION = 1
NAME_DIGITS = 16
LEFT_OUT = ("dispatch",)


def _digest(content: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def resolved_document(config: dict[str, Any]) -> dict[str, Any]:
    """The file's content for a resolved ``config``: marker, version, digest, and the config less dispatch."""
    content = {key: value for key, value in config.items() if key not in LEFT_OUT}
    return {MARKER: VERSION, "sha256": _digest(content), "config": content}


def resolved_text(config: dict[str, Any]) -> str:
    return json.dumps(resolved_document(config), sort_keys=True)


def resolved_path(work_dir: Path, config: dict[str, Any]) -> Path:
    """``WORK/config/<first 16 hex digits of the digest>.json``: named by its content."""
    return Path(work_dir) / "config" / f"{resolved_document(config)['sha256'][:NAME_DIGITS]}.json"


def write_resolved(work_dir: Path, config: dict[str, Any]) -> Path:
    path = resolved_path(work_dir, config)
    atomic.write_text(path, resolved_text(config))
    return path


def parse_resolved(text: str, source: str) -> dict[str, Any]:
    """The config inside a resolved document, less dispatch; refuses anything else.

    Raises:
        ConfigError: not a resolved config, another version's, or changed since it was written.
    """
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{source}: not a resolved configuration (not JSON: {exc})") from None
    if not isinstance(document, dict) or MARKER not in document:
        raise ConfigError(
            f"{source}: not a resolved configuration (no {MARKER!r} key): the workflow writes those under "
            "WORK/config/; give a config file of your own with --config, which is validated"
        )
    if document[MARKER] != VERSION:
        raise ConfigError(
            f"{source}: a resolved configuration of format {document[MARKER]!r}, this SynthAct reads {VERSION}: "
            "rerun the workflow, which writes it again, or give your config file with --config"
        )
    content = document.get("config")
    if not isinstance(content, dict) or _digest(content) != document.get("sha256"):
        raise ConfigError(
            f"{source}: the resolved configuration was changed after the workflow wrote it (its sha256 does not "
            "match): edit your config file instead and rerun the workflow, or give it with --config"
        )
    return content


def read_resolved(path: str | Path) -> dict[str, Any]:
    """``parse_resolved`` of a file, which must also carry its digest in its name."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the resolved configuration: {exc.strerror or exc}") from None
    content = parse_resolved(text, str(path))
    digest = resolved_document(content)["sha256"]
    if path.stem != digest[:NAME_DIGITS]:
        raise ConfigError(
            f"{path}: a resolved configuration is named by its sha256 ({digest[:NAME_DIGITS]}.json); this one was "
            "renamed or copied over another: rerun the workflow, or give your config file with --config"
        )
    return content
