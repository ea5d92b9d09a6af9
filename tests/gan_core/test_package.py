"""gan_core as a package: each module says what it is for, stays under 400 lines, never imports
Ray or MLflow (the studies layer owns them), and no two of its modules import each other."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "gan_core"
MODULES = sorted(PACKAGE.glob("*.py"))


def imports(path: Path) -> set[str]:
    """The top-level names of every module `path` imports (gan_core ones as gan_core.NAME)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            if node.module == "gan_core":
                names |= {f"gan_core.{alias.name}" for alias in node.names}
    return names


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_every_module_is_documented_short_and_free_of_ray_and_mlflow(path):
    tree = ast.parse(path.read_text())
    assert ast.get_docstring(tree), "no module docstring"
    assert len(path.read_text().splitlines()) < 400
    assert not {name.split(".")[0] for name in imports(path)} & {"ray", "mlflow"}


def test_no_import_cycle():
    graph = {f"gan_core.{p.stem}": {n for n in imports(p) if n.startswith("gan_core.")} for p in MODULES}
    graph["gan_core"] = graph.pop("gan_core.__init__")
    done, path = set(), []

    def visit(module: str) -> None:
        assert module not in path, " -> ".join(path[path.index(module):] + [module])
        if module in done:
            return
        path.append(module)
        for name in graph.get(module, ()):
            visit(name)
        path.pop()
        done.add(module)

    for module in graph:
        visit(module)
