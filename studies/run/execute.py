"""Run a validated plan on Ray Tune, recording everything in MLflow.

Order of work: open the MLflow parent run (the plan as an artifact, a view of the runs table:
`studies.run.runs_table`) and save the study's state next to Tune's experiment folder, warm the
dataset's scorer once in the driver (the stacked-digits reference classifier is trained and cached
here, not in every trial), start or join Ray, run the Tuner, close each child run with its outcome as
Tune reports it, then print and store the table of trials, mark the study finished, print the answer
(the report's, also the parent run's description) and the address of the runs table.

Failures: a trial whose process or node dies is restarted from its last
checkpoint, on any node with room (`FailureConfig(max_failures)`); a study
whose driver dies is picked up by `--resume` (`Tuner.restore`), which reopens
the same parent run. Either way a trial finds its child run again by trial id
and skips the evaluation steps that run already holds.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import shlex
import sys
import time

import torch
from mlflow.tracking import MlflowClient
from ray import tune
from ray.tune.schedulers import ASHAScheduler, FIFOScheduler
from ray.tune.stopper import CombinedStopper

from gan_core.datasets import load_dataset
from studies.run import resume, reuse, runs_table, stores, tracking
from studies.run.halving import SyncHalving
from studies.plan.plan import Plan, REDUCTION_FACTOR, plan_dict, recorded_tolerance
from studies.run.population import CollapsePBT, checkpoints_to_keep
from studies.declare.spaces import label
from studies.run.stoppers import CollapseStopper, ErrorStopper
from studies.run.trainable import error_line, gan_trainable
from studies.run.trials import columns, markdown, outcome, summarize, table_rows, to_csv

log = logging.getLogger(__name__)
PROGRESS_COLUMNS = ["loss_d", "loss_g", "score", "modes_covered", "score_smooth"]


class CloseChildRuns(tune.Callback):
    """Ends each trial's MLflow child run with its outcome when Tune is done with it."""

    def __init__(self, tracking_uri: str, exp_id: str, parent_id: str, stopper: CollapseStopper | None,
                 columns: dict[str, str], budget: tuple[str, float]):
        self.args = (tracking_uri, exp_id, parent_id)
        self.stopper, self.columns, self.budget = stopper, columns, budget

    def _close(self, trial, result_outcome: str):
        uri, exp_id, parent_id = self.args
        client = MlflowClient(uri)
        run_id = tracking.child_of_trial(client, exp_id, parent_id, trial.trial_id)
        if run_id:
            tracking.close_child(client, run_id, result_outcome)

    def on_trial_result(self, iteration, trials, trial, result, **info):
        if result.get("error"):  # one line; the traceback is the run's error.txt
            print(f"trial {label(self.columns, trial.config) or trial.trial_id} ended in error: "
                  f"{result.get('error_message')}", file=sys.stderr, flush=True)

    def on_trial_complete(self, iteration, trials, trial, **info):
        stopped = self.stopper is not None and trial.trial_id in self.stopper.stopped
        self._close(trial, outcome(trial.last_result, collapse_stopped=stopped, budget=self.budget))

    def on_trial_error(self, iteration, trials, trial, **info):
        self._close(trial, "error")


def scheduler(plan: Plan, study: dict):
    """FIFO; synchronous PBT for a study that declares a population; or successive halving on the
    smoothed score: with synchronous rungs for a grid on a work budget (the same decisions on any
    machine), Tune's asynchronous ASHA for an Optuna search (TPE needs finished trials to learn
    from, not trials paused at a rung) or a time budget."""
    if plan.scheduler == "fifo":
        return FIFOScheduler()
    if plan.population:  # the study declared a population: synchronous PBT, collapsed members replaced
        return CollapsePBT(plan.population, plan.collapse_persistence, plan.pbt_collapse_grace, plan.base["seed"])
    if plan.synchronous_rungs:
        history = functools.partial(tracking.rung_history, plan.tracking_uri, study["experiment_id"],
                                    study["parent_run_id"], ("score_smooth", "score", "quality"),
                                    plan.base["eval_every"])
        return SyncHalving("score_smooth", plan.max_t, plan.grace_period, REDUCTION_FACTOR, plan.trials, history,
                           raw="score", smoothing=plan.smoothing, tolerance=plan.rung_tolerance,
                           take_off=plan.base["collapse_quality"])
    return ASHAScheduler(time_attr=plan.time_attr, metric="score_smooth", mode="max",
                         max_t=plan.max_t, grace_period=plan.grace_period, reduction_factor=REDUCTION_FACTOR)


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
    """Join `--address` or start a local Ray sized to this machine; True when we started it. A process that
    already called `ray.init` keeps its Ray."""
    import ray
    if ray.is_initialized():
        return False
    if plan.address:
        ray.init(address=plan.address, logging_level=logging.WARNING)
        return False
    ray.init(num_cpus=os.cpu_count(), num_gpus=torch.cuda.device_count(),
             include_dashboard=False, logging_level=logging.WARNING)
    return True


def open_study(plan: Plan, client: MlflowClient, exp_id: str) -> dict:
    """A new study: its MLflow parent run and its saved state. A resumed one: the saved state, parent reopened."""
    if plan.resume:
        state = {"parent_run_name": plan.resume["experiment"], **plan.resume}  # saved before it had the key
        tracking.reopen_parent(client, state["parent_run_id"])
        runs_table.open_view(client, state, plan.study.columns)
        print(f"Resuming {state['experiment']} from {state['folder']}: "
              f"MLflow experiment id {state['experiment_id']}, parent run {state['parent_run_id']}")
        return state
    study = plan.study
    name = f"{study.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    parent = tracking.start_parent(client, exp_id, study.name, name,
                                   {k: v for k, v in plan_dict(plan).items() if k != "base_config"})
    tracking.retry(client.log_dict, parent, plan_dict(plan), "plan.json")
    tracking.set_tags(client, parent, {tracking.TAG_COMMAND: " ".join(
        [f"python -m studies.{study.name}", *(shlex.quote(a) for a in plan.argv)]),
        reuse.TAG_CODE: reuse.code_digest()})
    state = {"study": study.name, "experiment": name, "parent_run_name": name, "argv": list(plan.argv),
             "tracking_uri": plan.tracking_uri, "experiment_id": exp_id, "parent_run_id": parent, "finished": False}
    runs_table.open_view(client, state, study.columns)
    resume.write_state(folder := resume.experiment_folder(plan.storage, name), state)
    print(f"MLflow: experiment {study.name!r} (id {exp_id}), parent run {parent}; "
          f"resume with --resume {name} if the driver stops")
    return {**state, "folder": folder}


def as_started(plan: Plan, client: MlflowClient, parent: str) -> Plan:
    """A resumed study's rungs decide by the rule its run started with: the tolerance its parent run
    records, not today's default (0 for a run made before the rungs had one)."""
    if not (plan.resume and plan.synchronous_rungs):
        return plan
    params = tracking.retry(client.get_run, parent).data.params
    return dataclasses.replace(plan, rung_tolerance=recorded_tolerance(params.get("scheduler", "{}")))


def open_store(plan: Plan) -> tuple[MlflowClient, str] | None:
    """The client and the study's experiment id, once the store has shown the trials can use it; None after
    one line on stderr when it cannot (before anything is logged)."""
    client = MlflowClient(plan.tracking_uri)
    try:
        exp_id = tracking.experiment_id(client, plan.study.name)
        stores.preflight(plan.tracking_uri, exp_id, plan.study.name)
    except Exception as err:  # noqa: BLE001  a store the trials cannot use: one line, before anything is logged
        print(f"python -m studies.{plan.study.name}: error: --tracking-uri: {str(err).splitlines()[0]}",
              file=sys.stderr)
        return None
    return client, exp_id


def execute(plan: Plan) -> int:
    opened = open_store(plan)
    if opened is None:
        return 2
    client, exp_id = opened
    study = open_study(plan, client, exp_id)
    parent = study["parent_run_id"]
    plan = as_started(plan, client, parent)
    warm_scorer(plan.base)
    started = start_ray(plan)
    errors = ErrorStopper(first_errors(plan))
    try:
        results = run_tuner(plan, study, errors)
    except KeyboardInterrupt:
        tracking.retry(client.set_terminated, parent, status="KILLED")
        raise
    finally:
        if started:
            import ray
            ray.shutdown()
    if errors.reason:
        return stop_on_error(plan, client, study, results, errors)
    unfinished = stopped_by_ctrl_c(client, parent, study["folder"])
    if unfinished:
        print(f"Interrupted with {unfinished} unfinished trials; continue with: "
              f"python -m studies.{plan.study.name} --resume {study['experiment']}", file=sys.stderr)
        return 130
    summary = store_table(plan, client, study, results)
    tracking.retry(client.set_terminated, parent)
    resume.write_state(study["folder"], {k: v for k, v in study.items() if k != "folder"} | {"finished": True})
    answer(plan, parent)
    print(f"Open the runs table: {runs_table.address(plan.tracking_uri, study)}")
    return 0 if summary["trials"] and summary["errors"] < summary["trials"] else 1


def store_table(plan: Plan, client: MlflowClient, study: dict, results) -> dict:
    """Print the table of trials, keep it (markdown, csv) and the outcome counts in the parent run."""
    parent = study["parent_run_id"]
    # who stopped what: the collapse stopper's trials carry its outcome in MLflow (kept across --resume)
    rows = table_rows(plan, results, tracking.trials_with_status(client, study["experiment_id"], parent, "collapsed"))
    names = columns(plan, rows)
    text = markdown(rows, names)
    print(text)
    tracking.retry(client.log_text, parent, text, "trials.md")
    tracking.retry(client.log_text, parent, to_csv(rows, names), "trials.csv")
    summary = summarize(rows, plan)
    tracking.retry(client.log_batch, parent, metrics=[
        tracking.Metric(k, float(v), int(time.time() * 1000), 0) for k, v in summary.items()])
    return summary


def answer(plan: Plan, parent: str) -> None:
    """The study's answer (statistics over seeds, the report's path): a report that cannot be built
    costs one line, never the study."""
    from studies.report.build import build_report

    try:
        lines, _ = build_report(plan.tracking_uri, plan.study.name, parent)
    except Exception as err:  # noqa: BLE001  the runs and the table are already safe in MLflow
        print(f"The report could not be built ({error_line(err)}); try: python -m studies.report "
              f"{plan.study.name} --run {parent}", file=sys.stderr)
        return
    print("\n".join(lines))


def first_errors(plan: Plan) -> int:
    """How many of the first trials to end must fail alike before the study stops: as many as run
    at once (at least two), or all of them in a smaller study."""
    import ray

    cpus = ray.cluster_resources().get("CPU", 1) if ray.is_initialized() else os.cpu_count() or 1
    return min(plan.trials, max(2, int(cpus // plan.cpus_per_trial)))


def stop_on_error(plan: Plan, client: MlflowClient, study: dict, results, errors: ErrorStopper) -> int:
    """The first trials all failed the same way: say so in one line, keep the table, fail the parent run."""
    parent = study["parent_run_id"]
    store_table(plan, client, study, results)
    tracking.retry(client.set_tag, parent, tracking.TAG_ERROR, errors.reason[:5000])
    tracking.retry(client.set_terminated, parent, status="FAILED")
    print(f"python -m studies.{plan.study.name}: the first {errors.first} trials all ended in the same error, "
          f"so the study stopped: {errors.reason}", file=sys.stderr)
    return 1


def stopped_by_ctrl_c(client: MlflowClient, parent: str, folder: str) -> int:
    """After a fit: how many trials Ctrl-C left unfinished (Tune saved its state, then stopped them); when any
    did, the parent run is marked KILLED."""
    unfinished = unfinished_trials(folder)
    if unfinished:
        tracking.retry(client.set_terminated, parent, status="KILLED")
    return unfinished


def unfinished_trials(folder: str) -> int:
    """Trials the saved experiment state holds as neither done nor errored (after a Ctrl-C Tune saves the
    state, then stops the trials it interrupted)."""
    saved = tune.ExperimentAnalysis(folder).trials
    return sum(trial.status not in ("TERMINATED", "ERROR") for trial in saved)


def warm_scorer(base: dict) -> None:
    """Decode and cache the dataset's images, and train/cache its reference scorer, once before trials start."""
    data = load_dataset(base["dataset"], base["image_size"], base["data_root"])
    real = data.sample(64, torch.Generator().manual_seed(0))
    if data.score_samples is not None:
        data.score_samples(real)


def run_tuner(plan: Plan, study: dict, errors: ErrorStopper):
    """Fit a new Tuner, or restore the saved one (unfinished and errored trials
    continue from their last checkpoints; finished ones stay as they are)."""
    os.environ["RAY_AIR_NEW_OUTPUT"] = "0"  # the classic reporter can show the GAN columns
    # synchronous rungs pause and resume trials by design, and each pause snapshots the experiment
    # state; Tune would warn about the snapshots' frequency several times a study
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    context = {"name": plan.study.name, "base": plan.base, "tracking_uri": plan.tracking_uri,
               "experiment_id": study["experiment_id"], "parent_run_id": study["parent_run_id"],
               "smoothing": plan.smoothing, "columns": plan.columns,
               "parent_run_name": study["parent_run_name"], "overrides": plan.overrides,
               "population": plan.population is not None, "reuse": plan.reuses,
               # a trial waits for the store (its MLflow side, seconds) only when its key is among these
               "reusable": reuse.reusable_keys(MlflowClient(plan.tracking_uri), reuse.code_digest(),
                                               study["parent_run_id"]) if plan.reuses else None}
    trainable = tune.with_resources(tune.with_parameters(gan_trainable, study=context),
                                    {"cpu": plan.cpus_per_trial, "gpu": plan.gpus_per_trial})
    if plan.resume:
        return tune.Tuner.restore(study["folder"], trainable, resume_unfinished=True, resume_errored=True).fit()
    reporter = tune.CLIReporter(metric_columns=PROGRESS_COLUMNS, parameter_columns=plan.columns,
                                max_report_frequency=15, max_progress_rows=40)
    stopper = (CollapseStopper(plan.time_attr, plan.collapse_grace_period, plan.collapse_persistence,
                               plan.collapse_stall)
               if plan.scheduler == "asha" else None)
    tuner = tune.Tuner(
        trainable,
        param_space=None if callable(plan.space) else plan.space,
        tune_config=tune.TuneConfig(scheduler=scheduler(plan, study), num_samples=plan.num_samples,
                                    search_alg=searcher(plan),
                                    # a trial's worker process takes the next trial (and PBT's paused members
                                    # their turn): no process start or imports, the MLflow store already open
                                    reuse_actors=True),
        run_config=tune.RunConfig(
            name=study["experiment"], storage_path=plan.storage,
            stop=CombinedStopper(errors, stopper) if stopper else errors,
            checkpoint_config=tune.CheckpointConfig(
                num_to_keep=checkpoints_to_keep(plan.population["interval"]) if plan.population else 2),
            failure_config=tune.FailureConfig(max_failures=plan.max_failures),
            callbacks=[CloseChildRuns(plan.tracking_uri, study["experiment_id"], study["parent_run_id"], stopper,
                                      plan.columns, (plan.time_attr, plan.max_t))],
            progress_reporter=reporter, verbose=1),
    )
    return tuner.fit()
