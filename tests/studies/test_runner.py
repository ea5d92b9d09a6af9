"""Study command lines: every study's plan resolves; bad input is one line, exit 2, before Ray."""

import dataclasses
import itertools
import os
import subprocess
import sys

import pytest
from mlflow.tracking import MlflowClient
from ray import tune

from local_cluster import free_port
from studies.run import resume, tracking
from studies.__main__ import all_studies
from studies.run.execute import as_started
from studies.plan.plan import plan_dict
from studies.declare.study import Study
from studies.declare.cli import main as cli_main, make_plan
from studies.declare.spaces import expand, label, label_columns, options

STUDIES = all_studies()


def test_the_study_list_names_every_study():
    out = subprocess.run([sys.executable, "-m", "studies"], capture_output=True, text=True, check=True).stdout
    assert {"dg_ratio", "loss_family", "label_smoothing", "normalization", "architecture", "mode_collapse",
            "training_tips", "conditional", "tune"} <= set(STUDIES)
    for name, study in STUDIES.items():
        assert f"{name}" in out and study.summary in out


@pytest.mark.parametrize("name", sorted(STUDIES))
@pytest.mark.parametrize("extra", [[], ["--smoke"], ["--dataset", "grid25", "--seeds", "3"]])
def test_every_study_dry_run_resolves(name, extra, capsys):
    study = STUDIES[name]
    if "grid25" in extra and "points" not in study.data_kinds:
        with pytest.raises(SystemExit) as stop:
            cli_main(study, ["--dry-run", *extra])
        assert stop.value.code == 2
        assert "--dataset: 'grid25' holds points; study" in capsys.readouterr().err
        return
    if "--seeds" in extra and study.search == "optuna":
        extra = extra[:2]
    assert cli_main(study, ["--dry-run", *extra]) == 0
    out = capsys.readouterr().out
    plan = make_plan(study, ["--dry-run", *extra])
    assert f"trials: {plan.trials}" in out and plan.trials >= (2 if "--smoke" in extra else 4)
    assert "scheduler:" in out and "search_space:" in out and "base_config:" in out
    assert len({repr(c) for c in plan.configs}) == len(plan.configs) or study.search == "optuna"  # no duplicate trials
    if "grid25" in extra:
        assert all(c.arch == "mlp" and c.dataset == "grid25" for c in plan.configs)
        if study.search == "grid":
            assert sorted({c.seed for c in plan.configs}) == [0, 1, 2]


@pytest.mark.parametrize("name", sorted(STUDIES))
def test_every_study_varies_what_it_declares(name):
    """The trial labels tell every grid point apart (a bundle that changed nothing would repeat one)."""
    plan = make_plan(STUDIES[name], ["--dry-run"])
    columns = label_columns(plan.space)
    assert columns
    if STUDIES[name].search == "grid":
        keys = list(plan.space)
        grid = itertools.product(*[options(plan.space[k]) for k in keys])
        labels = [label(columns, dict(zip(keys, combo))) for combo in grid]
        assert len(set(labels)) == len(labels) == len(expand(plan.base, plan.space))


def test_a_rung_keeps_trials_within_two_standard_errors_of_its_cut_unless_told_otherwise():
    study = STUDIES["dg_ratio"]
    assert plan_dict(make_plan(study, []))["scheduler"]["tolerance"] == 2.0
    assert plan_dict(make_plan(study, ["--rung-tolerance", "0"]))["scheduler"]["tolerance"] == 0.0
    assert plan_dict(make_plan(study, ["--scheduler", "fifo"]))["scheduler"] == {"name": "fifo"}
    timed = plan_dict(make_plan(study, ["--max-steps", "0", "--max-seconds", "60"]))["scheduler"]
    assert "tolerance" not in timed and "synchronous" not in timed  # Tune's asynchronous ASHA: no tolerance
    assert "tolerance" not in plan_dict(make_plan(STUDIES["tune"], []))["scheduler"]


def exit_code(study, args) -> int:
    """The exit status `python -m studies.<name> ARGS` would have: main's return value, or its SystemExit's."""
    try:
        return cli_main(study, args)
    except SystemExit as stop:
        return stop.code


@pytest.mark.parametrize("args, option, allowed", [
    (["--dataset", "nope"], "--dataset", "ring8, grid25, stacked-digits"),
    (["--max-steps", "-1"], "--max-steps", "an integer >= 0"),
    (["--max-steps", "ten"], "--max-steps", "an integer >= 0"),
    (["--max-steps", "0", "--max-seconds", "0"], "--max-steps", "0 (no limit) needs a wall-clock budget"),
    (["--scheduler", "hyperband"], "--scheduler", "'asha', 'fifo'"),
    (["--scheduler", "pbt"], "--scheduler", "study dg_ratio declares no population; use asha or fifo"),
    (["--seeds", "x"], "--seeds", "a count"),
    (["--grace", "50"], "--grace", "more than a trial's whole budget (28 evaluations)"),
    (["--max-steps", "0", "--max-seconds", "60", "--grace", "90"], "--grace", "budget (60 seconds)"),
    (["--set", "nzz=16"], "--set", "'nzz' is not a TrainConfig field; allowed: "),
    (["--set", "lr_d=1e-4"], "--set", "lr_d: the study's search space varies it"),
    (["--set", "nz=0"], "--set", "nz: 0 is not an integer >= 1"),
    (["--set", "hflip=maybe"], "--set", "hflip: 'maybe' is not one of true, false"),
    (["--tracking-uri", "sqlite://"], "--tracking-uri", "would not find experiment 'dg_ratio'"),
    (["--gpus-per-trial", "1.5"], "--gpus-per-trial", "a fraction in [0, 1] or a whole number"),
    (["--max-failures", "-1"], "--max-failures", "an integer >= 0"),
    (["--rung-tolerance", "-1"], "--rung-tolerance", "is not a number >= 0"),
    (["--resume", "--smoke"], "--resume", "only --address, --storage and --dry-run may be given with it, not --smoke"),
    (["--resume"], "--resume", "no unfinished dg_ratio study under"),
    (["--tracking-uri", f"http://127.0.0.1:{free_port()}"], "--tracking-uri", "no MLflow server answers at"),
])
def test_bad_options_exit_2_with_one_line_before_any_work(tmp_path, monkeypatch, capsys, args, option, allowed):
    """In this process (the command line's own code, without a fresh interpreter's imports per case);
    the test below runs one case as the command it is."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert exit_code(STUDIES["dg_ratio"], args) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and option in lines[0] and allowed in lines[0], captured.err
    assert list(tmp_path.iterdir()) == []  # no mlflow.db, no ray_results: nothing started


def test_a_bad_option_as_typed_exits_2_with_one_line_before_any_work(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "studies.dg_ratio", "--set", "nz=0"], cwd=tmp_path,
                          capture_output=True, text=True, env={**os.environ, "MLFLOW_TRACKING_URI": ""})
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == "python -m studies.dg_ratio: error: --set: nz: 0 is not an integer >= 1\n", proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_an_unknown_loss_in_a_space_is_named(capsys):
    study = Study(name="bad", summary="a space with a typo", base={},
                  space=lambda: {"loss": tune.grid_search(["bce", "wgan-pg"])})
    with pytest.raises(SystemExit) as stop:
        make_plan(study, [])
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "search space: loss: 'wgan-pg' is not one of bce, minimax, wgan, wgan-gp, lsgan, hinge" in err


def test_cluster_settings_come_from_the_environment_and_storage_uris_stay_uris(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://10.0.0.10:5000")
    monkeypatch.setenv("GAN_STUDIES_STORAGE", "s3://bucket/gan-studies/ray_results")
    plan = make_plan(STUDIES["dg_ratio"], ["--smoke", "--gpus-per-trial", "0.25", "--address", "auto"])
    assert plan.tracking_uri == "http://10.0.0.10:5000" and plan.storage == "s3://bucket/gan-studies/ray_results"
    assert (plan.gpus_per_trial, plan.address) == (0.25, "auto")
    assert make_plan(STUDIES["dg_ratio"], ["--storage", "results"]).storage == os.path.abspath("results")


def test_a_resumed_study_keeps_the_rung_tolerance_its_parent_run_records(tmp_path):
    """Resumed, a run decides its rungs as it started: with the tolerance its parent records, or with
    the quota alone (0) where it records none (a run made before the rungs had a tolerance)."""
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    exp = client.create_experiment("dg_ratio")
    plan = make_plan(STUDIES["dg_ratio"], ["--rung-tolerance", "3"])
    new = tracking.start_parent(client, exp, "dg_ratio", "new", plan_dict(plan))
    old_scheduler = {k: v for k, v in plan_dict(plan)["scheduler"].items() if k not in ("synchronous", "tolerance")}
    old = tracking.start_parent(client, exp, "dg_ratio", "old", {**plan_dict(plan), "scheduler": old_scheduler})
    resumed = dataclasses.replace(make_plan(STUDIES["dg_ratio"], []), resume={"folder": str(tmp_path)})
    assert resumed.rung_tolerance == 2.0  # the saved command line alone gives today's default
    assert as_started(resumed, client, new).rung_tolerance == 3.0
    assert as_started(resumed, client, old).rung_tolerance == 0.0
    assert as_started(make_plan(STUDIES["dg_ratio"], []), client, old).rung_tolerance == 2.0  # a new run: its own


def test_resume_plans_the_saved_command_line_with_the_new_address(tmp_path):
    study = STUDIES["dg_ratio"]
    storage = str(tmp_path)
    saved = ["--smoke", "--dataset", "grid25", "--seeds", "0,3", "--storage", storage]
    state = {"study": "dg_ratio", "experiment": "dg_ratio-20250101-000000", "argv": saved,
             "tracking_uri": "http://10.0.0.10:5000", "experiment_id": "1", "parent_run_id": "p", "finished": False}
    folder = resume.experiment_folder(storage, state["experiment"])
    resume.write_state(folder, state)
    (tmp_path / state["experiment"] / "tuner.pkl").write_bytes(b"")  # what Tune leaves once it has saved state
    plan = make_plan(study, ["--resume", "--storage", storage, "--address", "auto"])
    original = make_plan(study, saved)
    assert plan.configs == original.configs and plan.space == original.space and plan.base == original.base
    assert (plan.address, plan.tracking_uri, plan.resume["folder"]) == ("auto", state["tracking_uri"], folder)
    assert make_plan(study, ["--resume", state["experiment"], "--storage", storage]).resume["parent_run_id"] == "p"
    resume.write_state(folder, {**state, "finished": True})
    with pytest.raises(SystemExit):
        make_plan(study, ["--resume", "--storage", storage])


# --- --only: a subset of a study's grid -----------------------------------------------------

def test_only_plans_the_settings_whose_labels_match():
    plan = make_plan(STUDIES["dg_ratio"], ["--only", "ratio=1:1,1:5", "--seeds", "3", "--dry-run"])
    labels = sorted(label(plan.columns, config) for config in tune_configs(plan))
    assert plan.trials == len(plan.configs) == 12
    assert {lab.rsplit(" seed=", 1)[0] for lab in labels} == {
        "loss=bce ratio=1:1", "loss=bce ratio=1:5", "loss=wgan-gp ratio=1:1", "loss=wgan-gp ratio=1:5"}
    assert {(c.d_steps, c.g_steps) for c in plan.configs} == {(1, 1), (1, 5)}
    narrower = make_plan(STUDIES["dg_ratio"], ["--only", "ratio=1:1,1:5", "--only", "loss=bce", "--dry-run"])
    assert {c.loss for c in narrower.configs} == {"bce"} and narrower.trials == 4


def test_only_keeps_the_full_grids_labels():
    """A narrowed conditional study still names its matching-aware trials as the full grid does."""
    full = make_plan(STUDIES["conditional"], ["--dry-run"])
    plan = make_plan(STUDIES["conditional"], ["--only", "matching_aware=True", "--dry-run"])
    narrowed = {label(plan.columns, c) for c in tune_configs(plan)}
    assert narrowed and narrowed <= {label(full.columns, c) for c in tune_configs(full)}
    assert all("matching_aware=True" in lab for lab in narrowed)


@pytest.mark.parametrize("only, message", [
    (["ratio=3:2"], "--only: ratio=3:2 is not a setting of study dg_ratio; ratio takes 1:5, 1:2, 1:1"),
    (["foo=1"], "--only: 'foo' is not a label of study dg_ratio; its labels: loss, ratio"),
    (["seed=1"], "--only: seed is not a setting; --seeds picks the seeds"),
    (["ratio"], "--only: 'ratio' is not KEY=VALUE[,VALUE...]"),
])
def test_a_bad_only_is_one_line_and_exit_2(capsys, only, message):
    code = exit_code(STUDIES["dg_ratio"], ["--only", *only, "--dry-run"])
    run = capsys.readouterr()
    assert code == 2 and run.out == ""
    assert run.err.startswith(f"python -m studies.dg_ratio: error: {message}") and run.err.count("\n") == 1


def test_only_is_refused_where_there_is_no_grid_to_narrow(capsys):
    for name in ("tune", "pbt"):
        with pytest.raises(SystemExit) as stop:
            cli_main(STUDIES[name], ["--only", "loss=bce", "--dry-run"])
        assert stop.value.code == 2
        assert f"--only: study {name} " in capsys.readouterr().err


def tune_configs(plan) -> list[dict]:
    """The trial configs Tune would make of the plan's grid (one per point)."""
    keys = list(plan.space)
    return [dict(zip(keys, combo)) for combo in itertools.product(*[options(plan.space[k]) for k in keys])]
