"""Whether a tracking store will work, checked before a study starts anything: a server that answers
(and lets the environment's login in: MLflow's basic-auth app, as on the cluster), and a store a
trial, running in another directory, finds the study's experiment in. Each failure is one line that
says what to set or start."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request


def check_server(tracking_uri: str, timeout: float = 5.0) -> None:
    """Raise ValueError (one line) when an http(s) tracking URI has no MLflow server
    answering its /health, or one whose login the environment lacks (check_login);
    other URIs (sqlite, file) need no server."""
    if not tracking_uri.startswith(("http://", "https://")):
        return
    url = f"{tracking_uri.rstrip('/')}/health"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            if answer.status == 200:
                return check_login(tracking_uri, timeout)
            reason = f"HTTP {answer.status}"
    except urllib.error.HTTPError as err:
        reason = f"HTTP {err.code}"
    except (urllib.error.URLError, OSError) as err:
        reason = str(getattr(err, "reason", err))
    raise ValueError(f"no MLflow server answers at {tracking_uri} ({reason}); start it, "
                     "or set MLFLOW_TRACKING_URI / --tracking-uri to one that runs")


def check_login(tracking_uri: str, timeout: float = 5.0) -> None:
    """Raise ValueError (one line naming what to set) when the server at an http(s) tracking URI asks
    for a login (MLflow's basic-auth app, as on the cluster) that the environment lacks or that it refuses.
    Reads one experiment with the credentials MLflow's client would send."""
    if not tracking_uri.startswith(("http://", "https://")):
        return
    from mlflow.utils.credentials import get_default_host_creds
    from mlflow.utils.rest_utils import http_request

    try:
        answer = http_request(get_default_host_creds(tracking_uri), "/api/2.0/mlflow/experiments/search", "GET",
                              params={"max_results": 1}, max_retries=0, timeout=timeout, raise_on_status=False)
    except Exception:  # noqa: BLE001  no answer: the study's own calls retry and report it
        return
    if answer.status_code in (401, 403):
        raise ValueError(login_problem(tracking_uri, answer.status_code))


def login_problem(tracking_uri: str, status: int) -> str:
    """What to set when the server at tracking_uri answered 401 or 403 (never a credential itself)."""
    given = [name for name in LOGIN_VARIABLES if os.environ.get(name)]
    if status == 401 and not given:
        return (f"the MLflow server at {tracking_uri} asks for a login: set MLFLOW_TRACKING_USERNAME and "
                "MLFLOW_TRACKING_PASSWORD (on the cluster every node's ~/.gan-studies.env sets them)")
    if status == 401:
        return (f"the MLflow server at {tracking_uri} refused the login in MLFLOW_TRACKING_USERNAME and "
                "MLFLOW_TRACKING_PASSWORD: set them to a user of that server")
    return (f"the MLflow server at {tracking_uri} lets the user in MLFLOW_TRACKING_USERNAME in but not read "
            "experiments (HTTP 403): set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD to a study user")


LOGIN_VARIABLES = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")


PREFLIGHT = """
import sys
from mlflow.tracking import MlflowClient
experiment = MlflowClient(sys.argv[1]).get_experiment(sys.argv[2])
print(experiment.name)
"""


def preflight(tracking_uri: str, exp_id: str, name: str, timeout: float = 120.0) -> None:
    """Open the store as a trial will, from another working directory, and look for the
    experiment the driver made; ValueError (one line) when it is not there."""
    with tempfile.TemporaryDirectory() as elsewhere:
        try:
            proc = subprocess.run([sys.executable, "-c", PREFLIGHT, tracking_uri, exp_id], cwd=elsewhere,
                                  capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise ValueError(f"opening {tracking_uri} from another directory took over {timeout:.0f} s") from None
    if proc.returncode != 0 or proc.stdout.strip() != name:
        lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
        reason = lines[-1] if lines else f"it found {proc.stdout.strip()!r}"
        for status in (401, 403):  # a login the trial lacks: what to set, not MLflow's raw answer
            if f"error code {status}" in reason or f"HTTP {status}" in reason:
                raise ValueError(login_problem(tracking_uri, status))
        raise ValueError(f"a trial, running in another directory, would not find experiment {name!r} (id {exp_id}) "
                         f"through {tracking_uri} ({reason}); give a store every trial can reach, such as "
                         "sqlite:////absolute/path/mlflow.db or http://host:5000")
