"""The docs site stays true to the code: every generated table equals what docs/gen.py writes from the
code now, every dataset has its line, and every page of docs/ is in the site's nav (and every nav
entry is a page). `mkdocs build --strict` (in CI) checks the links and anchors."""

import importlib.util
import re
from pathlib import Path

import pytest
import yaml

from gan_core.datasets import DATASETS

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
_spec = importlib.util.spec_from_file_location("docs_gen", DOCS / "gen.py")
gen = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gen)


@pytest.mark.parametrize("page", sorted(gen.PAGES))
def test_each_generated_page_is_what_gen_writes_from_the_code(page):
    assert gen.generated(page) == (DOCS / page).read_text(), f"docs/{page} is stale: run python docs/gen.py"


def test_a_region_without_its_markers_is_refused():
    with pytest.raises(ValueError, match="no region 'studies'"):
        gen.render("# a page\n", {"studies": gen.studies_table})


def test_every_dataset_has_its_line():
    first_cells = [line.split("|")[1] for line in (DOCS / "datasets.md").read_text().splitlines()
                   if line.startswith("| ")]
    named = {name for cell in first_cells for name in re.findall(r"`([^`]+)`", cell)}
    assert set(DATASETS) <= named, set(DATASETS) - named


def nav_files(entries) -> list[str]:
    files = []
    for item in entries:
        value = next(iter(item.values())) if isinstance(item, dict) else item
        files += nav_files(value) if isinstance(value, list) else [value]
    return files


def test_every_page_is_in_the_nav_and_every_nav_entry_is_a_page():
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    listed = nav_files(config["nav"])
    assert len(listed) == len(set(listed))
    assert sorted(listed) == sorted(p.name for p in DOCS.glob("*.md"))
