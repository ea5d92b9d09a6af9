"""The private Ray Tune attributes the schedulers rely on, each with why no public API does the job.
Each is checked by name, so the Ray release that moves one fails here, naming it, before any study runs
(the end-to-end study tests would fail too, less legibly)."""

import pytest
from ray.tune.execution.tune_controller import TuneController
from ray.tune.schedulers import FIFOScheduler, PopulationBasedTraining

PBT = PopulationBasedTraining(time_attr="training_iteration", metric="score", mode="max", perturbation_interval=2,
                              hyperparam_mutations={"lr": [1e-4, 2e-4]}, synch=True)
PRIVATE = [  # (owner, attribute, who uses it and why no public API does)
    (TuneController, "_mark_trial_to_checkpoint",
     "studies.run.halving.stop_paused: a trial stopped at a synchronous rung while paused has no live actor; "
     "Tune saves a stopped trial's final state only when marked, and has no public call that marks it"),
    (FIFOScheduler(), "_supports_buffered_results",
     "studies.run.halving.SyncHalving: decide at each result as it comes (no public switch; Tune reads it)"),
    (FIFOScheduler(), "_metric", "studies.run.halving.SyncHalving: the metric a TrialScheduler ranks, as Tune sets it"),
    (PopulationBasedTraining, "_exploit",
     "studies.run.population.CollapsePBT: count exploits and reset a clone's collapse streak; PBT has no hook"),
    (PopulationBasedTraining, "_quantiles",
     "studies.run.population.CollapsePBT: collapsed members join the bottom quantile; PBT has no hook"),
    (PopulationBasedTraining, "_checkpoint_or_exploit",
     "studies.run.population.CollapsePBT: the synchronous perturbation step it extends"),
    (PBT, "_trial_state", "studies.run.population.CollapsePBT: each member's last score, to rank members"),
    (PBT, "_quantile_fraction", "studies.run.population.CollapsePBT: the share of members that copy"),
    (PBT, "_next_perturbation_sync", "studies.run.population.CollapsePBT: the next synchronous perturbation point"),
    (PBT, "_perturbation_interval", "studies.run.population.CollapsePBT: evaluations between perturbations"),
]


@pytest.mark.parametrize("owner, attribute, reason", PRIVATE, ids=[a for _, a, _ in PRIVATE])
def test_a_private_ray_attribute_the_schedulers_use_is_still_there(owner, attribute, reason):
    assert hasattr(owner, attribute), f"Ray moved {attribute}, which {reason}"


def test_the_fence_names_every_private_ray_attribute_the_studies_use():
    """Every `_name` the scheduler modules read off a Ray object is fenced above (their own names aside)."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "studies" / "run"
    used = set()
    for module in ("halving.py", "population.py"):
        tree = ast.parse((root / module).read_text())
        ray_names = set(dir(FIFOScheduler())) | set(dir(PBT)) | set(dir(TuneController))
        own = {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))} - ray_names
        own |= {t.attr for n in ast.walk(tree) if isinstance(n, ast.Assign) for t in n.targets
                if isinstance(t, ast.Attribute) and t.attr not in ray_names}
        used |= {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr.startswith("_")
                 and not n.attr.startswith("__") and n.attr not in own}
        used |= {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name in ray_names
                 and n.name.startswith("_") and not n.name.startswith("__")}  # private methods overridden
    # `_tune_controller` is read with getattr and a fallback: a Ray that drops the wrapper needs nothing
    assert used == {a for _, a, _ in PRIVATE}
