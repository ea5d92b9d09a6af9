"""The recipes of docs/extending.md work as written: each test takes the recipe's code blocks from the
page itself, applies them as a reader would (in a scratch copy of the module its title names, the
entry added to the real registry for the test's duration; a study's two files in a scratch folder
that joins the packages' paths), runs the registry's own per-entry tests on the new entry, and trains
real steps with it on a tiny net."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import math
import re
import sys
import types
from pathlib import Path

import pytest
import torch

import gan_core.datasets
import gan_core.losses
import gan_core.metrics
import search_spaces
import studies
from conftest import TINY_IMAGES, TINY_POINTS
from gan_core.config import TrainConfig
from gan_core.train import train

ROOT = Path(__file__).resolve().parents[2]
PAGE = (ROOT / "docs" / "extending.md").read_text()
BLOCK = re.compile(r'^```(\w+)(?: title="([^"]*)")?\n(.*?)^```$', re.M | re.S)


def section(title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", PAGE, re.S | re.M)
    assert match, f"docs/extending.md has no '## {title}' section"
    return match.group(1)


def blocks(title: str, language: str = "python") -> list[tuple[str, str]]:
    """(title, code) of each fenced block of that language in the section, in order."""
    return [(name, code) for lang, name, code in BLOCK.findall(section(title)) if lang == language]


def scratch(module: types.ModuleType, code: str) -> dict:
    """The namespace of a scratch copy of `module` with the recipe's code run in it: the code sees the
    module's imports and names, as it would pasted into the file."""
    namespace = dict(vars(module), __name__=f"scratch_{module.__name__.replace('.', '_')}")
    exec(compile(code, "docs/extending.md", "exec"), namespace)
    return namespace


def entry(line: str, namespace: dict) -> tuple[str, object]:
    """A registry entry as the recipe writes it (`"name": Value(...),`), built in the scratch namespace."""
    (name, value), = eval("{" + line.strip() + "}", namespace).items()
    return name, value


def registry_tests(test_file: str, name: str, **fixtures) -> list[str]:
    """Run every test of `test_file` that is parametrized over the registry's names (loaded now, so the
    new entry is among them) on `name`; the names of the tests run."""
    path = ROOT / "tests" / "gan_core" / test_file
    spec = importlib.util.spec_from_file_location(f"recipe_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    ran = []
    for test_name, fn in vars(module).items():
        marks = [m for m in getattr(fn, "pytestmark", []) if m.name == "parametrize" and m.args[0] == "name"]
        if test_name.startswith("test_") and marks and name in marks[0].args[1]:
            params = inspect.signature(fn).parameters
            fn(name=name, **{p: fixtures[p] for p in params if p != "name"})
            ran.append(test_name)
    return ran


def finite_run(config: TrainConfig) -> dict:
    """Train `config`; the metrics of its last evaluation, once every logged value is a finite float."""
    reports = []
    assert train(config, reports.append) == "finished"
    for report in reports:
        assert all(type(v) is float and math.isfinite(v) for v in report["metrics"].values()), report["metrics"]
    return reports[-1]["metrics"]


# ----------------------------------------------------------------------------- a loss

def test_the_loss_recipe_passes_every_loss_test_and_trains(monkeypatch):
    (where, functions), (where_entry, line) = blocks("Add a loss")
    assert (where, where_entry) == ("gan_core/losses.py", "gan_core/losses.py, in LOSSES")
    name, loss = entry(line, scratch(gan_core.losses, functions))
    monkeypatch.setitem(gan_core.losses.LOSSES, name, loss)

    assert len(registry_tests("test_losses.py", name)) >= 4
    real, fake = torch.full((8,), 2.0), torch.full((8,), -2.0)  # -(E[T(x)] - E[T(G(z))]), T = tanh(v) / 2
    assert float(loss.d(real, fake, real, fake)) == pytest.approx(-math.tanh(2.0))
    assert float(loss.g(fake)) == pytest.approx(0.5 * math.tanh(2.0))
    last = finite_run(TrainConfig(**{**TINY_POINTS, "loss": name, "max_steps": 4, "eval_every": 2}))
    assert {"loss_d", "loss_g", "score", "diversity"} <= set(last)

    refused = re.search(r"stops at once:\s*`([^`]*)`", section("Add a loss")).group(1)
    with pytest.raises(ValueError) as err:
        TrainConfig(**{**TINY_POINTS, "loss": name, "real_label": (0.9, 0.9)})
    assert str(err.value) == refused
    from search_spaces import loss_family
    assert name in [setup["loss"] for setup in loss_family.space()["loss_setup"]["grid_search"]]


# ----------------------------------------------------------------------------- a metric

def test_the_metric_recipe_passes_every_metric_test_and_is_logged(monkeypatch):
    (where, code), = blocks("Add a metric")
    assert where == "gan_core/metrics.py"
    monkeypatch.setattr(gan_core.metrics, "METRICS", dict(gan_core.metrics.METRICS))  # register writes here
    scratch(gan_core.metrics, code)
    name = "pixel_std"
    metric = gan_core.metrics.METRICS[name]
    assert (metric.keys, metric.space) == (("pixel_std", "pixel_std_real"), "images")

    digits = gan_core.datasets.load_dataset("stacked-digits", 32)
    stacked = digits.sample(64, torch.Generator().manual_seed(1)), digits.sample(64, torch.Generator().manual_seed(2))
    assert len(registry_tests("test_metrics.py", name, stacked=stacked)) >= 2
    real = stacked[1]
    assert metric(real[:1].repeat(16, 1, 1, 1), real)["pixel_std"] == 0.0  # one image repeated: no spread
    assert metric(stacked[0], real)["pixel_std_real"] == pytest.approx(float(real.std(0).mean()))

    # `--set metrics=pixel_std`: every evaluation logs both keys (here beside the sample-set scores)
    last = finite_run(TrainConfig(**{**TINY_IMAGES, "dataset": "cifar10", "metrics": name}))
    assert {"pixel_std", "pixel_std_real", "precision", "coverage", "ms_ssim", "score"} <= set(last)
    assert last["pixel_std_real"] > 0


# ----------------------------------------------------------------------------- a dataset

def test_the_dataset_recipe_passes_every_dataset_test_and_trains(monkeypatch):
    (where, code), (where_entry, line) = blocks("Add a dataset")
    assert (where, where_entry) == ("gan_core/datasets.py", "gan_core/datasets.py, in DATASETS")
    name, value = entry(line, scratch(gan_core.datasets, code))
    monkeypatch.setitem(gan_core.datasets.DATASETS, name, value)

    assert len(registry_tests("test_datasets.py", name)) >= 3
    x = gan_core.datasets.load_dataset(name, 32).sample(64, torch.Generator().manual_seed(0))
    bright = x[:, 0, 0, :].sum(1)  # each image: one band of 1 to 4 bright columns, the same on every row
    assert set(x.unique().tolist()) == {0.0, 1.0} and bright.min() >= 1 and bright.max() <= 4
    assert torch.equal(x, x[:, :, :1, :].expand_as(x))

    last = finite_run(TrainConfig(**{**TINY_IMAGES, "dataset": name}))
    assert {"precision", "coverage", "ms_ssim", "fd", "kid"} <= set(last)  # no known modes: sample-set scores
    assert 0.0 <= last["score"] <= 1.0


# ----------------------------------------------------------------------------- a study

@pytest.fixture
def scratch_study(tmp_path, monkeypatch):
    """The study recipe's two files written into a scratch folder that joins the `search_spaces` and
    `studies` packages' paths, as if they were in the repository; its modules are forgotten afterwards."""
    written = {}
    for where, code in blocks("Add a study"):
        path = tmp_path / where
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(code)
        written[where] = path
    assert set(written) == {"search_spaces/r1_penalty.py", "studies/r1_penalty.py"}
    monkeypatch.setattr(search_spaces, "__path__", [*search_spaces.__path__, str(tmp_path / "search_spaces")])
    monkeypatch.setattr(studies, "__path__", [*studies.__path__, str(tmp_path / "studies")])
    importlib.invalidate_caches()
    yield importlib.import_module("studies.r1_penalty")
    for module in ("studies.r1_penalty", "search_spaces.r1_penalty"):
        sys.modules.pop(module, None)


def commands(title: str) -> list[list[str]]:
    """The commands of the section's bash blocks, comments dropped, as argument lists."""
    return [line.split("#")[0].split() for _, code in blocks(title, "bash") for line in code.splitlines()
            if line.split("#")[0].strip()]


def test_the_study_recipe_is_listed_planned_and_its_trials_train(scratch_study, capsys):
    from studies.__main__ import all_studies, main as list_studies
    from studies.declare.cli import main, make_plan
    from studies.declare.spaces import label

    study = scratch_study.STUDY
    ran = set()
    for argv in commands("Add a study"):
        if argv == ["python", "-m", "studies"]:
            assert all_studies()["r1_penalty"] is study
            list_studies()
            assert re.search(rf"^r1_penalty +{re.escape(study.summary)}$", capsys.readouterr().out, re.M)
        elif argv == ["python", "-m", "studies.r1_penalty", "--dry-run"]:
            assert main(study, argv[3:]) == 0
            plan = capsys.readouterr().out
            assert "trials: 8" in plan and "r1_weight = [0.0, 0.1, 1.0, 10.0]" in plan
        elif argv == ["python", "docs/gen.py"]:
            docs_gen = importlib.util.spec_from_file_location("docs_gen", ROOT / "docs" / "gen.py")
            gen = importlib.util.module_from_spec(docs_gen)
            docs_gen.loader.exec_module(gen)
            row = "| `r1_penalty` | R1 penalty weight 0, 0.1, 1, 10 on the DCGAN baseline | 4 | 2 | 8 |"
            assert row in gen.studies_table()
        else:
            assert argv == ["python", "-m", "studies.r1_penalty", "--smoke"]  # through Ray: trained directly below
            continue
        ran.add(" ".join(argv))
    assert len(ran) == 3

    full = make_plan(study, [])
    assert sorted({label(full.columns, {"r1_weight": c.r1_weight}) for c in full.configs}) == [
        "r1_weight=0", "r1_weight=0.1", "r1_weight=1", "r1_weight=10"]
    smoke = make_plan(study, ["--smoke"])
    assert smoke.trials == 2 and [c.r1_weight for c in smoke.configs] == [0.0, 1.0]
    last = finite_run(smoke.configs[1])  # what the smoke's R1 trial trains, without Ray
    assert last["work"] == smoke.configs[1].max_steps and 0.0 <= last["score"] <= 1.0
