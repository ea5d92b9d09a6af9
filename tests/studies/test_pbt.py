"""Population-based training: who copies whom (the bottom quantile and the collapsed), and,
through real Ray and a real sqlite MLflow store, that an exploit copies the donor's whole
training state and that each run's history stays one value per step across its exploits.
(`--smoke` of the `pbt` study runs with every study's in test_studies_smoke.py.)"""

import glob
import json
import os

import pytest
import ray
import torch
from mlflow.tracking import MlflowClient
from ray.tune.experiment import Trial
from ray.tune.schedulers.pbt import _PBTTrialState

from studies.declare.cli import main as cli_main
from studies.run.population import CollapsePBT, Population
from studies.declare.study import Study
from studies.run.trainable import STATE_FILE, weights_digest

SETTINGS = {"interval": 1, "burn_in": 1, "quantile": 0.25, "resample": 0.25, "mutations": {"lr_d": [1e-4, 2e-4]}}


def population(scores: list[float], collapsed: dict[int, int]) -> tuple[CollapsePBT, list[Trial]]:
    """A scheduler whose members scored `scores` at the perturbation point; `collapsed`: member -> streak."""
    pbt = CollapsePBT(SETTINGS, persistence=2, grace=1, seed=0)
    trials = [Trial("member", config={"lr_d": 1e-4}, stub=True) for _ in scores]
    for trial, score in zip(trials, scores):
        pbt._trial_state[trial] = _PBTTrialState(trial)
        pbt._trial_state[trial].last_score = score
    for i, streak in collapsed.items():
        pbt.streaks[trials[i].trial_id] = streak
    return pbt, trials


def test_the_bottom_quarter_and_every_collapsed_member_outside_the_top_copy_the_top():
    pbt, t = population([0.5, 0.1, 0.3, 0.9, 0.7, 0.2, 0.8, 0.6], collapsed={4: 2, 6: 1, 3: 5})
    lower, upper = pbt._quantiles()
    assert upper == [t[6], t[3]]  # the top quarter, collapsed or not: a donor is ranked by its score
    assert lower == [t[1], t[5], t[4]]  # the bottom quarter, then member 4 (collapsed twice running)


def test_a_member_that_ended_is_neither_copied_nor_copies():
    pbt, t = population([0.5, 0.1, 0.9, 0.7], collapsed={})
    pbt.ended.add(t[2].trial_id)
    assert pbt._quantiles() == ([t[1]], [t[3]])


TWINS = Study(  # two members that differ only in their seed; explore can change nothing
    name="pbt_twins",
    summary="two members, one copies the other",
    base=dict(dataset="ring8", arch="mlp", nz=4, ngf=32, ndf=32, batch_size=64, norm_g="none", norm_d="none",
              budget="updates", max_steps=80, eval_every=10, eval_samples=500),
    space=lambda: {"lr_d": 2e-4},
    seeds=2,
    population=Population(lambda: {"lr_d": [2e-4], "lr_g": [2e-4]}, burn_in=2, interval=2),
)


@pytest.mark.slow
def test_an_exploit_copies_the_donors_weights_and_the_history_stays_one_value_per_step(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    uri, storage = f"sqlite:///{tmp_path / 'm.db'}", tmp_path / "r"
    ray.init(num_cpus=2, num_gpus=0, include_dashboard=False)
    try:
        assert cli_main(TWINS, ["--tracking-uri", uri, "--storage", str(storage)]) == 0
    finally:
        ray.shutdown()
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name("pbt_twins")
    runs = {r.data.tags["trial_id"]: r for r in client.search_runs([exp.experiment_id])
            if "mlflow.parentRunId" in r.data.tags}
    history = {t: {k: [(m.step, m.value) for m in sorted(client.get_metric_history(r.info.run_id, k),
                                                             key=lambda m: m.step)]
                   for k in ("loss_d", "loss_g", "lr_d", "exploit_from")} for t, r in runs.items()}
    steps = list(range(10, 90, 10))
    for t in runs:  # every evaluation once, the exploits' branches included
        assert [s for s, _ in history[t]["loss_d"]] == steps and [s for s, _ in history[t]["lr_d"]] == steps

    exploits = sorted((int(k.rpartition(".")[2]), t, json.loads(v)) for t, r in runs.items()
                      for k, v in r.data.tags.items() if k.startswith("gan.exploit."))
    assert [s for s, _, _ in exploits] == [20, 40, 60]  # one copy at every perturbation point (2, 4, 6 of 8)
    first, copier, details = exploits[0]
    donor = details["donor_trial"]
    assert donor != copier and details["donor_run"] == runs[donor].info.run_id and details["hidden_steps"] == 0
    assert runs[copier].data.tags["gan.lineage"].split()[0] == f"{first}:{donor}"
    assert history[copier]["exploit_from"][0] == (first, float(donor.rsplit("_", 1)[1]))
    # the seeds differ until the copy; from then on the two are one run (same state, same hyper-parameters)
    before = [v for s, v in history[copier]["loss_d"] if s <= first]
    assert before != [v for s, v in history[donor]["loss_d"] if s <= first]
    for key in ("loss_d", "loss_g"):
        assert [v for s, v in history[copier][key] if s > first] == [v for s, v in history[donor][key] if s > first]

    # the last exploit restored exactly the donor's G at that step, and both end with the same G
    checkpoints = {}
    for path in glob.glob(str(storage / "pbt_twins-*" / "*" / "checkpoint_*" / STATE_FILE)):
        state = torch.load(path, weights_only=True)
        checkpoints[state["trial_id"], state["work"]] = state
    last, _, details = exploits[-1]
    assert weights_digest(checkpoints[details["donor_trial"], last]["g"]) == details["g_digest"]
    a, b = (checkpoints[t, 80]["g"] for t in runs)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert os.path.dirname(details["checkpoint"]).startswith(str(storage))
    parent = next(r for r in client.search_runs([exp.experiment_id]) if "mlflow.parentRunId" not in r.data.tags)
    assert "report/figures/schedules.png" in [a.path for a in client.list_artifacts(parent.info.run_id,
                                                                                     "report/figures")]


def test_pbt_needs_a_work_budget(capsys):
    from studies.pbt import STUDY
    from studies.declare.cli import make_plan

    with pytest.raises(SystemExit) as stop:
        make_plan(STUDY, ["--max-steps", "0", "--max-seconds", "60"])
    assert stop.value.code == 2 and "PBT perturbs at evaluations of a work budget" in capsys.readouterr().err
    plan = make_plan(STUDY, ["--smoke"])
    assert plan.population["burn_in"] == 2 and plan.trials == 2
    assert make_plan(STUDY, ["--scheduler", "asha"]).population is None  # the same grid under ASHA
