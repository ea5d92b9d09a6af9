"""What a study's runs look like to MLflow's runs table, against a real sqlite store: child runs named by
their label's values, their params only what varies (their full config a tag, read back by the report as
the params of a run made before were), and the saved view each study run gets (an experiment tag in the
form MLflow's UI stores its views, whose filter MLflow's own search answers with the study run's runs).
The view in a real browser is tests/studies/test_runs_table_ui.py (slow)."""

import json

import pytest
from mlflow.entities import Metric
from mlflow.tracking import MlflowClient

from gan_core import TrainConfig
from studies.__main__ import all_studies
from studies.declare.cli import make_plan
from studies.report import sources
from studies.report.runs import load_study
from studies.run import records, runs_table, tracking

CONFIG = TrainConfig(loss="wgan-gp", d_steps=5, g_steps=1, max_steps=8400, budget="updates",
                     collapse_quality=0.2, seed=1).to_dict()


@pytest.fixture
def store(tmp_path):
    client = MlflowClient(f"sqlite:///{tmp_path / 'm.db'}")
    exp = tracking.experiment_id(client, "dg_ratio")
    parent = tracking.start_parent(client, exp, "dg_ratio", "dg_ratio-20260101-000000", {"trials": 2})
    return client, exp, parent


@pytest.mark.parametrize("setting, name", [
    ("loss=bce ratio=1:5 seed=0", "bce 1:5 s0"),
    ("loss=wgan-gp ratio=5:1 seed=12", "wgan-gp 5:1 s12"),
    ("lr_d=0.0001 lr_g=0.0004 ratio=2:1 seed=3", "lr_d=0.0001 lr_g=0.0004 2:1 s3"),  # a bare number keeps its name
    ("preset=none max_steps=16800 seed=1", "none max_steps=16800 s1"),
    ("", ""),
])
def test_a_child_run_is_named_by_its_labels_values_the_seed_as_sN(setting, name):
    assert records.run_name(setting) == name


def test_a_child_run_logs_what_tells_it_apart_and_keeps_its_full_config_as_a_tag(store):
    client, exp, parent = store
    setting = "loss=wgan-gp ratio=5:1 seed=1"
    params = records.child_params(setting, CONFIG, ("max_steps",))
    assert params == {"loss": "wgan-gp", "ratio": "5:1", "seed": "1", "max_steps": "8400"}
    run_id, existed = tracking.find_or_create_child(client, exp, parent, "dg_ratio", "t1", setting, params,
                                                    CONFIG, "dg_ratio-20260101-000000")
    run = client.get_run(run_id)
    assert not existed and run.info.run_name == "wgan-gp 5:1 s1"
    assert run.data.params == params
    assert json.loads(run.data.tags[records.TAG_CONFIG]) == json.loads(json.dumps(CONFIG))
    assert run.data.tags["gan.setting"] == setting and run.data.tags["gan.group"] == "loss=wgan-gp ratio=5:1"
    assert run.data.tags[tracking.TAG_STUDY_RUN] == "dg_ratio-20260101-000000"


def test_the_report_reads_the_config_from_the_tag_and_from_the_params_of_a_run_made_before(store):
    """A new run (its config a tag, few params) and an old one (every config field a param) read alike."""
    client, exp, parent = store
    new, _ = tracking.find_or_create_child(client, exp, parent, "dg_ratio", "t1", "loss=wgan-gp ratio=5:1 seed=1",
                                           {"loss": "wgan-gp", "ratio": "5:1", "seed": "1"}, CONFIG)
    old = client.create_run(exp, run_name="loss=wgan-gp ratio=5:1 seed=0", tags={
        "mlflow.parentRunId": parent, "gan.setting": "loss=wgan-gp ratio=5:1 seed=0",
        "gan.group": "loss=wgan-gp ratio=5:1", "gan.status": "finished"}).info.run_id
    tracking.log_params(client, old, CONFIG)  # as every child run was logged before the tag
    for run in (new, old):
        client.log_batch(run, metrics=[Metric("score", 0.5, 0, 100)])
    trials = {t.run_id: t for t in load_study(client, "dg_ratio").trials}
    assert set(trials) == {new, old}
    assert trials[new].params == {**trials[old].params, "ratio": "5:1"}  # the label's own knob, beside the config
    assert trials[old].params["betas_d"] == trials[new].params["betas_d"] == str(CONFIG["betas_d"])
    client.set_terminated(parent)  # FINDINGS reads finished studies only
    exported = {t["name"]: t["params"] for t in sources.export(sources.from_store(client, parent))["trials"]}
    assert exported["wgan-gp 5:1 s1"] == exported["loss=wgan-gp ratio=5:1 seed=0"] == {
        "max_steps": "8400", "budget": "updates", "d_steps": "5", "g_steps": "1", "collapse_quality": "0.2",
        "dataset": "stacked-digits", "metrics": "auto"}


def test_each_study_run_gets_a_saved_view_of_its_runs_table(store):
    client, exp, parent = store
    name = "dg_ratio-20260101-000000"
    child, _ = tracking.find_or_create_child(client, exp, parent, "dg_ratio", "t1", "loss=bce ratio=1:5 seed=0",
                                             {}, CONFIG)  # made without the tag: opening the view adds it
    other = tracking.start_parent(client, exp, "dg_ratio", "dg_ratio-20260102-000000", {})
    study = {"experiment_id": exp, "parent_run_id": parent, "parent_run_name": name}
    assert not runs_table.has_view(client, exp, name)
    assert runs_table.open_view(client, study, ("quality",)) == name
    saved = json.loads(client.get_experiment(exp).tags[f"mlflow.sharedViewState.{name}"])
    assert saved["name"] == f"{name}: by setting" and isinstance(saved["createdAt"], int)
    state = json.loads(saved["state"])
    assert state["selectedColumns"] == ["metrics.`score`", "metrics.`modes_covered`", "metrics.`quality`",
                                        "tags.`gan.status`"]
    assert state["groupBy"]["groupByKeys"] == [{"mode": "tag", "groupByData": "gan.group"}]
    assert (state["orderByKey"], state["orderByAsc"]) == ("metrics.`score`", False)
    found = {r.info.run_id for r in client.search_runs([exp], state["searchFilter"])}
    assert found == {parent, child} and other not in found  # this study run's runs, the parent among them
    assert client.get_run(parent).data.tags["gan.group"] == runs_table.PARENT_GROUP  # no "Unassigned" group
    runs_table.open_view(client, study, ("quality",))  # a resumed study: the same view, untouched
    assert json.loads(client.get_experiment(exp).tags[f"mlflow.sharedViewState.{name}"]) == saved
    assert runs_table.has_view(client, exp, name)
    assert runs_table.address("http://10.0.0.5:5000", study) == (
        f"http://10.0.0.5:5000/#/experiments/{exp}/runs?workflowType=machine_learning&viewStateShareKey={name}")
    assert tracking.ui_hint("sqlite:////data/m.db", exp).endswith(f"#/experiments/{exp}/runs?workflowType="
                                                                 "machine_learning")


def test_the_knobs_the_command_line_sets_are_a_child_runs_params():
    study = all_studies()["dg_ratio"]
    assert make_plan(study, ["--smoke"]).overrides == ()
    plan = make_plan(study, ["--smoke", "--max-steps", "30", "--set", "eval_samples=400", "--set", "metrics=prdc"])
    assert plan.overrides == ("max_steps", "eval_samples", "metrics")
    config = plan.configs[0].to_dict()
    assert records.child_params("loss=bce ratio=1:5 seed=0", config, plan.overrides) == {
        "max_steps": "30", "eval_samples": "400", "metrics": "prdc", "loss": "bce", "ratio": "1:5", "seed": "0"}
