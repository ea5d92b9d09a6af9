"""Every study's `--smoke` through real Ray (one local instance shared by the
module) and a real sqlite MLflow store, read back with `MlflowClient`: every
setting of its space once (`--seeds 1`; repeating seeds is the runner's job,
tested with dg_ratio's default smoke in tests/test_newcomer.py, which runs it
the way a user does, in its own process)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import ray
from mlflow.tracking import MlflowClient

from studies.report import build as report
from studies.__main__ import all_studies
from studies.declare.cli import main as cli_main, make_plan

pytestmark = pytest.mark.slow
STUDIES = all_studies()
ROOT = Path(__file__).resolve().parents[2]
# studies whose default scheduler is ASHA and whose smoke trials are settings a claim compares: FINDINGS
# refuses their runs (python -m studies.<name> --decide runs those settings under FIFO instead)
UNDER_ASHA_WITH_CLAIM_SIDES = {"label_smoothing", "mode_collapse", "normalization", "training_tips"}
EXTRA_METRICS = {  # what a study's question needs logged beside the common metrics
    "conditional": {"cond_acc", "aux_acc_real", "aux_acc_fake"},
    "architecture": {"loss_vae", "loss_recon", "loss_kl"},
    "training_tips": {"d_skip_rate"},
    "pbt": {"lr_d", "lr_g", "d_steps", "g_steps", "exploit_from"},  # its schedule and its exploits
}


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, num_gpus=0, include_dashboard=False)
    yield
    ray.shutdown()


@pytest.mark.parametrize("name", sorted(set(STUDIES) - {"dg_ratio"}))
def test_every_study_smoke_runs_through_ray_and_mlflow(name, tmp_path, monkeypatch, local_ray, capsys):
    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    argv = ["--smoke", "--seeds", "1", "--tracking-uri", uri, "--storage", str(tmp_path / "r")]
    assert cli_main(STUDIES[name], argv) == 0
    plan = make_plan(STUDIES[name], argv)
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name(name)
    runs = client.search_runs([exp.experiment_id])
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(runs) - len(children) == 1 and len(children) == plan.trials
    logged = set()
    for child in children:
        assert child.data.tags["gan.status"] in ("finished", "stopped_early", "collapsed"), child.data.tags
        steps = [m.step for m in client.get_metric_history(child.info.run_id, "score")]
        assert len(steps) >= 2 and steps == sorted(set(steps))
        assert client.list_artifacts(child.info.run_id, "samples")
        logged |= set(child.data.metrics)
    assert {"score", "diversity", "collapsed", "score_smooth"} <= logged
    assert EXTRA_METRICS.get(name, set()) <= logged, EXTRA_METRICS[name] - logged
    parent = next(r for r in runs if "mlflow.parentRunId" not in r.data.tags)
    header = open(client.download_artifacts(parent.info.run_id, "trials.csv")).readline().strip().split(",")
    assert header[:4] == ["trial", "setting", "rounds", "updates"] and header[-1] == "outcome"
    assert set(STUDIES[name].columns) <= set(header)  # the study's own metrics are in its table
    assert parent.data.tags["gan.command"] == f"python -m studies.{name} " + " ".join(argv)
    out = tmp_path / "FINDINGS.md"  # claims read only runs whose every trial reached its budget
    capsys.readouterr()
    code = report.main(["--findings", parent.info.run_name, "--tracking-uri", uri, "--out", str(out)])
    assert out.exists() == (code == 0)
    if plan.scheduler != "fifo" and name in UNDER_ASHA_WITH_CLAIM_SIDES:  # a rung may censor a claim's side
        assert code == 2 and f"ran under {plan.scheduler}: claims read runs where every trial reached its " \
            "budget" in capsys.readouterr().err
    else:
        assert code == (2 if name == "loss_family" else 0)  # its R1/R5/R15 sides ran but never took off


def test_a_decide_run_adds_seeds_by_looks_and_a_second_run_trains_nothing(tmp_path, monkeypatch, local_ray, capsys):
    """`--decide` through real Ray and MLflow, tiny: R7's two settings (label_smoothing), looks of 2 and 3 seeds.
    First as a user stops it: Ctrl-C during look 1 exits 130 with the parent run KILLED, no verdict drawn from the
    partial look, no look 2, and FINDINGS refuses the run. The same command again finishes it, reusing what the
    first run finished; smoke nets never take off, so each comparison is 'not testable' at the first look and no
    second look runs. Run once more, every trial is copied (trial reuse), and FINDINGS.md reads both the same."""
    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    argv = ["--decide", "--smoke", "--looks", "2,3", "--tracking-uri", uri, "--storage", str(tmp_path / "r")]
    stopped = interrupted_at_its_first_evaluation(["label_smoothing", *argv], tmp_path, uri)
    assert stopped.returncode == 130, stopped.stdout[-3000:] + stopped.stderr[-3000:]
    assert "Look 1 of 2: seeds 0-1" in stopped.stdout and "Look 2" not in stopped.stdout
    assert "not testable" not in stopped.stdout and "Verdicts" not in stopped.stdout
    assert "Interrupted in look 1 with" in stopped.stderr and "Run the same command again" in stopped.stderr
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name("label_smoothing")
    (killed,) = client.search_runs([exp.experiment_id], "tags.role = 'study'")
    assert killed.info.status == "KILLED"
    assert not any(a.path == "looks" for a in client.list_artifacts(killed.info.run_id))
    assert report.main(["--findings", killed.info.run_name, "--tracking-uri", uri,
                        "--out", str(tmp_path / "F0.md")]) == 2
    assert "did not finish (its status is KILLED)" in capsys.readouterr().err

    assert cli_main(STUDIES["label_smoothing"], argv) == 0
    first = capsys.readouterr().out
    assert "Look 1 of 2: seeds 0-1 of 2 undecided comparison(s), 4 trials" in first and "Look 2" not in first
    assert first.count("not testable at this budget") >= 2
    assert cli_main(STUDIES["label_smoothing"], argv) == 0
    parents = client.search_runs([exp.experiment_id], "tags.role = 'study' and attributes.status = 'FINISHED'",
                                 order_by=["attributes.start_time ASC"])
    children = [client.search_runs([exp.experiment_id], f"tags.`mlflow.parentRunId` = '{p.info.run_id}'")
                for p in parents]
    assert [len(c) for c in children] == [4, 4]
    done_before = {r.data.tags["gan.setting"] for r in client.search_runs(
        [exp.experiment_id], f"tags.`mlflow.parentRunId` = '{killed.info.run_id}'") if r.info.status == "FINISHED"}
    for run in children[0]:  # what the stopped run finished is copied, the rest trained
        assert run.data.tags.get("gan.reused_from_run") == (
            killed.info.run_name if run.data.tags["gan.setting"] in done_before else None)
    assert len(done_before) < 4
    assert all("gan.reused_from_run" in r.data.tags for r in children[1])
    assert client.list_artifacts(children[1][0].info.run_id, "images")  # the sample grids came along
    looks = client.download_artifacts(parents[0].info.run_id, "looks/look-1.json")
    assert '"verdict": "not testable at this budget"' in open(looks).read()
    out = tmp_path / "FINDINGS.md"
    assert report.main(["--findings", *(p.info.run_name for p in parents), "--tracking-uri", uri,
                        "--out", str(out)]) == 0
    assert "| [R7](#r7) | not testable at this budget |" in out.read_text()


def interrupted_at_its_first_evaluation(args: list[str], folder, uri: str) -> subprocess.CompletedProcess:
    """`python -m studies.<args>` in its own process group, sent Ctrl-C (SIGINT to the group, as a terminal does)
    once a trial of it has logged an evaluation."""
    log = folder / "interrupted.out"
    err = folder / "interrupted.err"
    with open(log, "w") as out, open(err, "w") as errors:
        proc = subprocess.Popen([sys.executable, "-m", f"studies.{args[0]}", *args[1:]], cwd=folder,
                                stdout=out, stderr=errors, start_new_session=True,
                                env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"})
    client = MlflowClient(uri)
    deadline = time.time() + 300
    try:
        while time.time() < deadline and proc.poll() is None:
            # the store is made and migrated by the study: opened here only once the study says it is there
            exp = client.get_experiment_by_name(args[0]) if "MLflow: experiment" in log.read_text() else None
            children = client.search_runs([exp.experiment_id], "tags.`mlflow.parentRunId` != ''") if exp else []
            if any(client.get_metric_history(c.info.run_id, "score") for c in children):
                break
            time.sleep(0.5)
        assert proc.poll() is None, "the study ended before a trial evaluated"
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=180)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return subprocess.CompletedProcess(proc.args, proc.returncode, log.read_text(), err.read_text())
