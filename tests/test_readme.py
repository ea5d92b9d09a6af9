"""The README stays true: CI runs its test command, its tables name every knob, dataset and study."""

import re
from pathlib import Path

from gan_core.config import TrainConfig
from gan_core.datasets import DATASETS
from studies.__main__ import all_studies

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def section(title: str) -> str:
    match = re.search(rf"^## {title}\n(.*?)(?=^## |\Z)", README, re.S | re.M)
    assert match, f"README has no '## {title}' section"
    return match.group(1)


def test_ci_runs_the_readme_test_command():
    command = section("Tests").strip().splitlines()[0].strip()
    assert command == "python -m pytest"
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert command in [line.strip() for line in ci]
    assert any("pip install -e '.[test]'" in line for line in ci)


def test_the_knob_table_lists_every_trainconfig_field():
    table = section("Knobs")
    for field in TrainConfig().to_dict():
        assert f"`{field}`" in table, field


def test_every_dataset_and_study_is_documented():
    for name in DATASETS:
        assert f"`{name}`" in README, name
    studies = section("The studies")
    for name in all_studies():
        assert f"`{name}`" in studies, name
