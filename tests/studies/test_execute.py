"""Studies end to end through real Ray (local) and a real sqlite MLflow store.

Each test runs a study as a user would, in a subprocess, then reads back what
it left in MLflow with `MlflowClient`. (The default `dg_ratio --smoke` run, as
the README gives it, is tests/test_newcomer.py.)
"""

import csv
import json
import os
import subprocess
import sys
import textwrap

import pytest
from mlflow.tracking import MlflowClient

pytestmark = pytest.mark.slow

ENV = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_DEDUP_LOGS": "0"}
PER_TRIAL = ("loss_d", "loss_g", "diversity", "score", "modes_covered")


def run_study(args, cwd, timeout=300):
    proc = subprocess.run([sys.executable, *args], cwd=cwd, env=ENV, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def runs_of(client, experiment):
    exp = client.get_experiment_by_name(experiment)
    assert exp is not None, f"no experiment {experiment!r}"
    runs = client.search_runs([exp.experiment_id], max_results=500)
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    return exp, parents, children


def trial_table(client, parent_id):
    folder = client.download_artifacts(parent_id, "trials.csv")
    with open(folder) as f:
        return list(csv.DictReader(f))


STUDY_WITH_A_DIVERGING_TRIAL = """
import sys
from ray import tune
from studies.declare.study import Study

STUDY = Study(
    name="divergence_check",
    summary="one sane trial and one that blows up",
    base=dict(dataset="ring8", arch="mlp", nz=4, ngf=32, ndf=32, batch_size=64, norm_g="none", norm_d="none",
              max_steps=40, eval_every=5, eval_samples=500),
    space=lambda: {"setup": tune.grid_search([
        {"_case": "sane", "loss": "bce", "collapse_threshold": 0.0},
        {"_case": "blows-up", "loss": "wgan", "opt_d": "sgd", "opt_g": "sgd", "lr_d": 1.0, "lr_g": 1.0,
         "clip_value": 100.0},
        {"_case": "collapses", "loss": "bce", "collapse_threshold": 1.0, "collapse_quality": 0.0,
         "lr_d": 1e-9, "lr_g": 1e-9},  # G stands still: every evaluation looks collapsed
    ])},
    seeds=1,
)
from studies.declare.cli import main
sys.exit(main(STUDY))
"""


def test_diverged_and_collapsed_trials_are_recorded_and_the_study_goes_on(tmp_path):
    script = tmp_path / "study.py"
    script.write_text(textwrap.dedent(STUDY_WITH_A_DIVERGING_TRIAL))
    db = tmp_path / "m.db"
    # ASHA's only rung is the end (grace = all 8 evaluations); the collapse stopper may act from evaluation 2,
    # without waiting for diversity to stall (its rule is tests/studies/test_stoppers.py's)
    proc = run_study([str(script), "--grace", "8", "--collapse-grace", "2", "--collapse-stall", "0",
                      "--tracking-uri", f"sqlite:///{db}", "--storage", str(tmp_path / "r")], cwd=tmp_path)
    client = MlflowClient(f"sqlite:///{db}")
    _, parents, children = runs_of(client, "divergence_check")
    configs = {c.info.run_id: json.loads(c.data.tags["gan.config"]) for c in children}
    by_case = {f"{configs[c.info.run_id]['collapse_threshold']}{configs[c.info.run_id]['loss']}": c for c in children}
    bad, good, collapsed = by_case["0.25wgan"], by_case["0.0bce"], by_case["1.0bce"]
    assert bad.data.tags["gan.status"] == "diverged" and bad.info.status == "FAILED"
    assert bad.data.metrics["diverged"] == 1.0
    assert good.data.tags["gan.status"] == "finished" and good.info.status == "FINISHED"
    assert [m.step for m in client.get_metric_history(good.info.run_id, "score")] == list(range(5, 45, 5))
    # collapsed is reported from the 2nd evaluation; two such reports in a row stop the trial at the 3rd
    assert collapsed.data.tags["gan.status"] == "collapsed" and collapsed.info.status == "FINISHED"
    assert [m.step for m in client.get_metric_history(collapsed.info.run_id, "score")] == [5, 10, 15]
    outcomes = {row["setting"]: row["outcome"] for row in trial_table(client, parents[0].info.run_id)}
    assert outcomes == {"case=sane seed=0": "finished", "case=blows-up seed=0": "diverged",
                        "case=collapses seed=0": "collapsed"}
    summary = parents[0].data.metrics
    assert (summary["diverged"], summary["finished"], summary["stopped_collapsed"]) == (1, 1, 1)
    assert summary["budget_saved"] == 8 - 3  # evaluations the stopper spared the collapsed trial
    assert "diverged" in proc.stdout


STUDY_OF_THREE_COPIES = """
import sys
from ray import tune
from studies.declare.study import Study

STUDY = Study(
    name="reuse_check",
    summary="three trials of one config, one after another",
    base=dict(dataset="ring8", arch="mlp", nz=4, ngf=32, ndf=32, batch_size=64, norm_g="none", norm_d="none",
              max_steps=30, eval_every=10, eval_samples=500),
    space=lambda: {"setup": tune.grid_search([{"_copy": "first"}, {"_copy": "second"}, {"_copy": "third"}])},
    seeds=1,
)
from studies.declare.cli import main
sys.exit(main(STUDY))
"""


def test_a_reused_worker_process_trains_a_trial_exactly_as_a_fresh_one(tmp_path):
    """Trials take over the worker process of the trial before them (no process start, no imports): the
    second and third copies of one config, run there, log the same losses and scores as the first."""
    script = tmp_path / "study.py"
    script.write_text(textwrap.dedent(STUDY_OF_THREE_COPIES))
    db = tmp_path / "m.db"
    cpus = str(os.cpu_count())  # each trial takes the whole machine: one at a time
    run_study([str(script), "--scheduler", "fifo", "--cpus-per-trial", cpus, "--tracking-uri", f"sqlite:///{db}",
               "--storage", str(tmp_path / "r")], cwd=tmp_path)
    client = MlflowClient(f"sqlite:///{db}")
    _, _, children = runs_of(client, "reuse_check")
    assert len(children) == 3 and {c.data.tags["gan.status"] for c in children} == {"finished"}
    assert len({c.data.tags["gan.pid"] for c in children}) == 1  # one worker process ran all three
    histories = [{key: [(m.step, m.value) for m in client.get_metric_history(c.info.run_id, key)]
                  for key in PER_TRIAL} for c in children]
    assert histories[0]["score"] and [m[0] for m in histories[0]["score"]] == [10, 20, 30]
    assert histories[1] == histories[0] and histories[2] == histories[0]


def test_a_fifo_study_run_again_on_its_store_copies_its_trials_instead_of_training_them(tmp_path):
    """The second run of a FIFO study finds its trial among the reusable keys of the store and copies the
    first run's histories (the table names where they came from); with --no-reuse it trains it again."""
    script = tmp_path / "study.py"
    script.write_text(textwrap.dedent(STUDY_OF_THREE_COPIES))
    db = tmp_path / "m.db"
    args = [str(script), "--scheduler", "fifo", "--only", "copy=first", "--tracking-uri", f"sqlite:///{db}",
            "--storage", str(tmp_path / "r")]
    for extra in ([], [], ["--no-reuse"]):
        run_study(args + extra, cwd=tmp_path)
    client = MlflowClient(f"sqlite:///{db}")
    _, parents, children = runs_of(client, "reuse_check")
    first, second, third = sorted(parents, key=lambda r: r.info.start_time)
    run_of = {c.data.tags["mlflow.parentRunId"]: c for c in children}
    assert len(children) == 3 and {c.data.tags["gan.status"] for c in children} == {"finished"}
    assert run_of[second.info.run_id].data.tags["gan.reused_from"] == run_of[first.info.run_id].info.run_id
    assert "gan.reused_from" not in run_of[first.info.run_id].data.tags
    assert "gan.reused_from" not in run_of[third.info.run_id].data.tags  # --no-reuse: trained
    histories = [{key: [(m.step, m.value) for m in client.get_metric_history(run_of[p.info.run_id].info.run_id, key)]
                  for key in PER_TRIAL} for p in (first, second, third)]
    assert histories[0]["score"] and histories[1] == histories[0] and histories[2] == histories[0]
    assert [row["from"] for row in trial_table(client, second.info.run_id)] == [first.info.run_name]
