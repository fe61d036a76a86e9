"""A run owns its output folder, and remembers how it was launched.

Every real run records itself in ``WORK/run.json``: its config files
(relative to the working directory when inside it), the hash of its content settings (``config_hash``: everything but
folders, dispatch, thread counts and ``allow_output_reuse``), and how it was
launched (Snakefile, executor, profile), from which
``synthact status`` builds a rerun command that works as printed.

A later run in that folder is the same run when it reads the same config file
(whose settings may have changed: a rerun with more samples is normal), or,
from any file, the same content settings (the folder copied or moved under
another ``output_dir`` with its config). Any other is another configuration's
run, for instance a config of one's own without ``output_dir`` landing in the
demo's ``output/demo``: it is refused before anything is written, naming both
configs, unless ``allow_output_reuse: true`` (then the folder becomes its run).
A folder without a record (empty, or made before records existed) is taken.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

from synthact import atomic
from synthact.config import RunPaths
from synthact.errors import SynthActError

REUSE_KEY = "allow_output_reuse"


@dataclass(frozen=True)
class Launch:
    """How Snakemake was started for a run (absolute paths; a profile as given when it is a name)."""

    snakefile: str
    executor: str = "local"
    profile: str = ""
    jobs: int = 0


@dataclass(frozen=True)
class RunRecord:
    config_files: list[str]
    content_hash: str
    launch: Launch | None = None
    updated: str = ""


class OutputOwned(SynthActError, RuntimeError):
    """The output folder holds another configuration's run."""


def record_path(paths: RunPaths) -> Path:
    return paths.work_dir / "run.json"


def read_run_record(paths: RunPaths) -> RunRecord | None:
    try:
        data = json.loads(record_path(paths).read_text())
        launch = Launch(**data.pop("launch")) if data.get("launch") else None
        return RunRecord(**data, launch=launch)
    except (OSError, ValueError, TypeError, KeyError):
        return None


def write_run_record(paths: RunPaths, record: RunRecord) -> None:
    atomic.write_json(record_path(paths), asdict(record), indent=1)


def shown_here(path: str) -> str:
    """A path as the user would type it here: relative to the current directory when below it, else as given."""
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


def as_recorded(config_files: list[str]) -> list[str]:
    """Config files as a run records them: relative to Snakemake's working directory (the current one)
    when inside it, so that a copy of the whole project is still the same run; else absolute."""
    return [shown_here(os.path.abspath(path)) for path in config_files]


def names_output_dir(config_files: list[str], overrides: dict) -> bool:
    """Whether the user chose ``output_dir`` (in a config file or ``--config``), or it took the default."""
    if "output_dir" in overrides:
        return True
    for path in config_files:
        try:
            data = yaml.safe_load(Path(path).read_text()) or {}
        except (OSError, yaml.YAMLError):
            continue
        if isinstance(data, dict) and "output_dir" in data:
            return True
    return False


def same_run(record: RunRecord, config_files: list[str], content_hash: str) -> bool:
    return content_hash == record.content_hash or bool(set(config_files) & set(record.config_files))


def check_owner(
    paths: RunPaths, config_files: list[str], content_hash: str, allow_reuse: bool, chose_output_dir: bool = True
) -> None:
    """Refuse (``OutputOwned``) to run in a folder that holds another configuration's run. Reads only."""
    record = read_run_record(paths)
    if record is None or allow_reuse or same_run(record, config_files, content_hash):
        return
    theirs = ", ".join(shown_here(p) for p in record.config_files) or "(no config file)"
    ours = ", ".join(shown_here(p) for p in config_files) or "(no config file)"
    why = "" if chose_output_dir else f" ({ours} sets no output_dir, so the default {paths.output_dir} was used)"
    raise OutputOwned(
        f"{paths.output_dir}: holds the run of {theirs}, with other settings than this run's config {ours}{why}; "
        f"refused, so as not to overwrite it. Give {ours} its own output_dir, or take the folder over with "
        f"{REUSE_KEY}: true in {ours} (or --config {REUSE_KEY}=true on Snakemake's command line)"
    )


def claim(paths: RunPaths, config_files: list[str], content_hash: str, launch: Launch) -> None:
    """Record this run as the folder's run (real runs only, under the output folder's lock)."""
    write_run_record(paths, RunRecord(config_files, content_hash, launch, time.strftime("%Y-%m-%d %H:%M:%S")))


def profile_given(argv: list[str], environ: dict[str, str]) -> str:
    """The ``--profile`` Snakemake was started with (or ``$SNAKEMAKE_PROFILE``); "" for none.

    Snakemake keeps no record of it, so it is read from the command line. A
    profile given as a path is made absolute: Snakemake found it relative to
    the directory it was started in (``$PWD``), before ``--directory`` applied.
    """
    profile = environ.get("SNAKEMAKE_PROFILE", "")
    for i, arg in enumerate(argv):
        if arg == "--profile" and i + 1 < len(argv):
            profile = argv[i + 1]
        elif arg.startswith("--profile="):
            profile = arg.split("=", 1)[1]
    if not profile or os.path.isabs(profile):
        return profile
    for base in (environ.get("PWD", ""), os.getcwd()):
        if base and (Path(base) / profile).is_dir():
            return str(Path(base, profile).resolve())
    return profile  # a name, looked up in Snakemake's profile folders
