"""The cluster's MLflow server with MLflow's login (its basic-auth app).

The quick tests check what `python -m studies.run.cluster_tracking init` makes
(secrets only their owner reads, made once, never printed) and what the
cluster files promise about them. The slow ones start the server with the
commands cluster-local.yaml gives the head, on 127.0.0.1 (local_cluster.
LoginServer), and check: a write without a login is refused (401), the
read-only user cannot change a study's runs, the smoke study logs in with
the study user's login and logs every child run, without a login it stops
with one line naming what to set before Ray starts, no secret reaches a log,
a param or a tag, and the server ends when Ray stops answering.
"""

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from base64 import b64encode
from pathlib import Path

import pytest
import yaml
from mlflow.tracking import MlflowClient

import local_cluster as lc
from studies.run import cluster_tracking
from test_execute import runs_of

ROOT = Path(__file__).resolve().parents[2]
LOCAL = yaml.safe_load((ROOT / "cluster-local.yaml").read_text())
LOGIN = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")


def test_init_makes_each_secret_once_in_files_only_their_owner_reads(tmp_path):
    folder, node = tmp_path / "mlflow" / "login", tmp_path / ".gan-studies-login.env"
    env = {**os.environ, "HOME": str(tmp_path)}
    first = subprocess.run([sys.executable, "-m", "studies.run.cluster_tracking", "init"], env=env,
                           capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    files = [folder / name for name in ("admin.env", "auth.ini", "server.env", "reader.env")] + [node]
    assert sorted(first.stdout.splitlines()) == sorted(f"python -m studies.run.cluster_tracking: wrote {f}" for f in files)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)
    made = {f: f.read_text() for f in files}
    study, reader = cluster_tracking.read_env(node), cluster_tracking.read_env(folder / "reader.env")
    server = cluster_tracking.read_env(folder / "server.env")
    secrets = [study["MLFLOW_TRACKING_PASSWORD"], reader["MLFLOW_TRACKING_PASSWORD"],
               server["MLFLOW_FLASK_SERVER_SECRET_KEY"], server["MLFLOW_AUTH_ADMIN_PASSWORD"]]
    assert study["MLFLOW_TRACKING_USERNAME"] == "study" and reader["MLFLOW_TRACKING_USERNAME"] == "reader"
    assert len(set(secrets)) == 4 and min(map(len, secrets)) >= 32
    assert server["MLFLOW_AUTH_ADMIN_PASSWORD"] == cluster_tracking.read_env(folder / "admin.env")[LOGIN[1]]
    assert server["MLFLOW_AUTH_CONFIG_PATH"] == str(folder / "auth.ini")
    assert "default_permission = READ" in made[folder / "auth.ini"]
    assert not any(s in first.stdout + first.stderr for s in secrets)

    again = subprocess.run([sys.executable, "-m", "studies.run.cluster_tracking", "init"], env=env,
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and again.stdout == ""  # a second `ray up` keeps the logins it made
    assert {f: f.read_text() for f in files} == made


def commands(config: dict, *keys: str) -> list[str]:
    return [cmd for key in keys for cmd in config.get(key, [])]


@pytest.mark.parametrize("name", ["cluster.yaml", "cluster-local.yaml"])
def test_the_cluster_starts_mlflow_with_its_login_and_hands_the_study_login_to_every_node(name):
    config = yaml.safe_load((ROOT / name).read_text())
    text = (ROOT / name).read_text()
    head = commands(config, "head_setup_commands", "head_start_ray_commands")
    start = [c for c in head if "mlflow server" in c]
    assert len(start) == 1 and "--app-name basic-auth" in start[0]
    # the secret key and admin login reach the server from a file only its owner reads, not its command line
    assert start[0].startswith(". ~/mlflow/login/server.env && ")
    assert head.index(next(c for c in head if "cluster_tracking init" in c)) < head.index(start[0])
    assert head.index(start[0]) < head.index(next(c for c in head if "cluster_tracking users" in c))
    # the study login: made on the head, copied to every worker, sourced by every node's shells
    assert config["cluster_synced_files"] == [cluster_tracking.NODE_LOGIN]
    assert f"test -f {cluster_tracking.NODE_LOGIN} && . {cluster_tracking.NODE_LOGIN}" in "\n".join(
        commands(config, "setup_commands"))
    for word in ("PASSWORD=", "SECRET_KEY=", "password1234"):
        assert word not in text


@pytest.fixture(scope="module")
def ray_stand_in():
    stand_in = lc.RayStandIn()
    yield stand_in
    stand_in.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory, ray_stand_in):
    service = lc.LoginServer(tmp_path_factory.mktemp("login"), dict(os.environ), LOCAL, ray_stand_in.address)
    yield service
    service.kill()


def call(uri: str, path: str, body: dict | None = None, login: dict | None = None) -> int:
    request = urllib.request.Request(f"{uri}{path}", data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json"})
    if login:
        pair = f"{login['MLFLOW_TRACKING_USERNAME']}:{login['MLFLOW_TRACKING_PASSWORD']}"
        request.add_header("Authorization", "Basic " + b64encode(pair.encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status
    except urllib.error.HTTPError as err:
        return err.code


@pytest.fixture
def ray_tmp():
    """Ray's temp root for one study: short (Ray's socket paths stay under 107 bytes), and empty."""
    folder = Path(tempfile.mkdtemp(prefix="gan-rt-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def study_env(login: dict | None, ray_tmp: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in LOGIN}
    return {**env, **(login or {}), "RAY_TMPDIR": str(ray_tmp)}


@pytest.mark.slow
def test_a_write_without_the_login_is_refused_and_the_read_only_user_cannot_change_a_study(server):
    assert call(server.uri, "/health") == 200  # open: the preflight's first look
    create = "/api/2.0/mlflow/experiments/create"
    assert call(server.uri, create, {"name": "anonymous"}) == 401
    assert call(server.uri, create, {"name": "guessed"}, {LOGIN[0]: "admin", LOGIN[1]: "password1234"}) == 401
    assert call(server.uri, create, {"name": "owned"}, server.login("study")) == 200
    exp = call(server.uri, "/api/2.0/mlflow/experiments/get-by-name?experiment_name=owned", None,
               server.login("reader"))
    assert exp == 200  # READ for every user: the read-only login sees the study's experiments
    run = json.loads(urllib.request.urlopen(urllib.request.Request(
        f"{server.uri}/api/2.0/mlflow/runs/create", data=json.dumps({"experiment_id": experiment_id(server)}).encode(),
        headers={"Content-Type": "application/json", "Authorization": basic(server.login("study"))}),
        timeout=60).read())
    run_id = run["run"]["info"]["run_id"]
    metric = {"run_id": run_id, "key": "score", "value": 1.0, "timestamp": 0, "step": 0}
    assert call(server.uri, "/api/2.0/mlflow/runs/log-metric", metric, server.login("reader")) == 403
    assert call(server.uri, "/api/2.0/mlflow/runs/delete", {"run_id": run_id}, server.login("reader")) == 403
    assert call(server.uri, "/api/2.0/mlflow/runs/log-metric", metric, server.login("study")) == 200
    assert call(server.uri, "/api/2.0/mlflow/users/create", {"username": "x", "password": "y" * 16},
                server.login("study")) == 403  # only the admin makes users


def basic(login: dict) -> str:
    return "Basic " + b64encode(f"{login[LOGIN[0]]}:{login[LOGIN[1]]}".encode()).decode()


def experiment_id(server) -> str:
    request = urllib.request.Request(f"{server.uri}/api/2.0/mlflow/experiments/get-by-name?experiment_name=owned",
                                     headers={"Authorization": basic(server.login("study"))})
    return json.loads(urllib.request.urlopen(request, timeout=60).read())["experiment"]["experiment_id"]


@pytest.mark.slow
def test_without_the_login_the_smoke_stops_before_ray_with_one_line_naming_what_to_set(server, tmp_path, ray_tmp):
    for login, words in ((None, "asks for a login: set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD"),
                         ({LOGIN[0]: "study", LOGIN[1]: "not-the-password"},
                          "refused the login in MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD")):
        started = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "studies.dg_ratio", "--smoke", "--tracking-uri", server.uri,
                               "--storage", str(tmp_path / "r")], cwd=tmp_path, env=study_env(login, ray_tmp),
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 2, done.stderr[-3000:]
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and words in lines[0], done.stderr
        assert lines[0].startswith("python -m studies.dg_ratio: error: --tracking-uri: ")
        assert "not-the-password" not in done.stderr + done.stdout
        assert not any(ray_tmp.iterdir())  # Ray never started
        assert not (tmp_path / "r").exists()  # nor did the study
        assert time.monotonic() - started < 120


@pytest.mark.slow
def test_the_smoke_with_the_study_login_logs_every_child_run_and_no_secret_anywhere(server, tmp_path, ray_tmp):
    done = subprocess.run([sys.executable, "-m", "studies.dg_ratio", "--smoke", "--tracking-uri", server.uri,
                           "--storage", str(tmp_path / "r")], cwd=tmp_path,
                          env=study_env(server.login("study"), ray_tmp),
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-5000:]
    client = MlflowClient(server.uri)
    os.environ.update(server.login("reader"))  # read back as the read-only user
    try:
        _, parents, children = runs_of(client, "dg_ratio")
        assert len(parents) == 1 and parents[0].info.status == "FINISHED"
        assert len(children) == 4
        for child in children:
            # ASHA may stop a smoke trial at its rung: every run is closed and holds its evaluations
            assert child.info.status == "FINISHED" and child.data.tags["gan.status"] in ("finished", "stopped_early")
            steps = [m.step for m in client.get_metric_history(child.info.run_id, "score")]
            assert steps and steps == list(range(12, 12 * len(steps) + 1, 12)), steps
            assert child.info.artifact_uri.startswith("mlflow-artifacts:")  # through the server into the shared folder
            folder = server.shared / "mlartifacts" / child.info.experiment_id / child.info.run_id / "artifacts"
            assert (folder / "samples" / "final.png").is_file()
        texts = [done.stdout, done.stderr, server.log.read_text(errors="replace")]
        for run in [*parents, *children]:
            texts += [json.dumps(run.data.params), json.dumps(run.data.tags)]
        texts += [p.read_text(errors="replace") for p in (tmp_path / "r").rglob("*") if p.is_file()
                  and p.suffix in (".json", ".csv", ".txt", ".log", ".md", ".pkl", "")]
        for secret in server.secrets():
            assert not any(secret in text for text in texts)
    finally:
        for name in LOGIN:
            os.environ.pop(name, None)


@pytest.mark.slow
def test_the_server_ends_when_ray_stops_answering(server, ray_stand_in):
    assert lc.answers(f"{server.uri}/health")
    ray_stand_in.close()  # `ray stop` on the head
    lc.wait_until(lambda: not lc.answers(f"{server.uri}/health") and not Path(f"/proc/{server.serve_pid}").exists(),
                  60, "the server's end")
    assert "Ray stopped answering" in server.log.read_text()
    assert not lc.children_of(server.serve_pid)
