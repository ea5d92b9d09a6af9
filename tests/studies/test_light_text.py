"""Printing text loads nothing heavy: `python -m studies` and every study's `--help` import neither torch
nor Ray (nor MLflow, Optuna, SciPy), checked in a fresh process through `sys.modules`."""

import subprocess
import sys

import pytest

from studies.__main__ import all_studies

HEAVY = ("torch", "ray", "mlflow", "optuna", "scipy", "torchvision", "sklearn")
PROBE = """
import runpy, sys
sys.argv = [sys.argv[1], *sys.argv[2:]]
try:
    runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
except SystemExit as stop:
    assert stop.code in (0, None), stop.code
print("loaded:", *sorted(m for m in {heavy!r} if m in sys.modules))
"""


def loaded(module: str, *args: str) -> list[str]:
    out = subprocess.run([sys.executable, "-c", PROBE.format(heavy=HEAVY), module, *args],
                         capture_output=True, text=True, check=True).stdout
    (line,) = [line for line in out.splitlines() if line.startswith("loaded:")]
    return line.split()[1:]


def test_listing_the_studies_loads_nothing_heavy():
    assert loaded("studies") == []


@pytest.mark.parametrize("name", sorted(all_studies()))
def test_a_studys_help_loads_nothing_heavy(name):
    assert loaded(f"studies.{name}", "--help") == []
