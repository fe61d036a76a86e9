"""Every command block in README.md and docs/*.md runs as written.

The blocks are read from the files themselves (```bash, ```sh and ```python
fences), so a command added to the docs is tested without being listed here.
Shell commands run one line at a time, and Python blocks whole, from the folder
of a copy of the session's tiny run. Three things are rewritten, the same for
every command: ``.venv/bin/`` is this interpreter's folder, ``snakemake`` names
the repository's Snakefile (the docs run it from the repository root, the test
from the run's folder), and the demo's output folder ``output/demo`` is the tiny
run's ``output`` (a fast test checks that ``output/demo`` is config.yaml's
``output_dir``, so the docs name the folder the demo writes).

The commands that cannot run in a test are in ``NOT_RUN`` with the reason; the
fast tests still check that argparse (ours or Snakemake's) accepts each of them
and that ``make`` knows each target. An entry that no longer matches a
documented command fails, so the list cannot go stale.
"""

from __future__ import annotations

import re
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.helpers import BIN, REPO, SNAKEFILE, TINY, run_bounded

DOC_FILES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(bash|sh|python)\n(.*?)^```", re.MULTILINE | re.DOTALL)
COMMENT = re.compile(r"(^|\s)#.*$")

NOT_RUN: dict[str, str] = {
    "make demo": "sets up the environment and renders the full demo (tens of minutes)",
    "make test": "the whole suite, from inside the suite",
    "make test-fast": "the fast suite, from inside the suite",
    "make check": "linters and the type checker over the repository, not a run",
    "make setup": "creates .venv, which this test runs in",
    "make install-profile": "writes into the user's ~/.config/snakemake",
    "source .venv/bin/activate": "changes the calling shell only; the test calls .venv/bin directly",
    "snakemake --cores all --config preset=smarthome": "renders a full Synthetic Smarthome run",
    "snakemake --profile slurm --configfile amarv.yaml": "submits to a Slurm cluster, with real AMASS/BABEL",
    "snakemake --profile slurm --configfile amarv.yaml -n": "needs Slurm's commands and real AMASS/BABEL",
    "sudo bash scripts/slurm-cluster.sh up": "installs and starts the machine's shared Slurm cluster (root)",
    "sudo bash scripts/slurm-cluster.sh status": "the machine's shared Slurm cluster (root)",
    "sudo bash scripts/slurm-cluster.sh stop": "stops the machine's shared Slurm cluster (root)",
    "snakemake -n --configfile .test/config_tiny/config.yaml": (
        "the suite's own config: tests/conftest.py's tiny_run runs it whole, and test_workflow.py dry-runs it"
    ),
    "snakemake --cores 2 --configfile .test/config_tiny/config.yaml": (
        "the suite's own run: tests/conftest.py's tiny_run builds exactly this, once per session"
    ),
    "sinfo": "Slurm's own command, on the shared cluster",
    "sbatch -p gpu --gres=gpu:1 --wrap 'echo $CUDA_VISIBLE_DEVICES'": "submits a job to the shared cluster",
}
PYTHON_NOT_RUN: dict[str, str] = {
    "from tests.slurm_fixture import slurm_cluster": "the head of a test module that uses the Slurm cluster",
}
# Blocks that continue the prose around them, and the names they take from it.
PYTHON_CONTEXT: dict[str, str] = {
    "from synthact.codecs import depth, storage": (
        "import glob, h5py\n"
        "shard = h5py.File(sorted(glob.glob('output/demo/shards/*.h5'))[0])\n"
        "take = next(iter(shard['takes']))\n"
        "group = shard[f'takes/{take}/views/front']  # a take-view's group\n"
        "a, b = 0, 2\n"
    ),
}
# Names the docs use for a config of the reader's own: here, the tiny run's config.
CONFIG_NAMES = ("my.yaml", "my-run.yaml")
DEMO_OUTPUT = "output/demo"  # where the docs find the demo's dataset


@dataclass(frozen=True)
class DocBlock:
    file: str
    line: int
    language: str
    text: str

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


def doc_blocks() -> list[DocBlock]:
    blocks = []
    for path in DOC_FILES:
        text = path.read_text()
        for match in FENCE.finditer(text):
            line = text.count("\n", 0, match.start()) + 2
            blocks.append(DocBlock(str(path.relative_to(REPO)), line, match.group(1), match.group(2)))
    return blocks


def shell_commands() -> list[DocBlock]:
    """One entry per command line of the shell blocks, without its comment."""
    out = []
    for block in doc_blocks():
        if block.language == "python":
            continue
        for offset, raw in enumerate(block.text.splitlines()):
            command = COMMENT.sub("", raw).strip()
            if command:
                out.append(DocBlock(block.file, block.line + offset, "bash", command))
    return out


def python_blocks() -> list[DocBlock]:
    return [b for b in doc_blocks() if b.language == "python"]


def not_run_reason(block: DocBlock) -> str | None:
    table = PYTHON_NOT_RUN if block.language == "python" else NOT_RUN
    if block.language == "python":
        return next((why for head, why in table.items() if block.text.startswith(head)), None)
    return table.get(block.text)


def parts_of(command: str) -> list[list[str]]:
    """The simple commands of a line joined by ``&&`` or ``|``, each as argv."""
    return [shlex.split(part) for part in re.split(r"&&|\|", command) if part.strip()]


def program(argv: list[str]) -> str:
    return Path(argv[0]).name if argv[0] != "sudo" else argv[1]


# --------------------------------------------------------------------------- fast: every command is accounted for


def test_docs_have_command_blocks():
    names = {b.file for b in doc_blocks()}
    assert {"README.md", "docs/CONSUME.md", "docs/FORMAT.md"} <= names
    assert any("synthact preview output/demo" in b.text for b in shell_commands())


def test_every_not_run_entry_is_still_documented():
    documented = {b.text for b in shell_commands()}
    stale = [c for c in NOT_RUN if c not in documented]
    assert not stale, f"NOT_RUN lists commands the docs no longer hold: {stale}"
    heads = [b.text for b in python_blocks()]
    assert all(any(h.startswith(head) for h in heads) for head in PYTHON_NOT_RUN)


@pytest.mark.parametrize("block", shell_commands(), ids=lambda b: b.where)
def test_synthact_and_snakemake_accept_the_arguments(block: DocBlock):
    """argparse (ours, Snakemake's) accepts every documented synthact and snakemake command."""
    from snakemake.cli import get_argument_parser

    from synthact.cli import build_parser

    for argv in parts_of(block.text):
        name = program(argv)
        if name == "synthact":
            build_parser().parse_args(argv[1:])
        elif name == "snakemake":
            get_argument_parser().parse_args(argv[1:])


@pytest.mark.parametrize("block", [b for b in shell_commands() if b.text.startswith("make ")], ids=lambda b: b.where)
def test_make_targets_exist(block: DocBlock):
    targets = set(re.findall(r"^([a-z][a-z-]*):", (REPO / "Makefile").read_text(), re.MULTILINE))
    assert shlex.split(block.text)[1] in targets, f"{block.where}: no make target {block.text!r}"


def test_slurm_cluster_script_has_the_documented_actions():
    script = (REPO / "scripts" / "slurm-cluster.sh").read_text()
    for command in NOT_RUN:
        if "slurm-cluster.sh" in command:
            assert f"{command.split()[-1]})" in script, f"scripts/slurm-cluster.sh has no action for {command!r}"


def test_docs_and_code_stand_alone():
    """Nothing cites notes that do not ship with the project."""
    files = [*DOC_FILES, *(REPO / "synthact").rglob("*.py"), *(REPO / "examples").glob("*.py")]
    citing = [str(p.relative_to(REPO)) for p in files if re.search(r"\.\./shared|DESIGN\.md", p.read_text())]
    assert not citing, f"these cite files outside the repository: {citing}"


@pytest.mark.parametrize("block", python_blocks(), ids=lambda b: b.where)
def test_python_blocks_compile(block: DocBlock):
    compile(block.text, block.where, "exec")


def test_docs_name_the_demos_output_folder():
    """The docs' ``output/demo`` is where config.yaml (the demo) writes: the slow tests below
    read it as the tiny run's ``output_dir``."""
    assert yaml.safe_load((REPO / "config.yaml").read_text())["output_dir"] == DEMO_OUTPUT
    assert TINY["output_dir"] == "output"


# --------------------------------------------------------------------------- slow: run them on a tiny run


@pytest.fixture(scope="module")
def docs_run(tiny_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the session's tiny run, with the config the docs name by other names beside it."""
    root = tmp_path_factory.mktemp("docs") / "run"
    shutil.copytree(tiny_run, root, symlinks=True)  # mtimes and .snakemake/ kept: a finished run
    for name in CONFIG_NAMES:
        (root / name).write_text((root / "config.yaml").read_text())
    return root


def in_tiny_run(text: str) -> str:
    """TEXT with the demo's output folder read as the tiny run's."""
    return re.sub(rf"\b{DEMO_OUTPUT}\b", TINY["output_dir"], text)


def as_run_here(command: str, root: Path) -> str:
    """The documented command with this run's interpreter, Snakefile, output folder and first shard."""
    command = in_tiny_run(command.replace(".venv/bin/", f"{BIN}/"))
    command = re.sub(r"(^|&& |/)snakemake ", rf"\1snakemake -s {SNAKEFILE} ", command)
    first_shard = min((root / TINY["output_dir"] / "shards").glob("train-*.h5")).name
    return re.sub(r"train-\d{5}-of-\d{5}\.h5", first_shard, command)


def run_here(root: Path, argv: list[str]):
    env = {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(root), "PYTHONHASHSEED": "0"}
    return run_bounded(argv, 900, cwd=root, env=env)


@pytest.mark.slow
def test_documented_commands_run_on_a_tiny_run(docs_run: Path):
    failures = []
    for block in shell_commands():
        if not_run_reason(block):
            continue
        result = run_here(docs_run, ["bash", "-o", "pipefail", "-c", as_run_here(block.text, docs_run)])
        # `| head` closes the pipe early: SIGPIPE (141) on the writer is how head ends it.
        if result.returncode not in (0, 141) or (result.returncode == 141 and "| head" not in block.text):
            failures.append(f"{block.where}: {block.text}\n  exit {result.returncode}: {result.stderr[-1500:]}")
    assert not failures, "documented commands that fail as written:\n" + "\n".join(failures)
    output = docs_run / TINY["output_dir"]
    assert (output / "report" / "preview" / "index.html").is_file()
    assert (output / "report" / "stats" / "stats.json").is_file()
    assert (docs_run / "report.html").is_file()
    card = output / "README.md"  # the dataset card, named after its folder and checksummed with the rest
    assert card.read_text().startswith(f"---\npretty_name: SynthAct {output.name}")
    assert "  README.md\n" in (output / "SHA256SUMS").read_text()


@pytest.mark.slow
def test_documented_python_runs_on_a_tiny_run(docs_run: Path):
    failures = []
    for block in python_blocks():
        if not_run_reason(block):
            continue
        context = next((code for head, code in PYTHON_CONTEXT.items() if block.text.startswith(head)), "")
        result = run_here(docs_run, [str(BIN / "python"), "-c", in_tiny_run(context + block.text)])
        if result.returncode != 0:
            failures.append(f"{block.where}:\n{result.stderr[-2000:]}")
    assert not failures, "documented Python that fails as written:\n" + "\n".join(failures)
