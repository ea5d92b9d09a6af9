"""gan_core as a package: each module says what it is for, stays under 400 lines, never imports
Ray or MLflow (the studies layer owns them). No import cycle among them: tests/studies/test_layout.py
checks that for every module of the project."""

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
