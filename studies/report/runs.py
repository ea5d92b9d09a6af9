"""What a study report reads, all of it from MLflow: the study's parent run,
its child runs (one per trial), their metric histories and their stepped
sample images.

    from studies.report.runs import load_study
    runs = load_study(MlflowClient(uri), "dg_ratio")       # the newest parent run
    runs = load_study(client, "dg_ratio", "dg_ratio-20250101-120000")   # by run name or id

A trial's setting is its `gan.group` tag where present, else its
`gan.setting` tag without the ` seed=N` part; its outcome is the `gan.status`
tag (finished, stopped_early, collapsed, diverged, error), or `running` for a
child run not closed yet. Its params are its full config, from its `gan.config`
tag (a run made before that tag logged every config field as a param:
`studies.run.records.config_params`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from mlflow.tracking import MlflowClient

from studies.run import records, reuse, tracking

TAG_GROUP = "gan.group"  # the setting without its seed, where the study tagged it
TAG_PARENT = "mlflow.parentRunId"
SEED = re.compile(r"(?:^|\s)seed=(\S+)")
PAGE = 1000  # runs per search page


@dataclass
class Trial:
    run_id: str
    name: str
    setting: str  # the trial's label without its seed
    seed: str  # "" when the trial has none
    status: str  # gan.status, or "running" when the child run was never closed
    start_time: int  # ms since the epoch
    params: dict[str, str]  # the full config, as params read (strings)
    labels: dict[str, str]  # the `gan.setting` tag as name -> value (what tells the trial apart)
    history: dict[str, list[tuple[int, float]]] = field(default_factory=dict)  # key -> [(step, value)], by step
    images: dict[int, str] = field(default_factory=dict)  # step -> artifact path of the sample grid
    seconds: float | None = None  # the child run's wall time (a reused trial's: the copy's)
    reused_from: str | None = None  # the study run a reused trial was copied from (studies.run.reuse)
    machine: str | None = None  # the kind of machine that trained it (studies.run.reuse.machine)
    origin: str = ""  # the child run that trained it: its own, or the original a reused trial was copied from
    trained_seconds: float | None = None  # a reused trial: its original's wall time (--findings reads it)

    def last_step(self) -> int | None:
        steps = [s for values in self.history.values() for s, _ in values]
        return max(steps) if steps else None

    def final(self, key: str) -> float | None:
        values = self.history.get(key)
        return values[-1][1] if values else None

    def at(self, key: str, step: int) -> float | None:
        """The value at the last evaluation at or before `step`."""
        found = None
        for s, value in self.history.get(key, []):
            if s > step:
                break
            found = value
        return found


@dataclass
class StudyRuns:
    study: str
    experiment_id: str
    parent_id: str
    parent_name: str
    parent_params: dict[str, str]  # the plan: search_space, scheduler, trials, ...
    trials: list[Trial]

    @property
    def searched(self) -> bool:
        """Whether Optuna proposed the trials (a define-by-run space) instead of a grid."""
        return "optuna_tpe" in self.parent_params.get("search_space", "")


def search_all(client: MlflowClient, exp_id: str, query: str, order_by: list[str] | None = None) -> list:
    """Every run of the experiment that matches, page after page."""
    runs, token = [], None
    while True:
        page = tracking.retry(client.search_runs, [exp_id], filter_string=query, max_results=PAGE,
                              order_by=order_by, page_token=token)
        runs.extend(page)
        token = page.token
        if not token:
            return runs


def find_parent(client: MlflowClient, exp_id: str, study: str, run: str | None = None):
    """The study's newest parent run (tag role=study), or the one whose run name or id is `run`."""
    parents = search_all(client, exp_id, "tags.role = 'study'", ["attributes.start_time DESC"])
    if run:
        parents = [p for p in parents if run in (p.info.run_id, p.info.run_name)]
    if not parents:
        which = f"named {run!r} (or with that id)" if run else "at all"
        raise ValueError(f"study {study!r} has no parent run {which} in this tracking store")
    return parents[0]


def setting_and_seed(tags: dict[str, str], fallback: str) -> tuple[str, str]:
    label = tags.get(tracking.TAG_SETTING, "")
    match = SEED.search(label)
    seed = match.group(1) if match else ""
    setting = tags.get(TAG_GROUP) or SEED.sub("", label).strip()
    return setting or fallback, seed


def parse_labels(label: str) -> dict[str, str]:
    """`loss=bce d_steps=5 seed=0` -> {"loss": "bce", "d_steps": "5", "seed": "0"}."""
    return dict(part.split("=", 1) for part in label.split() if "=" in part)


def image_steps(client: MlflowClient, run_id: str) -> dict[int, str]:
    """Step -> artifact path of the run's stepped `samples` PNGs."""
    return tracking.retry(tracking.image_paths, client, run_id)


def wall_seconds(run) -> float | None:
    """A run's wall time, once it has ended."""
    if run.info.end_time and run.info.start_time:
        return (run.info.end_time - run.info.start_time) / 1000
    return None


def read_trial(client: MlflowClient, run, keys: tuple[str, ...]) -> Trial:
    tags = run.data.tags
    setting, seed = setting_and_seed(tags, run.info.run_name)
    status = tags.get(tracking.TAG_STATUS) or ("running" if run.info.status == "RUNNING" else "unknown")
    trial = Trial(run.info.run_id, run.info.run_name, setting, seed, status, run.info.start_time,
                  records.config_params(tags, run.data.params), parse_labels(tags.get(tracking.TAG_SETTING, "")))
    for key in keys:
        if key in run.data.metrics:
            by_step = {m.step: m.value for m in tracking.retry(client.get_metric_history, run.info.run_id, key)}
            trial.history[key] = sorted(by_step.items())
    trial.images = image_steps(client, run.info.run_id)
    trial.seconds = wall_seconds(run)
    trial.reused_from = tags.get(reuse.TAG_REUSED_RUN)
    trial.origin = tags.get(reuse.TAG_REUSED) or run.info.run_id
    trial.machine = tags.get(reuse.TAG_MACHINE)
    return trial


def load_study(client: MlflowClient, study: str, run: str | None = None, keys: tuple[str, ...] | None = None,
               ) -> StudyRuns:
    """The parent run and every child run of one invocation of `study`, with the histories of `keys`
    (default: every metric a child logged)."""
    exp = tracking.retry(client.get_experiment_by_name, study)
    if exp is None:
        raise ValueError(f"no MLflow experiment named {study!r} in this tracking store")
    parent = find_parent(client, exp.experiment_id, study, run)
    children = search_all(client, exp.experiment_id, f"tags.`{TAG_PARENT}` = '{parent.info.run_id}'",
                          ["attributes.start_time ASC"])
    trials = [read_trial(client, child, tuple(child.data.metrics) if keys is None else keys)
              for child in children]
    return StudyRuns(study, exp.experiment_id, parent.info.run_id, parent.info.run_name, dict(parent.data.params),
                     trials)
