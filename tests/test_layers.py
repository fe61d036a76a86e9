"""The package imports only down the data flow: each floor uses its own and the floors below (docs/ARCHITECTURE.md)."""

import ast
import graphlib
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "synthact"
FLOORS = (  # lowest first; docs/ARCHITECTURE.md draws them
    ("__init__", "errors", "atomic", "seeding", "progress", "stages", "codecs", "shard_format", "safe_unpickle"),
    ("safe_names", "text_inputs"),
    ("presets",),
    ("preflight",),
    ("config", "config_sections", "resolved_config", "locking", "isolate", "ownership"),
    ("body",),
    ("sources", "run_inputs"),
    ("fitting",),
    ("scene",),
    ("demo",),
    ("takes",),
    ("render",),
    ("dispatch",),
    ("shards",),
    ("labels",),
    ("consume",),
    ("cli",),
)
FLOOR = {unit: level for level, units in enumerate(FLOORS) for unit in units}


def imports() -> dict[str, set[str]]:
    """Every module of the package and the package modules it imports anywhere (in functions too)."""
    named: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")
        named[module] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                assert node.level == 0, f"{path}: use absolute imports"
                named[module] |= {f"{node.module}.{alias.name}" for alias in node.names}
            elif isinstance(node, ast.Import):
                named[module] |= {alias.name for alias in node.names}
    # ``from synthact.config import RunPaths`` imports the module synthact.config.
    return {m: {n if n in named else n.rpartition(".")[0] for n in names} & named.keys() for m, names in named.items()}


def unit(module: str) -> str:
    """The package's top-level part a module belongs to: ``synthact.render.worker`` -> ``render``."""
    return module.split(".")[1] if "." in module else "__init__"


def test_every_import_goes_down_or_stays_on_its_floor() -> None:
    upward = sorted(f"{m} -> {n}" for m, names in imports().items() for n in names if FLOOR[unit(n)] > FLOOR[unit(m)])
    assert not upward, "imports against the floors (tests/test_layers.py, FLOORS):\n" + "\n".join(upward)


def test_no_circle_between_packages_or_modules() -> None:
    modules = imports()
    units: dict[str, set[str]] = {}
    for module, names in modules.items():
        units.setdefault(unit(module), set()).update(unit(n) for n in names if unit(n) != unit(module))
    for graph in (units, modules):
        graphlib.TopologicalSorter(graph).prepare()  # raises CycleError, naming the circle
