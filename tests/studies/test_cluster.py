"""Studies on a real multi-node Ray cluster, all on 127.0.0.1.

A real `mlflow server` (sqlite store, `--artifacts-destination`) and a Ray
head node are shared by the tests of this module; each test adds its own
worker node. Ray runs with token auth on, as cluster.yaml sets it. Every
process is started and stopped by the test (by PID, see local_cluster.py).
Each node has one fake GPU and every trial asks for 0.6 of one, so two trials
run at once, one per node. The tests check what a user would look at
afterwards: the parent and child runs in MLflow, every evaluation step
exactly once, and images that came in through the server.
"""

import itertools
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

import local_cluster as lc
from studies.run import tracking
from test_execute import runs_of, trial_table

pytestmark = pytest.mark.slow

# one trial per node (each node has 2 CPUs and 1 GPU); FIFO runs every trial to its last step
RESOURCES = ["--gpus-per-trial", "0.6", "--scheduler", "fifo"]

EVERY = 100  # rounds between evaluations of the two-trial studies: few images, time to act mid-trial
TWO_TRIALS = """
import sys
from ray import tune
from studies.declare.study import Study

STUDY = Study(
    name="{name}",
    summary="two MLP trials on ring8, about a second per evaluation on one CPU thread",
    base=dict(dataset="ring8", arch="mlp", nz=4, ngf=128, ndf=128, batch_size=1024, norm_g="none", norm_d="none",
              max_steps={steps}, eval_every={every}, eval_samples=500),
    space=lambda: {{"loss": tune.grid_search(["bce", "hinge"])}},
    seeds=1,
)
from studies.declare.cli import main
sys.exit(main(STUDY))
"""


@pytest.fixture(scope="module")
def cluster_env():
    """Token auth on, with a token of this module's own (never ~/.ray/auth_token)."""
    return {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(16), "RAY_DEDUP_LOGS": "0"}


@pytest.fixture(scope="module")
def server(tmp_path_factory, cluster_env):
    service = lc.TrackingServer(tmp_path_factory.mktemp("mlflow"), cluster_env)
    yield service
    service.kill()


@pytest.fixture(scope="module")
def head(cluster_env):
    # Ray's socket paths must stay under 107 bytes: a short folder, not pytest's tmp_path
    folder = Path(tempfile.mkdtemp(prefix="gan-ray-"))
    service, address = lc.ray_head(folder, cluster_env, cpus=2, gpus=1)
    yield address, folder
    service.kill()
    shutil.rmtree(folder, ignore_errors=True)


WORKERS = itertools.count(1)


@pytest.fixture
def worker(head, cluster_env):
    address, folder = head
    service = lc.ray_worker(folder, f"w{next(WORKERS)}", cluster_env, address, cpus=2, gpus=1)
    yield service
    service.kill()


def start_study(args, cwd, env) -> lc.Service:
    return lc.Service("study", [sys.executable, *args], env, cwd / f"study-{time.time_ns()}.log")


def finish(study: lc.Service, timeout: float) -> str:
    try:
        rc = study.proc.wait(timeout=timeout)
    finally:
        study.kill()
    out = study.log.read_text(errors="replace")
    assert rc == 0, study.tail(6000)
    return out


def two_trial_study(tmp_path, name: str, steps: int):
    script = tmp_path / f"{name}.py"
    script.write_text(textwrap.dedent(TWO_TRIALS.format(name=name, steps=steps, every=EVERY)))
    return script


def image_steps(client, run_id) -> list[int]:
    found = [tracking.IMAGE_STEP.match(a.path) for a in client.list_artifacts(run_id, "images")]
    return sorted(int(m.group(1)) for m in found if m)


def assert_whole(client, experiment: str, eval_every: int, unit: str = "rounds") -> tuple:
    """One finished parent; per trial one finished child whose metrics and images
    hold every evaluation step up to the trial's last, each exactly once. Steps count
    the study's work budget: `unit` is the table column that holds it."""
    _, parents, children = runs_of(client, experiment)
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    table = {row["trial"]: row for row in trial_table(client, parents[0].info.run_id)}
    assert len(children) == len(table) and len({c.data.tags["trial_id"] for c in children}) == len(children)
    for child in children:
        run_id, row = child.info.run_id, table[child.data.tags["trial_id"]]
        assert row["outcome"] == "finished" and child.info.status == "FINISHED", (row, child.info.status)
        steps = [m.step for m in client.get_metric_history(run_id, "score")]
        work = int(row[unit])
        # evaluation k falls on the first round whose work reaches k * eval_every; the last on the budget's end
        assert len(steps) == -(-work // eval_every) and steps[-1] == work, (steps, row)
        assert all(k * eval_every <= s < (k + 1) * eval_every for k, s in enumerate(steps[:-1], 1)), (steps, row)
        for key in ("loss_d", "step"):
            assert [m.step for m in client.get_metric_history(run_id, key)] == steps, (key, row["setting"])
        assert image_steps(client, run_id) == [0, *steps], row["setting"]  # step 0: the untrained G
        assert [a.path for a in client.list_artifacts(run_id, "samples")] == ["samples/final.png"]
    return parents[0], children


def logged(client, experiment: str) -> dict:
    """Trial id -> (node id, last logged step) of the child runs that have logged a step."""
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        return {}
    state = {}
    for run in client.search_runs([exp.experiment_id], "tags.`mlflow.parentRunId` != ''"):
        steps = [m.step for m in client.get_metric_history(run.info.run_id, "step")]
        if "gan.node" in run.data.tags and steps:
            state[run.data.tags["trial_id"]] = (run.data.tags["gan.node"], max(steps))
    return state


def at_least(client, experiment: str, step: int):
    """The running trials once both have logged `step`, else None."""
    state = logged(client, experiment)
    return state if len(state) == 2 and min(s for _, s in state.values()) >= step else None


def on_two_nodes(client, experiment: str):
    """The trials once they have logged steps on two different nodes, else None."""
    state = logged(client, experiment)
    return state if len({node for node, _ in state.values()}) == 2 else None


def test_a_smoke_study_spreads_over_two_nodes_and_logs_through_the_server(tmp_path, server, head, worker, cluster_env):
    uri, artifacts = server.uri, server.artifacts
    out = finish(start_study(["-m", "studies.dg_ratio", "--smoke", "--dataset", "ring8", "--max-seconds", "0",
                              "--max-steps", "40", *RESOURCES, "--cpus-per-trial", "2", "--address", head[0],
                              "--tracking-uri", uri, "--storage", str(tmp_path / "r")], tmp_path, cluster_env), 400)
    assert "runs?workflowType=machine_learning" in out
    client = MlflowClient(uri)
    _, children = assert_whole(client, "dg_ratio", eval_every=12, unit="updates")  # --smoke evaluates every 12
    assert len(children) == 4
    # both nodes ran trials (every node a trial ran on: one paused at a rung may resume on the other)
    assert len({n for c in children for n in c.data.tags["gan.nodes"].split(",")}) == 2
    for child in children:
        tags = child.data.tags
        # a fake GPU: Ray assigns it to the trial, torch finds no CUDA and trains on the CPU
        assert tags["gan.gpu_ids"] == "0" and tags["gan.device"] == "cpu"
        assert tags["gan.torch_threads"] == "2"  # as many threads as --cpus-per-trial
        assert child.info.artifact_uri.startswith("mlflow-artifacts:")  # uploaded over HTTP, stored by the server
        run_folder = artifacts / child.info.experiment_id / child.info.run_id / "artifacts"
        assert len(list((run_folder / "images").glob("samples+step+*.png"))) == 5  # the untrained grid at step 0, then every evaluation
        assert (run_folder / "samples" / "final.png").is_file()
    assert not (tmp_path / "mlruns").exists() and not (tmp_path / "mlartifacts").exists()


def test_a_trial_whose_node_dies_resumes_on_the_other_node_into_the_same_run(tmp_path, server, head, worker,
                                                                             cluster_env):
    uri = server.uri
    script = two_trial_study(tmp_path, "node_loss", steps=15 * EVERY)
    study = start_study([str(script), *RESOURCES, "--address", head[0], "--tracking-uri", uri,
                         "--storage", str(tmp_path / "r")], tmp_path, cluster_env)
    client = MlflowClient(uri)
    try:
        running = lc.wait_until(lambda: on_two_nodes(client, "node_loss"), 180, "a trial on each node", study, 0.5)
    except BaseException:
        study.kill()
        raise
    worker.kill()  # the worker machine dies mid-trial
    assert max(step for _, step in running.values()) < 15 * EVERY, "trials finished before the kill: make them longer"
    finish(study, 400)
    _, children = assert_whole(client, "node_loss", eval_every=EVERY)
    moved = [c for c in children if len(c.data.tags["gan.nodes"].split(",")) == 2]
    assert len(moved) == 1, [c.data.tags["gan.nodes"] for c in children]
    first, second = moved[0].data.tags["gan.nodes"].split(",")
    assert first != second and moved[0].data.tags["gan.node"].startswith(second)
    assert int(client.get_run(moved[0].info.run_id).data.metrics["step"]) == 15 * EVERY


def test_resume_after_the_driver_dies_or_is_interrupted_finishes_the_same_runs(tmp_path, server, head, worker,
                                                                              cluster_env):
    script = two_trial_study(tmp_path, "driver_loss", steps=24 * EVERY)
    args = [str(script), "--address", head[0], "--storage", str(tmp_path / "r")]
    study = start_study([*args, *RESOURCES, "--tracking-uri", server.uri], tmp_path, cluster_env)
    client = MlflowClient(server.uri)
    try:
        before = lc.wait_until(lambda: at_least(client, "driver_loss", 2 * EVERY), 180, "two evaluations", study, 0.5)
    finally:
        study.kill()  # the driver dies (SIGKILL); Ray ends the trials it owned
    assert max(step for _, step in before.values()) < 24 * EVERY, "trials finished before the kill: make them longer"

    resumed = start_study([*args, "--resume"], tmp_path, cluster_env)
    try:
        lc.wait_until(lambda: at_least(client, "driver_loss", 5 * EVERY), 180, "five evaluations", resumed, 0.5)
        resumed.proc.send_signal(signal.SIGINT)  # Ctrl-C: Tune saves its state and stops
        assert resumed.proc.wait(timeout=120) == 130, resumed.tail()
    finally:
        resumed.kill()
    assert re.search(r"Resuming driver_loss-\d{8}-\d{6}", resumed.log.read_text())
    assert "unfinished trials; continue with: python -m studies.driver_loss --resume driver_loss-" in resumed.tail()
    assert runs_of(client, "driver_loss")[1][0].info.status == "KILLED"

    finish(start_study([*args, "--resume"], tmp_path, cluster_env), 400)
    parent, children = assert_whole(client, "driver_loss", eval_every=EVERY)
    assert {c.data.tags["trial_id"] for c in children} == set(before)  # the same child runs, no new ones
    assert all(int(c.data.metrics["step"]) == 24 * EVERY for c in children)
    again = subprocess.run([sys.executable, *args, "--resume"], cwd=tmp_path, env=cluster_env,
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 2 and "no unfinished driver_loss study" in again.stderr


def test_a_tracking_server_outage_mid_study_kills_no_trial(tmp_path, server, head, worker, cluster_env):
    script = two_trial_study(tmp_path, "server_outage", steps=12 * EVERY)
    study = start_study([str(script), *RESOURCES, "--address", head[0], "--tracking-uri", server.uri,
                         "--storage", str(tmp_path / "r")], tmp_path, cluster_env)
    client = MlflowClient(server.uri)
    try:
        running = lc.wait_until(lambda: at_least(client, "server_outage", 2 * EVERY), 180, "two evaluations",
                                study, 0.5)
        server.restart(pause=3)  # away for the pause plus a restart, about 10 s
    except BaseException:
        study.kill()
        raise
    assert max(step for _, step in running.values()) < 12 * EVERY, "trials finished before the outage: make them longer"
    finish(study, 400)
    _, children = assert_whole(client, "server_outage", eval_every=EVERY)
    assert all("," not in c.data.tags["gan.nodes"] for c in children)  # no trial failed and restarted
