"""The studies and search_spaces packages as code: each module says what it is for and stays
within 400 lines, no import cycle among the project's modules (imports under TYPE_CHECKING count
too), studies/ laid out as its flow (declare -> plan -> run -> report, study declarations at its
top), and the code Ray workers import (the trainable and what it needs) never reaches the command
line's argparse code."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("gan_core", "search_spaces", "studies")
MODULES = {".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): p
           for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))}
STAGES = ("declare", "plan", "run", "report")  # studies/'s sub-packages, in the order a study flows through them
WORKER_ENTRY = "studies.run.trainable"  # what every Ray trial process imports
COMMAND_LINE = {"argparse", "studies.declare.cli", "studies.declare.overrides", "studies.declare.locations"}


def imports(path: Path) -> set[str]:
    """Every module `path` imports, project modules by their full name (lazy imports and those under
    `if TYPE_CHECKING:` included: a cycle a type checker follows is a cycle)."""
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            subs = {f"{node.module}.{alias.name}" for alias in node.names} & MODULES.keys()
            # `from gan_core import config` depends on the submodule, not on what __init__ exports
            names |= subs if len(subs) == len(node.names) else subs | {node.module}
    return names


GRAPH = {name: {n for n in imports(path) if n in MODULES and n != name} for name, path in MODULES.items()}


@pytest.mark.parametrize("name", [n for n in MODULES if not n.startswith("gan_core")])
def test_every_module_is_documented_and_short(name):
    text = MODULES[name].read_text()
    assert ast.get_docstring(ast.parse(text)), "no module docstring"
    assert len(text.splitlines()) <= 400


def test_no_import_cycle_among_the_projects_modules():
    done, path = set(), []

    def visit(module: str) -> None:
        assert module not in path, " -> ".join(path[path.index(module):] + [module])
        if module in done:
            return
        path.append(module)
        for name in sorted(GRAPH[module]):
            visit(name)
        path.pop()
        done.add(module)

    for module in GRAPH:
        visit(module)


def test_ray_workers_never_import_the_command_line():
    reached, todo = set(), [WORKER_ENTRY]
    while todo:
        module = todo.pop()
        if module not in reached:
            reached.add(module)
            todo += GRAPH[module]
    names = set().union(*(imports(MODULES[m]) for m in reached))
    assert not (reached | names) & COMMAND_LINE, sorted((reached | names) & COMMAND_LINE)


def test_studies_is_laid_out_as_its_flow():
    """Study declarations at the top of studies/ (each a STUDY and nothing else), every other module in one
    of the stage packages, and no module of an earlier stage importing the run stage (Ray) at import time."""
    top = {p.stem for p in (ROOT / "studies").glob("*.py")} - {"__init__", "__main__"}
    for name in top:
        tree = ast.parse(MODULES[f"studies.{name}"].read_text())
        assigned = {t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets
                    if isinstance(t, ast.Name)}
        assert assigned == {"STUDY"}, (name, assigned)
    packages = {p.name for p in (ROOT / "studies").iterdir() if (p / "__init__.py").exists()}
    assert packages == set(STAGES)
    for name, path in MODULES.items():
        stage = name.split(".")[1] if name.startswith("studies.") and name.count(".") >= 2 else None
        if stage in ("declare", "plan"):  # the command line calls the run stage, but only once it runs
            assert not {n for n in module_level_imports(path) if n.startswith("studies.run")}, name


def module_level_imports(path: Path) -> set[str]:
    """The project modules `path` imports when it is imported (its top-level import statements)."""
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ImportFrom) and node.module:
            names |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
    return names & MODULES.keys()
