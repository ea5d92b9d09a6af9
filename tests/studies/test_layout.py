"""The studies and search_spaces packages as code: each module says what it is for and stays
within 400 lines, no import cycle among the project's modules, and the code Ray workers import
(the trainable and what it needs) never reaches the command line's argparse code."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("gan_core", "search_spaces", "studies")
MODULES = {f"{p.parent.name}.{p.stem}".removesuffix(".__init__"): p
           for package in PACKAGES for p in sorted((ROOT / package).glob("*.py"))}
WORKER_ENTRY = "studies.trainable"  # what every Ray trial process imports
COMMAND_LINE = {"argparse", "studies.runner", "studies.overrides", "studies.locations"}


def imports(path: Path) -> set[str]:
    """Every module `path` imports, project modules by their full name (lazy imports included,
    `if TYPE_CHECKING:` ones left out: they never run)."""
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            node.body = []
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
