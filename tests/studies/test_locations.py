"""Locations the user typed are made absolute once, in the driver: trials run in folders of their own."""

import os

import pytest

from studies.declare import locations


@pytest.mark.parametrize("given, resolved", [
    ("sqlite:///mlflow.db", "sqlite:////home/u/study/mlflow.db"),
    ("sqlite:///runs/m.db?timeout=30", "sqlite:////home/u/study/runs/m.db?timeout=30"),
    ("sqlite:////data/m.db", "sqlite:////data/m.db"),
    ("sqlite://", "sqlite://"),  # in memory: the preflight refuses it
    ("file:mlruns", "file:///home/u/study/mlruns"),
    ("file:///abs/mlruns", "file:///abs/mlruns"),
    ("./mlruns", "/home/u/study/mlruns"),
    ("http://10.0.0.10:5000", "http://10.0.0.10:5000"),
    ("databricks", "/home/u/study/databricks"),
    ("databricks://profile", "databricks://profile"),
])
def test_tracking_uris_are_made_absolute(given, resolved):
    assert locations.tracking_uri(given, cwd="/home/u/study") == resolved


def test_storage_paths_are_made_absolute_and_uris_stay():
    assert locations.storage_location("ray_results", cwd="/w") == "/w/ray_results"
    assert locations.storage_location("s3://bucket/prefix", cwd="/w") == "s3://bucket/prefix"
    assert locations.absolute_path("~/x") == os.path.join(os.path.expanduser("~"), "x")


def test_defaults_come_from_the_environment(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("GAN_STUDIES_STORAGE", raising=False)
    assert (locations.default_tracking_uri(), locations.default_storage()) == ("sqlite:///mlflow.db", "./ray_results")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://h:5000")
    assert locations.default_tracking_uri() == "http://h:5000"
