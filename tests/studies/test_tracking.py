"""MLflow bookkeeping against a real sqlite store: child runs found again by
trial id, evaluation steps written once however often a trial re-runs them,
and the start-up check of a tracking server."""

import json
import os

import numpy as np
import pytest
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import RESOURCE_DOES_NOT_EXIST
from mlflow.tracking import MlflowClient

from local_cluster import free_port
from studies.run import reuse, tracking
from studies.run import stores

IMAGE = np.zeros((10, 10, 3), dtype=np.uint8)


@pytest.fixture
def child(tmp_path):
    client = MlflowClient(f"sqlite:///{tmp_path / 'm.db'}")
    exp = tracking.experiment_id(client, "study")
    parent = tracking.start_parent(client, exp, "study", "study-1", {})
    run, existed = tracking.find_or_create_child(client, exp, parent, "study", "t1", "trial-1", {"loss": "bce"})
    assert not existed
    return client, exp, parent, run


@pytest.mark.parametrize("uri, where", [
    ("sqlite:////data/m.db", "/data/mlruns/dg_ratio"),
    ("sqlite:////data/m.db?timeout=30", "/data/mlruns/dg_ratio"),
    ("sqlite:///relative.db", None),  # never handed in: the driver resolves it first
    ("sqlite://", None),
    ("http://10.0.0.10:5000", None),  # the server decides (--artifacts-destination)
    ("file:///abs/mlruns", None),
])
def test_a_sqlite_stores_artifacts_live_beside_its_file(uri, where):
    assert tracking.artifact_location(uri, "dg_ratio") == where


def test_an_experiment_made_in_a_sqlite_store_keeps_its_artifacts_beside_the_file(tmp_path, monkeypatch):
    for folder in ("store", "elsewhere"):
        (tmp_path / folder).mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")  # the study runs from another directory than its store's
    client = MlflowClient(f"sqlite:///{tmp_path / 'store' / 'm.db'}")
    exp = tracking.experiment_id(client, "study")
    run = client.create_run(exp).info.run_id
    client.log_text(run, "hello", "note.txt")
    assert (tmp_path / "store" / "mlruns" / "study" / run / "artifacts" / "note.txt").read_text() == "hello"
    assert not (tmp_path / "elsewhere" / "mlruns").exists()


def test_a_restarted_trial_reattaches_to_its_child_run(tmp_path):
    client = MlflowClient(f"sqlite:///{tmp_path / 'm.db'}")
    exp = tracking.experiment_id(client, "study")
    assert tracking.experiment_id(client, "study") == exp
    parent = tracking.start_parent(client, exp, "study", "study-1", {"trials": 2})
    first = tracking.find_or_create_child(client, exp, parent, "study", "t1", "trial-1", {"loss": "bce"})
    again = tracking.find_or_create_child(client, exp, parent, "study", "t1", "trial-1", {"loss": "bce"})
    other = tracking.find_or_create_child(client, exp, parent, "study", "t2", "trial-2", {"loss": "hinge"})
    assert first == (again[0], False) and again == (first[0], True) and other[0] != first[0]
    other_parent = tracking.start_parent(client, exp, "study", "study-2", {})
    assert tracking.find_or_create_child(client, exp, other_parent, "study", "t1", "trial-1", {})[0] != first[0]


def test_an_evaluation_logs_metrics_with_steps_and_images(child, tmp_path):
    client, _, _, run = child
    log = tracking.TrialLog(client, run, existed=False)
    for step in (10, 20):
        log.evaluation(step, {"score": step / 100, "step": step, "loss_d": float("nan")}, IMAGE)
    assert [(m.step, m.value) for m in client.get_metric_history(run, "score")] == [(10, 0.1), (20, 0.2)]
    assert client.get_metric_history(run, "loss_d") == []  # non-finite values are not logged
    assert client.list_artifacts(run, "samples") == []  # each grid is written once while the trial runs
    tracking.close_child(client, run, "diverged")
    closed = client.get_run(run)
    assert closed.info.status == "FAILED" and closed.data.tags["gan.status"] == "diverged"
    assert [a.path for a in client.list_artifacts(run, "samples")] == ["samples/final.png"]
    final = client.download_artifacts(run, "samples/final.png", str(tmp_path))
    last = [a.path for a in client.list_artifacts(run, "images") if tracking.IMAGE_STEP.match(a.path)
            and tracking.IMAGE_STEP.match(a.path).group(1) == "20"]
    assert len(last) == 1 and open(final, "rb").read() == open(client.download_artifacts(
        run, last[0], str(tmp_path / "last")), "rb").read()  # the last evaluation's grid, byte for byte


def test_rung_history_gives_each_metric_of_each_trial_by_evaluation(child):
    """What a resumed study's rungs read back: the smoothed score they rank, the raw score their noise
    comes from and the quality that says a trial took off, keyed by trial id and evaluation number."""
    client, exp, parent, run = child
    other, _ = tracking.find_or_create_child(client, exp, parent, "study", "t2", "trial-2", {"loss": "hinge"})
    for rid, scale in ((run, 1.0), (other, 2.0)):
        log = tracking.TrialLog(client, rid, existed=False)
        for step in (300, 600, 750):  # the last evaluation comes sooner: the budget's end
            log.evaluation(step, {"score": scale * step / 1000, "score_smooth": scale * step / 2000,
                                  "quality": step / 600, "step": step}, None)
    got = tracking.rung_history(client.tracking_uri, exp, parent, ("score_smooth", "score", "quality"), 300)
    assert got["score"] == {"t1": {1: 0.3, 2: 0.6, 3: 0.75}, "t2": {1: 0.6, 2: 1.2, 3: 1.5}}
    assert got["score_smooth"]["t2"] == {1: 0.3, 2: 0.6, 3: 0.75}
    assert got["quality"]["t1"] == {1: 0.5, 2: 1.0, 3: 1.25}


def test_a_retried_image_upload_that_the_store_already_holds_is_not_logged_twice(child):
    """A tracking server can store an upload and fail to answer it; the retry then finds the step there."""
    client, _, _, run = child
    assert tracking.image_steps(client, run) == set()
    tracking.log_image(client, run, 200, IMAGE)
    assert tracking.image_steps(client, run) == {200}
    calls, original = [], client.log_image

    def blinking_upload(*args, **kwargs):  # the real upload, then its answer lost on the way back
        calls.append(1)
        original(*args, **kwargs)
        if len(calls) == 1:
            raise ConnectionError("connection reset by peer")
    client.log_image = blinking_upload
    try:
        tracking.log_image(client, run, 300, IMAGE)
    finally:
        client.log_image = original
    assert len(calls) == 1  # the retry found step 300 stored and uploaded nothing
    stepped = [m.group(1) for a in client.list_artifacts(run, "images") if (m := tracking.IMAGE_STEP.match(a.path))]
    assert sorted(stepped) == ["200", "300"]  # one image a step


def test_a_run_without_images_closes_without_a_final_picture(child):
    client, _, _, run = child
    tracking.TrialLog(client, run, existed=False).evaluation(10, {"score": 0.1, "step": 10}, None)
    tracking.close_child(client, run, "error")
    assert client.list_artifacts(run, "samples") == []


def test_steps_a_restored_trial_runs_again_are_logged_once(child):
    """The first attempt logged 10-30 (30 without its image) and was checkpointed at 10;
    the restored attempt re-runs 20 and 30, then goes on to 40."""
    client, exp, parent, run = child
    first = tracking.TrialLog(client, run, existed=False)
    first.evaluation(10, {"score": 0.1, "step": 10}, IMAGE)
    first.evaluation(20, {"score": 0.2, "step": 20}, IMAGE)
    first.evaluation(30, {"score": 0.3, "step": 30}, None)
    again, existed = tracking.find_or_create_child(client, exp, parent, "study", "t1", "trial-1", {})
    assert (again, existed) == (run, True)
    second = tracking.TrialLog(client, again, existed)
    for step in (20, 30, 40):
        second.evaluation(step, {"score": step / 100 + 0.5, "step": step}, IMAGE)
    history = [(m.step, m.value) for m in client.get_metric_history(run, "score")]
    assert history == [(10, 0.1), (20, 0.2), (30, 0.3), (40, 0.9)]  # the first value of a step stays
    images = [tracking.IMAGE_STEP.match(a.path) for a in client.list_artifacts(run, "images")]
    assert sorted(int(m.group(1)) for m in images if m) == [10, 20, 30, 40]  # 30's image came with the re-run


def test_the_run_keeps_the_mode_histograms_of_its_last_evaluation(child, tmp_path):
    client, exp, parent, run = child
    assert tracking.read_modes(client, run, str(tmp_path / "none")) is None
    first = tracking.TrialLog(client, run, existed=False)
    for step in (10, 20):
        first.evaluation(step, {"score": 0.1, "step": step}, None, {"counts": [step, 0], "real": [5, 5]})
    again = tracking.TrialLog(client, run, existed=True)  # restored from step 10: 20 again (not logged), 30
    for step in (20, 30):
        again.evaluation(step, {"score": 0.1, "step": step}, None, {"counts": [0, step + 1], "real": [5, 5]})
    assert tracking.read_modes(client, run, str(tmp_path / "last")) == {"step": 30, "counts": [0, 31], "real": [5, 5]}


def test_an_exploit_is_recorded_once_at_its_step_and_extends_the_lineage(child):
    client, _, _, run = child
    for step, donor in ((300, "ab12_00003"), (300, "ab12_00003"), (600, "ab12_00001")):  # the 2nd: a restart
        tracking.record_exploit(client, run, step, {"donor_trial": donor, "lr_d": 4e-4})
    tags = client.get_run(run).data.tags
    assert tags["gan.lineage"] == "300:ab12_00003 600:ab12_00001"
    assert json.loads(tags["gan.exploit.300"]) == {"donor_trial": "ab12_00003", "lr_d": 4e-4}
    assert [(m.step, m.value) for m in client.get_metric_history(run, "exploit_from")] == [(300, 3.0), (600, 1.0)]


def test_a_tracking_server_that_does_not_answer_is_one_clear_line():
    uri = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ValueError) as err:
        stores.check_server(uri, timeout=2)
    message = str(err.value)
    assert message.startswith(f"no MLflow server answers at {uri} (") and "\n" not in message
    stores.check_server("sqlite:///needs-no-server.db")  # a local store needs no server


def test_only_failures_a_retry_can_fix_are_transient():
    import requests
    import sqlalchemy.exc
    from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE, TEMPORARILY_UNAVAILABLE

    locked = sqlalchemy.exc.OperationalError("INSERT INTO metrics", {}, Exception("database is locked"))
    for err in (locked, MlflowException(f"(sqlite3.OperationalError) {locked}"),
                MlflowException("busy", TEMPORARILY_UNAVAILABLE), requests.exceptions.ConnectionError("refused"),
                ConnectionRefusedError(), TimeoutError()):
        assert tracking.transient(err), repr(err)
    from mlflow.exceptions import RestException

    server_500 = RestException({"error_code": "INTERNAL_ERROR", "message": "the server fell over"})
    for err in (server_500, MlflowException("API request to http://h:5000/api/2.0/mlflow/runs/get failed with "
                                            "exception HTTPConnectionPool: Max retries exceeded")):
        assert tracking.transient(err), repr(err)
    for err in (MlflowException("No Experiment with id=1 exists", RESOURCE_DOES_NOT_EXIST),
                MlflowException("bad step", INVALID_PARAMETER_VALUE), ValueError("x"), KeyError("score"),
                # the client's own error: its code defaults to INTERNAL_ERROR (HTTP 500), yet no server failed
                MlflowException("(sqlite3.IntegrityError) UNIQUE constraint failed: tags.key, tags.run_uuid")):
        assert not tracking.transient(err), repr(err)


def test_retry_raises_a_deterministic_error_at_once_and_outlasts_a_blink():
    calls = []

    def missing():
        calls.append(1)
        raise MlflowException("No Experiment with id=1 exists", RESOURCE_DOES_NOT_EXIST)

    with pytest.raises(MlflowException, match="No Experiment"):
        tracking.retry(missing)
    assert len(calls) == 1

    def blinks():
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionRefusedError("server restarting")
        return "logged"

    calls.clear()
    assert tracking.retry(blinks) == "logged" and len(calls) == 3


def test_the_code_digest_changes_with_gan_core_and_with_nothing_else(tmp_path):
    import shutil

    import gan_core

    copy = tmp_path / "gan_core"
    shutil.copytree(os.path.dirname(gan_core.__file__), copy, ignore=shutil.ignore_patterns("__pycache__"))
    digest = reuse.code_digest()
    assert len(digest) == 12 and int(digest, 16) >= 0
    assert reuse.code_digest(str(copy)) == digest  # the same files, elsewhere: the same code
    (copy / "__pycache__").mkdir(exist_ok=True)
    (copy / "__pycache__" / "train.cpython-311.pyc").write_bytes(b"compiled")
    assert reuse.code_digest(str(copy)) == digest  # byte code is not code
    with open(copy / "losses.py", "a") as f:
        f.write("\n# an edit\n")
    assert reuse.code_digest(str(copy)) != digest


def test_the_reusable_keys_are_those_of_finished_runs_of_this_code_outside_this_study(tmp_path):
    client = MlflowClient(f"sqlite:///{tmp_path / 'm.db'}")
    exp, other_exp = tracking.experiment_id(client, "study"), tracking.experiment_id(client, "other")
    earlier = tracking.start_parent(client, exp, "study", "study-1", {})
    elsewhere = tracking.start_parent(client, other_exp, "other", "other-1", {})
    this = tracking.start_parent(client, exp, "study", "study-2", {})
    runs = [(earlier, "t1", "finished", "code-a", "k-finished"), (elsewhere, "t2", "diverged", "code-a", "k-other"),
            (earlier, "t3", "error", "code-a", "k-error"), (earlier, "t4", "finished", "code-b", "k-old-code"),
            (this, "t5", "finished", "code-a", "k-this-study"), (earlier, "t6", "finished", "code-a", None)]
    for parent, trial, status, code, key in runs:
        where = other_exp if parent == elsewhere else exp  # any experiment of the store
        run, _ = tracking.find_or_create_child(client, where, parent, "study", trial, trial, {})
        tracking.set_tags(client, run, {reuse.TAG_CODE: code, **({reuse.TAG_KEY: key} if key else {})})
        tracking.close_child(client, run, status)
    tracking.set_tags(client, earlier, {reuse.TAG_CODE: "code-a"})  # parents carry the digest too, and no key
    assert reuse.reusable_keys(client, "code-a", exclude_parent=this) == ["k-finished", "k-other"]
    assert reuse.reusable_keys(client, "code-a") == ["k-finished", "k-other", "k-this-study"]
    assert reuse.reusable_keys(client, "code-c") == []
