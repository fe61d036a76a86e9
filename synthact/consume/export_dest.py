"""What an export may write into: its destination holds one export, of one run, or nothing else.

An export resumes by skipping files that already exist under their final
names, so a destination that holds another export (another format, protocol
or run) would end up mixed: the new files beside the old ones, and lists that
name only some of them. Before writing anything, an export therefore records
what it is in ``DEST/.synthact-export.json``; a later export into the same
folder resumes only when that record matches, is refused when it does not,
and with ``replace`` empties the folder first. A folder that is not an export
(no record, but files) is never emptied: it may be anything of the user's.
A destination inside the run's own folder, or one that holds the run, is
refused outright.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from synthact.atomic import write_text
from synthact.errors import SynthActError

MARKER = ".synthact-export.json"


class ExportDestinationError(SynthActError, ValueError):
    """The destination cannot take this export; the message names it and the way out."""


@dataclass(frozen=True)
class ExportIdentity:
    """What makes two exports the same: format, clip table, the run's manifest (its exact content),
    and how the videos are coded (a resumed export must not mix two codings in one folder)."""

    format: str
    protocol: str
    run: str
    manifest_sha256: str
    video_coding: str = ""  # empty: no videos, or a record written before videos had options

    @classmethod
    def of(cls, fmt: str, protocol: str, run_dir: Path, video_coding: str = "") -> ExportIdentity:
        manifest = hashlib.sha256((run_dir / "manifest.json").read_bytes()).hexdigest()
        return cls(fmt, protocol, str(run_dir.resolve()), manifest, video_coding)

    def same_export(self, other: ExportIdentity) -> bool:
        """The run's path is left out: a run that was moved is still the same run."""
        return (self.format, self.protocol, self.manifest_sha256, self.video_coding) == (
            other.format,
            other.protocol,
            other.manifest_sha256,
            other.video_coding,
        )

    def describe(self) -> str:
        coding = f" ({self.video_coding})" if self.video_coding else ""
        return f"{self.format} export of protocol {self.protocol}{coding} from {self.run}"


def claim_destination(dest: Path, identity: ExportIdentity, replace: bool = False) -> None:
    """Make ``dest`` this export's folder, or raise :class:`ExportDestinationError`.

    Resumes silently when ``dest`` already holds this same export; writes the
    record before any exported file, so an interrupted export is recognised.
    """
    _refuse_overlap(dest, Path(identity.run))
    found = read_identity(dest)
    if found is not None and found.same_export(identity):
        return
    if found is not None:
        if not replace:
            raise ExportDestinationError(
                f"{dest}: holds another export ({found.describe()}; this one is a {identity.describe()}):"
                " choose another folder, or pass --replace to delete that export and write this one"
            )
        _empty(dest)
    elif dest.exists() and any(dest.iterdir()):
        raise ExportDestinationError(
            f"{dest}: not empty and not a SynthAct export (no {MARKER}): choose a new or empty folder"
        )
    dest.mkdir(parents=True, exist_ok=True)
    write_text(dest / MARKER, json.dumps(asdict(identity), indent=2) + "\n")


def read_identity(dest: Path) -> ExportIdentity | None:
    """The export ``dest`` holds, or None where it holds none (or a record this version cannot read)."""
    try:
        return ExportIdentity(**json.loads((dest / MARKER).read_text()))
    except FileNotFoundError:
        return None
    except (ValueError, TypeError) as exc:
        raise ExportDestinationError(f"{dest / MARKER}: unreadable export record ({exc}); remove the folder") from None


def _refuse_overlap(dest: Path, run_dir: Path) -> None:
    where, run = dest.resolve(), run_dir.resolve()
    if where == run or run in where.parents:
        raise ExportDestinationError(
            f"{dest}: inside the run's own folder {run}; an export goes beside a dataset, never into it:"
            " choose a folder outside it"
        )
    if where in run.parents:
        raise ExportDestinationError(f"{dest}: holds the run {run} itself; choose a folder outside it")


def _empty(dest: Path) -> None:
    """Remove an earlier export's files, the record last, so an interrupted replace is still an export."""
    for child in dest.iterdir():
        if child.name == MARKER:
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
    (dest / MARKER).unlink()
