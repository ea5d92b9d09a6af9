"""MLflow bookkeeping for studies: one parent run per study invocation, one
child run per Tune trial under it.

The driver opens the parent run (plan, final table) and closes child runs
when Tune reports a trial done; each trial logs its own metrics and images
from inside the trial process with batched calls, which costs the trial about
50 ms per evaluation instead of the ~300 ms per metric key of Ray's
synchronous `MLflowLoggerCallback`. Child runs are found again by their
`trial_id` tag, so a restarted trial keeps logging into the same run, and
`TrialLog` skips the evaluation steps that run already holds (a trial
restored from its last checkpoint re-runs the steps after it). Under PBT a
trial that copies another's checkpoint is a new branch of its run, not a
re-run: the scheduler is synchronous, so the branch starts at the step where
the run's history ends and nothing is skipped (`record_exploit` says how many
steps would have been, `hidden_steps`, were it ever otherwise).

A child run is named by its label's values (`bce 1:5 s0`); the whole label is
its `gan.setting` tag, the setting without the seed its `gan.group` tag. Its
params are only the knobs that tell it apart, its full config is its
`gan.config` tag (`studies.run.records`). Every run of one study run, the
parent too, carries `gan.study_run` (the parent run's name), which its saved
view of the runs table filters on (`studies.run.runs_table`, which also
writes the parent run's description: the study's answer).

A tracking server (`http://...`) is checked once before a study starts, its
login too (`studies.run.stores`);
after that every call retries with backoff, on top of MLflow's own HTTP
retries, so a server that blinks mid-study delays trials but kills none.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

import numpy as np
from mlflow.entities import Metric, Param, RunStatus, RunTag
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from studies.run import records

log = logging.getLogger(__name__)
logging.getLogger("mlflow.store.db.utils").setLevel(logging.WARNING)  # "Creating initial MLflow database tables..."

UI_HINT = "#/experiments/{exp}/runs?workflowType=machine_learning"  # MLflow 3's classic runs table, not GenAI's
VIEW_KEY = "viewStateShareKey"  # the runs table's URL parameter that opens a saved view (studies.run.runs_table)
TAG_TRIAL = "trial_id"
TAG_STUDY = "study"
TAG_STATUS = "gan.status"
TAG_SETTING = "gan.setting"  # what tells the trial apart in its study: "loss=bce ratio=1:5 seed=0"
TAG_GROUP = "gan.group"  # the setting without its seed: the MLflow UI's group-by aggregates the seeds
TAG_ERROR = "gan.error"  # the one-line message of the exception that ended the trial
TAG_EXPLOIT = "gan.exploit."  # + step: an exploit under PBT, as JSON (donor trial and run, checkpoint, weights)
TAG_COMMAND = "gan.command"  # on a parent run: the command line that started the study
TAG_LINEAGE = "gan.lineage"  # every exploit of the run, oldest first: "<step>:<donor trial id>" separated by spaces
TAG_STUDY_RUN = "gan.study_run"  # on every run of a study run, the parent too: the parent run's name
RETRIES = 6
STEP_KEY = "step"  # logged at every evaluation, diverged ones included: the steps a run holds
PROGRESS_BAR = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"
MODES_FILE = "modes.json"  # the mode histograms of a run's last evaluation (datasets with known modes)
IMAGE_STEP = re.compile(r"^images/samples[+%]step[+%](\d+)[+%].*\.png$")  # the stepped `samples` images


def retry(fn, *args, **kwargs):
    """Call an MLflow client method, retrying with backoff only what a retry can fix (a locked
    sqlite file under concurrent trials, a tracking server that blinks or is overloaded);
    anything else (a missing experiment, a bad argument, a bug) raises at once."""
    for attempt in range(RETRIES):
        try:
            return fn(*args, **kwargs)
        except Exception as err:
            if attempt == RETRIES - 1 or not transient(err):
                raise
            wait = 0.2 * 2 ** attempt
            log.warning("MLflow call %s failed (%s); retrying in %.1fs", fn.__name__, err, wait)
            time.sleep(wait)


def transient(err: BaseException) -> bool:
    """A failure a retry can fix: no connection, a timeout, a server's HTTP 5xx or 429, sqlite "database is
    locked"; not an MlflowException the client raised itself (its default code reads as 500 too)."""
    if "database is locked" in str(err):  # sqlite under concurrent writers, however MLflow wraps it
        return True
    if isinstance(err, MlflowException):
        from mlflow.exceptions import RestException

        status = err.get_http_status_code()
        if status in (429, 503):  # told to come back: REQUEST_LIMIT_EXCEEDED, TEMPORARILY_UNAVAILABLE
            return True
        # a 5xx is the server's only when a server answered, or the request never got through: a bare
        # MlflowException (the client's own, code INTERNAL_ERROR by default) would fail the same way again
        reached = isinstance(err, RestException) or str(err).startswith("API request to")
        return reached and status >= 500
    if isinstance(err, (ConnectionError, TimeoutError, urllib.error.URLError)):
        return True
    import requests  # MLflow's HTTP client

    return isinstance(err, (requests.exceptions.ConnectionError, requests.exceptions.Timeout))


def artifact_location(uri: str, experiment: str) -> str | None:
    """Where a new experiment in this store keeps its artifacts: `mlruns/<experiment>` beside a sqlite
    database file, so a store named by path is one folder whatever directory the study ran from (MLflow's
    own choice is `./mlruns` of that directory); None, MLflow's choice, for servers and other stores."""
    if uri.startswith("sqlite:///"):
        path = uri[len("sqlite:///"):].partition("?")[0]
        if path.startswith("/"):
            return os.path.join(os.path.dirname(path), "mlruns", experiment)
    return None


def experiment_id(client: MlflowClient, name: str) -> str:
    """The experiment `name`, created when missing with its artifacts beside a sqlite store's file."""
    found = retry(client.get_experiment_by_name, name)
    if found:
        return found.experiment_id
    return retry(client.create_experiment, name, artifact_location(client.tracking_uri, name))


def start_parent(client: MlflowClient, exp_id: str, study: str, run_name: str, params: dict) -> str:
    run = retry(client.create_run, exp_id, run_name=run_name, tags={TAG_STUDY: study, "role": "study"})
    log_params(client, run.info.run_id, params)
    return run.info.run_id


def log_params(client: MlflowClient, run_id: str, params: dict) -> None:
    items = [Param(str(k), str(v)[:6000]) for k, v in sorted(params.items())]
    for i in range(0, len(items), 100):
        retry(client.log_batch, run_id, params=items[i:i + 100])


def reopen_parent(client: MlflowClient, run_id: str) -> None:
    """A resumed study's parent run is running again."""
    retry(client.update_run, run_id, status="RUNNING")


def set_tags(client: MlflowClient, run_id: str, tags: dict) -> None:
    retry(client.log_batch, run_id, tags=[RunTag(k, str(v)) for k, v in sorted(tags.items())])


def find_or_create_child(client: MlflowClient, exp_id: str, parent_id: str, study: str,
                         trial_id: str, setting: str, params: dict, config: dict | None = None,
                         study_run: str | None = None) -> tuple[str, bool]:
    """The trial's child run and whether it existed: the one for this trial id, or a new one named by its
    setting (`run_name`), with `params` (what tells it apart), the full `config` as its `gan.config` tag and
    the parent run's name `study_run`. Each attempt looks before it creates, so a create retried after a
    lost answer finds the run it made instead of making a second one."""
    def find_or_create():
        found = child_of_trial(client, exp_id, parent_id, trial_id, retries=False)
        if found:
            return found, True
        tags = {"mlflow.parentRunId": parent_id, TAG_TRIAL: trial_id, TAG_STUDY: study,
                TAG_SETTING: setting, TAG_GROUP: group_of(setting)}
        if config is not None:
            tags[records.TAG_CONFIG] = records.config_tag(config)
        if study_run:
            tags[TAG_STUDY_RUN] = study_run
        name = records.run_name(setting) or trial_id
        return client.create_run(exp_id, run_name=name, tags=tags).info.run_id, False

    run_id, existed = retry(find_or_create)
    if existed:
        retry(client.update_run, run_id, status="RUNNING")
    else:
        log_params(client, run_id, params)
    return run_id, existed


def group_of(setting: str) -> str:
    """`loss=bce ratio=1:5 seed=0` -> `loss=bce ratio=1:5`."""
    return " ".join(part for part in setting.split() if not part.startswith("seed=")) or "all"


def record_error(client: MlflowClient, run_id: str, message: str, details: str) -> None:
    """The exception that ended a trial: its one line as a tag, the traceback as `error.txt`."""
    retry(client.set_tag, run_id, TAG_ERROR, message[:5000])
    retry(client.log_text, run_id, details, "error.txt")
    close_child(client, run_id, "error")


def record_exploit(client: MlflowClient, run_id: str, step: int, details: dict) -> None:
    """An exploit under PBT: the tag `gan.exploit.<step>` (details as JSON), the run's `gan.lineage`
    extended, and the metric `exploit_from` (the donor's trial number) at the step. Recorded once:
    a trial restarted before its first evaluation after the exploit restores the same checkpoint."""
    tags = retry(client.get_run, run_id).data.tags
    if f"{TAG_EXPLOIT}{step}" in tags:
        return
    lineage = " ".join(filter(None, [tags.get(TAG_LINEAGE, ""), f"{step}:{details['donor_trial']}"]))
    number = details["donor_trial"].rsplit("_", 1)[-1]
    retry(client.log_batch, run_id, tags=[RunTag(f"{TAG_EXPLOIT}{step}", json.dumps(details, sort_keys=True)),
                                          RunTag(TAG_LINEAGE, lineage)],
          metrics=[Metric("exploit_from", float(number) if number.isdigit() else -1.0, int(time.time() * 1000), step)])


class TrialLog:
    """Writes a trial's evaluations into its child run, each step at most once:
    a trial restored from a checkpoint re-runs the steps after it, and a
    restarted trial re-runs them all; those already in the run are skipped."""

    def __init__(self, client: MlflowClient, run_id: str, existed: bool):
        self.client, self.run_id = client, run_id
        self.metric_steps, self.image_steps = logged_steps(client, run_id) if existed else (set(), set())

    def preview(self, image) -> None:
        """The untrained G's sample grid as the image at step 0 (once: a restarted trial logs none)."""
        if 0 not in self.image_steps:
            log_image(self.client, self.run_id, 0, image)
            self.image_steps.add(0)

    def evaluation(self, step: int, metrics: dict, image, modes: dict | None = None) -> None:
        if step not in self.metric_steps:
            log_metrics(self.client, self.run_id, step, metrics)
            if modes is not None:
                log_modes(self.client, self.run_id, step, modes)
            self.metric_steps.add(step)
        if image is not None and step not in self.image_steps:
            log_image(self.client, self.run_id, step, image)
            self.image_steps.add(step)


def logged_steps(client: MlflowClient, run_id: str) -> tuple[set[int], set[int]]:
    """The evaluation steps a run already holds: metrics (by the `step` key) and sample images."""
    metric_steps = {m.step for m in retry(client.get_metric_history, run_id, STEP_KEY)}
    return metric_steps, retry(image_steps, client, run_id)


def image_paths(client: MlflowClient, run_id: str) -> dict[int, str]:
    """Step -> artifact path of the run's stepped sample grids (`samples`)."""
    found = ((IMAGE_STEP.match(a.path), a.path) for a in client.list_artifacts(run_id, "images"))
    return {int(m.group(1)): path for m, path in found if m}


def image_steps(client: MlflowClient, run_id: str) -> set[int]:
    """The steps of the run's stepped sample grids."""
    return set(image_paths(client, run_id))


def log_metrics(client: MlflowClient, run_id: str, step: int, metrics: dict) -> None:
    """One batch; its fixed timestamp makes a retried batch a no-op for the store."""
    now = int(time.time() * 1000)
    batch = [Metric(k, float(v), now, step) for k, v in sorted(metrics.items()) if np.isfinite(v)]
    retry(client.log_batch, run_id, metrics=batch)


def log_modes(client: MlflowClient, run_id: str, step: int, modes: dict) -> None:
    """The mode histograms of this evaluation (`counts`: samples per known mode; `real`: the real
    reference set's) as MODES_FILE, replacing the last one: the run keeps those of its last evaluation."""
    retry(client.log_dict, run_id, {"step": step, **modes}, MODES_FILE)


def read_modes(client: MlflowClient, run_id: str, folder: str) -> dict | None:
    """The run's MODES_FILE ({"step", "counts", "real"}), or None when it logged none."""
    if not any(a.path == MODES_FILE for a in retry(client.list_artifacts, run_id)):
        return None
    with open(download(client, run_id, MODES_FILE, folder)) as f:
        return json.load(f)


def log_image(client: MlflowClient, run_id: str, step: int, image) -> None:
    """The sample grid as a stepped image (`samples`); `samples/final.png` is written once, at the close.
    MLflow names each upload anew, so a retry after an upload the server stored but could not answer
    (a blink mid-call) would log the step twice: a retry first looks whether the step is there."""
    attempts = []

    def upload():
        if attempts and step in image_steps(client, run_id):
            return
        attempts.append(step)
        client.log_image(run_id, image, key="samples", step=step)
    retry(upload)


def download(client: MlflowClient, run_id: str, path: str, folder: str) -> str:
    """The artifact's local copy under folder, without MLflow's progress bar (one per file would flood a
    study's terminal)."""
    os.makedirs(folder, exist_ok=True)
    previous = os.environ.get(PROGRESS_BAR)
    os.environ[PROGRESS_BAR] = "false"
    try:
        return retry(client.download_artifacts, run_id, path, folder)
    finally:
        if previous is None:
            os.environ.pop(PROGRESS_BAR)
        else:
            os.environ[PROGRESS_BAR] = previous


def write_final_image(client: MlflowClient, run_id: str) -> None:
    """The run's last stepped sample grid again as `samples/final.png` (nothing when it logged none).
    Written by whoever closes the run, so a trial encodes and uploads each grid once."""
    stepped = retry(image_paths, client, run_id)
    if not stepped:
        return
    with tempfile.TemporaryDirectory() as scratch:
        local = download(client, run_id, stepped[max(stepped)], scratch)
        final = os.path.join(scratch, "final.png")
        os.replace(local, final)
        retry(client.log_artifact, run_id, final, "samples")


def close_child(client: MlflowClient, run_id: str, outcome: str) -> None:
    """Mark a child run with its outcome: finished, stopped_early, collapsed, diverged or error; its
    last sample grid becomes `samples/final.png`."""
    write_final_image(client, run_id)
    retry(client.set_tag, run_id, TAG_STATUS, outcome)
    status = RunStatus.to_string(RunStatus.FAILED if outcome in ("diverged", "error") else RunStatus.FINISHED)
    retry(client.set_terminated, run_id, status=status)


def child_of_trial(client: MlflowClient, exp_id: str, parent_id: str, trial_id: str,
                   retries: bool = True) -> str | None:
    query = f"tags.`{TAG_TRIAL}` = '{trial_id}' and tags.`mlflow.parentRunId` = '{parent_id}'"
    search = (lambda *a, **k: retry(client.search_runs, *a, **k)) if retries else client.search_runs
    found = search([exp_id], filter_string=query, max_results=1)
    return found[0].info.run_id if found else None


def trials_with_status(client: MlflowClient, exp_id: str, parent_id: str, status: str) -> set[str]:
    """Trial ids of the parent's child runs closed with this outcome (`gan.status`)."""
    query = f"tags.`mlflow.parentRunId` = '{parent_id}' and tags.`{TAG_STATUS}` = '{status}'"
    found = retry(client.search_runs, [exp_id], filter_string=query, max_results=10_000)
    return {run.data.tags[TAG_TRIAL] for run in found}


def ui_hint(tracking_uri: str, exp_id: str, view: str | None = None) -> str:
    """Where the runs table is: its address on a server, else the `mlflow ui` to start and the address then;
    with `view`, the saved view of a study run (`studies.run.runs_table`) it opens with."""
    page = UI_HINT.format(exp=exp_id) + (f"&{VIEW_KEY}={urllib.parse.quote(view)}" if view else "")
    if tracking_uri.startswith("http"):
        return f"{tracking_uri.rstrip('/')}/{page}"
    return f"mlflow ui --backend-store-uri {tracking_uri}   then open http://127.0.0.1:5000/{page}"


def rung_history(tracking_uri: str, exp_id: str, parent_id: str, metrics: tuple[str, ...], eval_every: int) -> dict:
    """{metric: {trial id: {evaluation number: value}}} for each of `metrics` over the parent's child runs
    (MLflow steps count budget units; evaluation k is at step k * eval_every, the last one possibly sooner)."""
    client = MlflowClient(tracking_uri)
    query = f"tags.`mlflow.parentRunId` = '{parent_id}'"
    history = {metric: {} for metric in metrics}
    for run in retry(client.search_runs, [exp_id], filter_string=query, max_results=10_000):
        for metric in metrics:
            values = retry(client.get_metric_history, run.info.run_id, metric)
            history[metric][run.data.tags[TAG_TRIAL]] = {-(-m.step // eval_every): m.value for m in values}
    return history
