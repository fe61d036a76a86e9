"""``snakemake --lint`` on the workflow, failing on every lint but the accepted ones.

Snakemake has no way to silence one lint, so the few that this workflow
accepts on purpose are listed here, each with its reason; any other lint
fails ``make check``.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# Title of the lint (as Snakemake prints it, without the trailing colon or full stop) -> why it is accepted.
ACCEPTED = {
    "Specify a conda environment or container for each rule": (
        "every rule runs the `synthact` CLI from the project's own virtualenv (make setup);"
        " bpy 5.0 is a pip wheel for Python 3.11 only"
    ),
    "Shell command directly uses variable CONTENT_CONFIG from outside of the rule": (
        "each rule's params hold only the config keys its stage depends on (synthact/stages.py), so that"
        " a change reruns just the stages it affects; the whole config in params would rerun every stage"
    ),
    "Shell command directly uses variable DISPATCH_CONFIG from outside of the rule": (
        "dispatch settings are kept out of params on purpose: moving a run to Slurm must rerun nothing"
    ),
}

# (file name, title) -> why it is accepted in that file only.
ACCEPTED_IN = {
    ("common.smk", "Mixed rules and functions in same snakefile"): (
        "common.smk holds every helper function of the workflow; its only 'rule' is the onstart"
        " handler that takes the output lock"
    ),
}


def is_accepted(where: str, title: str) -> bool:
    """Whether a lint is accepted everywhere, or in the file it was found in."""
    file_name = Path(where.split(", ")[-1].rstrip(")")).name
    return title in ACCEPTED or (file_name, title) in ACCEPTED_IN


def lints(text: str) -> list[tuple[str, str]]:
    """(where, title) of each lint in Snakemake's text report."""
    found, where = [], ""
    for line in text.splitlines():
        if line.startswith("Lints for "):
            where = line.removeprefix("Lints for ").rstrip(":")
        elif m := re.match(r"^    \* (.+)$", line):
            found.append((where, m[1].rstrip(":").rstrip(".")))
    return found


def main() -> int:
    with tempfile.TemporaryDirectory() as workdir:
        command = [str(Path(sys.executable).parent / "snakemake"), "--lint", "-s", str(REPO / "workflow" / "Snakefile")]
        command += ["-d", workdir, "--configfile", str(REPO / "config.yaml")]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
    report = result.stdout + result.stderr
    found = lints(report)
    if result.returncode != 0 and not found:
        print(f"snakemake --lint failed without a lint report:\n{report}", file=sys.stderr)
        return 1
    rejected = [(where, title) for where, title in found if not is_accepted(where, title)]
    accepted = len(found) - len(rejected)
    for where, title in rejected:
        print(f"{where}: {title}")
    print(f"snakemake --lint: {len(rejected)} lints to fix, {accepted} accepted (see scripts/lint-workflow.py)")
    return 1 if rejected else 0


if __name__ == "__main__":
    sys.exit(main())
