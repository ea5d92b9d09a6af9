"""MLflow bookkeeping against a real sqlite store: child runs found again by trial id."""

import numpy as np
from mlflow.tracking import MlflowClient

from studies import tracking


def test_a_restarted_trial_reattaches_to_its_child_run(tmp_path):
    client = MlflowClient(f"sqlite:///{tmp_path / 'm.db'}")
    exp = tracking.experiment_id(client, "study")
    assert tracking.experiment_id(client, "study") == exp
    parent = tracking.start_parent(client, exp, "study", "study-1", {"trials": 2})
    first = tracking.find_or_create_child(client, exp, parent, "study", "t1", "trial-1", {"loss": "bce"})
    again = tracking.find_or_create_child(client, exp, parent, "study", "t1", "trial-1", {"loss": "bce"})
    other = tracking.find_or_create_child(client, exp, parent, "study", "t2", "trial-2", {"loss": "hinge"})
    assert first == again != other
    other_parent = tracking.start_parent(client, exp, "study", "study-2", {})
    assert tracking.find_or_create_child(client, exp, other_parent, "study", "t1", "trial-1", {}) != first


def test_an_evaluation_logs_metrics_with_steps_and_images(tmp_path):
    client = MlflowClient(f"sqlite:///{tmp_path / 'm.db'}")
    exp = tracking.experiment_id(client, "study")
    parent = tracking.start_parent(client, exp, "study", "study-1", {})
    run = tracking.find_or_create_child(client, exp, parent, "study", "t1", "trial-1", {"loss": "bce"})
    image = np.zeros((10, 10, 3), dtype=np.uint8)
    for step in (10, 20):
        tracking.log_evaluation(client, run, step, {"score": step / 100, "loss_d": float("nan")}, image)
    assert [(m.step, m.value) for m in client.get_metric_history(run, "score")] == [(10, 0.1), (20, 0.2)]
    assert client.get_metric_history(run, "loss_d") == []  # non-finite values are not logged
    assert client.list_artifacts(run, "samples")[0].path == "samples/final.png"
    tracking.close_child(client, run, "diverged")
    closed = client.get_run(run)
    assert closed.info.status == "FAILED" and closed.data.tags["gan.status"] == "diverged"
