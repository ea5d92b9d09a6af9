"""Run a validated plan on Ray Tune, recording everything in MLflow.

Order of work: open the MLflow parent run (the plan as an artifact), warm the
dataset's scorer once in the driver (the stacked-digits reference classifier
is trained and cached here, not in every trial), start or join Ray, run the
Tuner, close each child run with its outcome as Tune reports it, then print
and store the table of trials.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import time

import torch
from mlflow.tracking import MlflowClient
from ray import tune
from ray.tune.schedulers import ASHAScheduler, FIFOScheduler

from gan_core.datasets import load_dataset
from studies import tracking
from studies.runner import PROGRESS_COLUMNS, Plan, label, label_columns, plan_dict
from studies.trainable import gan_trainable, resolve

log = logging.getLogger(__name__)


def outcome(result: dict | None, error: bool = False, collapse_stopped: bool = False) -> str:
    """How a trial ended: error, diverged, finished, collapsed (ended by the collapse
    stopper) or stopped_early (ended by ASHA)."""
    if error:
        return "error"
    result = result or {}
    if result.get("diverged"):
        return "diverged"
    if result.get("finished"):
        return "finished"
    return "collapsed" if collapse_stopped else "stopped_early"


class CollapseStopper(tune.Stopper):
    """Stop a trial once `collapsed` has held at `persistence` evaluations running
    and `result[time_attr]` has reached `grace`; remembers whom it stopped."""

    def __init__(self, time_attr: str, grace: float, persistence: int = 1):
        self.time_attr, self.grace, self.persistence = time_attr, grace, persistence
        self.streaks: dict[str, int] = {}
        self.stopped: set[str] = set()

    def __call__(self, trial_id, result):
        streak = self.streaks[trial_id] = self.streaks.get(trial_id, 0) + 1 if result.get("collapsed") else 0
        stop = streak >= self.persistence and result.get(self.time_attr, 0) >= self.grace
        if stop and not result.get("finished"):
            self.stopped.add(trial_id)
        return stop

    def stop_all(self):
        return False


class CloseChildRuns(tune.Callback):
    """Ends each trial's MLflow child run with its outcome when Tune is done with it."""

    def __init__(self, tracking_uri: str, exp_id: str, parent_id: str, stopper: CollapseStopper | None,
                 columns: dict[str, str]):
        self.args = (tracking_uri, exp_id, parent_id)
        self.stopper, self.columns = stopper, columns

    def _close(self, trial, result_outcome: str):
        uri, exp_id, parent_id = self.args
        client = MlflowClient(uri)
        run_id = tracking.child_of_trial(client, exp_id, parent_id, trial.trial_id)
        if run_id:
            tracking.retry(client.set_tag, run_id, tracking.TAG_SETTING, label(self.columns, trial.config))
            tracking.close_child(client, run_id, result_outcome)

    def on_trial_complete(self, iteration, trials, trial, **info):
        stopped = self.stopper is not None and trial.trial_id in self.stopper.stopped
        self._close(trial, outcome(trial.last_result, collapse_stopped=stopped))

    def on_trial_error(self, iteration, trials, trial, **info):
        self._close(trial, "error")


def scheduler(plan: Plan):
    if plan.scheduler == "fifo":
        return FIFOScheduler()
    return ASHAScheduler(time_attr=plan.time_attr, metric="score_smooth", mode="max",
                         max_t=plan.max_t, grace_period=plan.grace_period, reduction_factor=2)


def searcher(plan: Plan):
    """Optuna's TPE over a define-by-run space (seeded), or None for a grid."""
    if not callable(plan.space):
        return None
    import optuna
    from ray.tune.search.optuna import OptunaSearch

    # group + multivariate: TPE models the parameters that appear together (the
    # conditional branches of the space) jointly; a third of the budget explores at random
    sampler = optuna.samplers.TPESampler(seed=plan.base["seed"], n_startup_trials=max(2, plan.num_samples // 3),
                                         multivariate=True, group=True)
    return OptunaSearch(space=plan.space, metric="score_smooth", mode="max", sampler=sampler)


def start_ray(plan: Plan) -> bool:
    """Join `--address` or start a local Ray sized to this machine; True when we
    started it. A process that already called `ray.init` keeps its Ray."""
    import ray
    if ray.is_initialized():
        return False
    if plan.address:
        ray.init(address=plan.address, logging_level=logging.WARNING)
        return False
    ray.init(num_cpus=os.cpu_count(), num_gpus=torch.cuda.device_count(),
             include_dashboard=False, logging_level=logging.WARNING)
    return True


def execute(plan: Plan) -> int:
    study = plan.study
    client = MlflowClient(plan.tracking_uri)
    exp_id = tracking.experiment_id(client, study.name)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    parent = tracking.start_parent(client, exp_id, study.name, f"{study.name}-{stamp}",
                                   {k: v for k, v in plan_dict(plan).items() if k != "base_config"})
    tracking.retry(client.log_dict, parent, plan_dict(plan), "plan.json")
    print(f"MLflow: experiment {study.name!r} (id {exp_id}), parent run {parent}")
    warm_scorer(plan.base)
    started = start_ray(plan)
    try:
        results, stopper = run_tuner(plan, exp_id, parent, stamp)
    except KeyboardInterrupt:
        tracking.retry(client.set_terminated, parent, status="KILLED")
        raise
    finally:
        if started:
            import ray
            ray.shutdown()
    rows = table_rows(plan, results, stopper.stopped if stopper else set())
    text = markdown(rows)
    print(text)
    tracking.retry(client.log_text, parent, text, "trials.md")
    tracking.retry(client.log_text, parent, to_csv(rows), "trials.csv")
    summary = summarize(rows, plan)
    tracking.retry(client.log_batch, parent, metrics=[
        tracking.Metric(k, float(v), int(time.time() * 1000), 0) for k, v in summary.items()])
    tracking.retry(client.set_terminated, parent)
    print(f"Open the runs table: {tracking.ui_hint(plan.tracking_uri, exp_id)}")
    return 0 if rows and summary["errors"] < len(rows) else 1


def warm_scorer(base: dict) -> None:
    """Decode and cache the dataset's images, and train/cache its reference scorer, once before trials start."""
    data = load_dataset(base["dataset"], base["image_size"], base["data_root"])
    real = data.sample(64, torch.Generator().manual_seed(0))
    if data.score_samples is not None:
        data.score_samples(real)


def run_tuner(plan: Plan, exp_id: str, parent: str, stamp: str):
    os.environ["RAY_AIR_NEW_OUTPUT"] = "0"  # the classic reporter can show the GAN columns
    context = {"name": plan.study.name, "base": plan.base, "tracking_uri": plan.tracking_uri,
               "experiment_id": exp_id, "parent_run_id": parent, "smoothing": plan.smoothing,
               "threads": max(1, int(plan.cpus_per_trial))}
    trainable = tune.with_resources(tune.with_parameters(gan_trainable, study=context),
                                    {"cpu": plan.cpus_per_trial, "gpu": plan.gpus_per_trial})
    reporter = tune.CLIReporter(metric_columns=PROGRESS_COLUMNS, parameter_columns=label_columns(plan.space),
                                max_report_frequency=15, max_progress_rows=40)
    stopper = (CollapseStopper(plan.time_attr, plan.collapse_grace_period, plan.collapse_persistence)
               if plan.scheduler == "asha" else None)
    tuner = tune.Tuner(
        trainable,
        param_space=None if callable(plan.space) else plan.space,
        tune_config=tune.TuneConfig(scheduler=scheduler(plan), num_samples=plan.num_samples,
                                    search_alg=searcher(plan)),
        run_config=tune.RunConfig(
            name=f"{plan.study.name}-{stamp}", storage_path=plan.storage,
            stop=stopper,
            checkpoint_config=tune.CheckpointConfig(num_to_keep=2),
            callbacks=[CloseChildRuns(plan.tracking_uri, exp_id, parent, stopper, label_columns(plan.space))],
            progress_reporter=reporter, verbose=1),
    )
    return tuner.fit(), stopper


def table_rows(plan: Plan, results, collapse_stopped: set) -> list[dict]:
    columns = label_columns(plan.space)
    rows = []
    for result in results:
        config = resolve(plan.base, result.config or {})
        metrics = result.metrics or {}
        rows.append({"config": config.to_dict(), "trial": metrics.get("trial_id", "?"),
                     "setting": label(columns, result.config or {}),
                     "steps": int(metrics.get("step", 0)), "seconds": metrics.get("time_total_s"),
                     "score": metrics.get("score"), "score_smooth": metrics.get("score_smooth"),
                     "diversity": metrics.get("diversity"), "modes_covered": metrics.get("modes_covered"),
                     "used": metrics.get(plan.time_attr, 0.0),
                     "outcome": outcome(metrics, result.error is not None, metrics.get("trial_id") in collapse_stopped)})
    return sorted(rows, key=lambda r: -(r["score"] if r["score"] is not None else -1))


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.0f}" if value.is_integer() or abs(value) >= 100 else f"{value:.3f}"
    return str(value)


COLUMNS = ["trial", "setting", "steps", "seconds", "score", "score_smooth", "diversity", "modes_covered", "outcome"]


def markdown(rows: list[dict]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(_fmt(row[c]) for c in COLUMNS) + " |" for row in rows]
    return "\n".join(lines)


def to_csv(rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def summarize(rows: list[dict], plan: Plan) -> dict:
    """Counts of outcomes, and the trial budget the early stops saved (in `plan.time_attr`
    units: trial-seconds under a time cap, else evaluations), also as a share of all trials' budgets."""
    count = lambda name: sum(r["outcome"] == name for r in rows)
    scores = [r["score"] for r in rows if r["score"] is not None]
    saved = sum(max(0.0, plan.max_t - r["used"]) for r in rows if r["outcome"] in ("stopped_early", "collapsed"))
    return {"trials": len(rows), "finished": count("finished"), "stopped_early": count("stopped_early"),
            "stopped_collapsed": count("collapsed"), "diverged": count("diverged"), "errors": count("error"),
            "best_score": max(scores) if scores else 0.0, "budget_saved": saved,
            "budget_saved_share": saved / (plan.max_t * len(rows)) if rows else 0.0}
