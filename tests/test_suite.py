"""The suite's own order: the slow modules named to go first under `-n` exist and are slow, so a rename
cannot quietly send the longest of them to the end, where it would run alone."""

import ast
from pathlib import Path

from conftest import LONGEST_FIRST

HERE = Path(__file__).parent


def test_the_longest_first_modules_exist_and_are_marked_slow():
    for name in LONGEST_FIRST:
        module = ast.parse((HERE / name).read_text())
        marks = [ast.unparse(node.value) for node in module.body if isinstance(node, ast.Assign)
                 and any(getattr(t, "id", "") == "pytestmark" for t in node.targets)]
        assert marks and "pytest.mark.slow" in marks[0], name
