"""The Ray Tune function trainable that wraps `gan_core.train`.

Each evaluation of the training loop becomes one `tune.report` with a
`tune.Checkpoint` (the full training state, loaded back with
`weights_only=True` on restore), and one batched MLflow write into the trial's
child run, with the sample grid and, for datasets with known modes, the mode
histograms (`modes.json`, replaced at each evaluation). What ASHA ranks is `score_smooth`, an exponential moving average of
`score` (GAN metrics are noisy from one evaluation to the next); it is saved in
the checkpoint so a restored trial continues the same average.

The trial's child run gets the knobs that tell it apart as params, its full
config as its `gan.config` tag (`studies.run.records`).

The MLflow side of a trial (the import, client, child run, tags) is opened in a thread
beside the first rounds: with a sqlite store, the first open in a process loads
SQLAlchemy and checks the schema, which took seconds before the first round.
The thread starts once the run is built (`train`'s `started`): beside the
build, mostly imports (torch's first optimizer imports torch._dynamo), it
only took turns with it for the GIL. The first evaluation waits for it; an
error there ends the trial as an error in the thread would have. It starts at
once where the trial needs its run before training (a run to reuse, a PBT
exploit to record) or fails before it was built (to record the error).

A trial uses as many torch threads as it has CPUs, and trains where Ray put
it (`trial_device`): on the GPU Ray gave it, on the CPU when it asked for none
(whatever GPUs the machine has), and on the CPU with a warning when Ray gave
it a GPU that torch cannot see (fake GPUs, a node without the driver). Its
share of that GPU (the trial's GPU fraction) bounds the dataset copy it makes
there (`gan_core.devices.data_budget`). A checkpoint is read onto the CPU
whatever device saved it (`gan_core.train.read_state`) and moved to the
trial's device. The trial records where it ran as tags of its child run:
`gan.node` (Ray node id), `gan.nodes` (short ids of every node it started on,
oldest first: more than one means it was restored after a failure),
`gan.device` (where it trained), `gan.gpu_ids` (what Ray gave it),
`gan.device_note` (only when the two disagree: why) and `gan.torch_threads`.

Under population-based training (`studies.run.population`) a trial also logs the
hyper-parameters it trains with at every evaluation (`lr_d`, `lr_g`, `d_steps`,
`g_steps`), and a checkpoint it restores that another trial saved (each
checkpoint names its trial) is an exploit: the state goes on under this
trial's new learning rates and ratio (`gan_core.train.continue_with`), and the
run records it (`tracking.record_exploit`): metric `exploit_from` (the donor's
trial number) at the step, tag `gan.exploit.<step>` (donor trial and run, the
checkpoint, a digest of the copied G) and tag `gan.lineage`. The scheduler is
synchronous, so the copied checkpoint is from the step where this run last
logged, and every evaluation after it is new to the run.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import sys
import tempfile
import traceback
from concurrent.futures import ThreadPoolExecutor, wait
from typing import TYPE_CHECKING

import ray
import torch
from ray import tune

from gan_core import TrainConfig
from gan_core.train import continue_with, read_state, train
from studies.run import records, reuse
from studies.declare.spaces import label, merge

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

    from studies.run.tracking import TrialLog

STATE_FILE = "state.pt"

# a trial paused at a rung restarts from its checkpoint: Tune logs one INFO line per restore in the
# worker, forwarded to the driver's terminal (this module is imported in the worker before the restore)
logging.getLogger("ray.tune.trainable.trainable").setLevel(logging.WARNING)


def resolve(base: dict, trial_config: dict) -> TrainConfig:
    """The run's TrainConfig: base values, then the trial's chosen values (see `spaces.merge`)."""
    return TrainConfig.from_dict(merge(base, trial_config))


def trial_threads() -> int:
    """Torch threads for this trial: its CPU share, at least one."""
    cpus = tune.get_context().get_trial_resources().required_resources.get("CPU", 1)
    return max(1, int(cpus))


def trial_device(asked: str, gpu_ids: list, cuda: bool) -> tuple[str, str]:
    """The device a trial trains on, from the config's `device`, the GPU ids Ray gave the trial and
    whether torch sees CUDA; with a note ("" when none) when it trains on the CPU despite a GPU.

    `auto`: no GPU from Ray, the CPU (Ray leaves a zero-GPU trial every GPU of its machine visible;
    training there would crowd the trials those GPUs were given to, unaccounted); a GPU, `cuda`
    (Ray makes the GPUs it gave the only ones the process sees: cuda:0 is the first), or the CPU
    with a note when torch sees no CUDA device. `cpu` is taken as given, and so is `cuda`, but for
    a trial Ray gave no GPU on a machine that has one: an error, for the same crowding."""
    if asked == "cpu":
        return "cpu", ""
    if asked == "cuda":
        if cuda and not gpu_ids:
            raise ValueError("device: 'cuda' asked for but Ray gave this trial no GPU; "
                             "ask for one with --gpus-per-trial, or use auto or cpu")
        return "cuda", ""
    if gpu_ids and not cuda:
        ids = ",".join(map(str, gpu_ids))
        return "cpu", f"Ray gave this trial GPU {ids} but torch sees no CUDA device: training on the CPU"
    return ("cuda" if gpu_ids else "cpu"), ""


def this_trials_device(config: TrainConfig, trial_id: str) -> tuple[str, str, ValueError | None]:
    """`trial_device` for this trial, its note printed as a warning line; a refusal is returned, not
    raised, so that the trial's run, where the error is recorded, is made first."""
    try:
        device, note = trial_device(config.device, ray.get_gpu_ids(), torch.cuda.is_available())
    except ValueError as err:
        return config.device, "", err
    if note:
        print(f"warning: trial {trial_id}: {note}", file=sys.stderr, flush=True)
    return device, note, None


def trial_gpu_share() -> float:
    """This trial's share of its GPU: the GPU fraction Ray reserved for it, at most one whole device."""
    return min(float(tune.get_context().get_trial_resources().required_resources.get("GPU", 0)), 1.0)


def placement(device: str, note: str) -> dict:
    """Where this start of the trial runs: its node, device (and why, when not the GPU Ray gave it),
    GPUs, threads and process."""
    where = {"gan.node": ray.get_runtime_context().get_node_id(), "gan.device": device,
             "gan.gpu_ids": ",".join(map(str, ray.get_gpu_ids())) or "none",
             "gan.torch_threads": str(torch.get_num_threads()), "gan.pid": str(os.getpid())}
    return {**where, "gan.device_note": note} if note else where


def placement_tags(client: MlflowClient, run_id: str, where: dict) -> dict:
    """`where` (see `placement`) with the node appended to the nodes of earlier starts (a trial
    restarted on the node it last ran on, after a pause at an ASHA rung, adds nothing)."""
    from studies.run import tracking

    node = where["gan.node"]
    earlier = [n for n in tracking.retry(client.get_run, run_id).data.tags.get("gan.nodes", "").split(",") if n]
    nodes = earlier if earlier and earlier[-1] == node[:12] else [*earlier, node[:12]]
    return {**where, "gan.nodes": ",".join(nodes)}


def open_run(study: dict, trial_id: str, setting: str, config: TrainConfig, where: dict, trial: dict) -> None:
    """The trial's MLflow side: client, child run, placement tags, and the log of the steps it holds.
    MLflow itself is imported here, in the thread, not before the trial's first round."""
    from mlflow.tracking import MlflowClient

    from studies.run import tracking

    client = trial["client"] = MlflowClient(study["tracking_uri"])
    values = config.to_dict()
    run_id, existed = tracking.find_or_create_child(
        client, study["experiment_id"], study["parent_run_id"], study["name"], trial_id, setting,
        records.child_params(setting, values, study.get("overrides", ())), values, study.get("parent_run_name"))
    trial["run_id"] = run_id
    tracking.set_tags(client, run_id, placement_tags(client, run_id, where))
    trial["log"] = tracking.TrialLog(client, run_id, existed)


def start_opening(trial: dict) -> None:
    """Start `open_run` in the trial's thread, unless it has started already."""
    if trial["opening"] is None:
        trial["opening"] = trial["pool"].submit(open_run, *trial["open_args"], trial)


def started_training(trial: dict, preview) -> None:
    """The run is built: open the MLflow side beside the first rounds, then (same thread, after it) log
    the untrained G's sample grid as the run's image at step 0, so the image card starts where training does."""
    start_opening(trial)
    if preview is not None:  # waited for with the opening: two image uploads at once race in MLflow's store
        trial["previewing"] = trial["pool"].submit(log_preview, trial, preview)


def log_preview(trial: dict, preview) -> None:
    if trial["log"] is not None:  # an open that failed raises at the first evaluation, not here
        trial["log"].preview(preview)


def opened(trial: dict) -> TrialLog:
    """The trial's log, once `open_run` (started beside the first rounds, or now) has finished; its error,
    raised here."""
    start_opening(trial)
    trial["opening"].result()
    if trial.get("previewing") is not None:
        trial["previewing"].result()
    return trial["log"]


def gan_trainable(trial_config: dict, study: dict) -> None:
    """`study` holds the plan's fixed parts: base config, tracking URI, experiment and parent run ids,
    smoothing, and the label columns. An exception from the training code or the tracking layer ends
    the trial once, as `error` (see `end_with_error`): a retry would only raise it again. Only the
    death of the trial's process or node makes Tune restart it from its checkpoint."""
    pool = ThreadPoolExecutor(1, thread_name_prefix="mlflow-open")
    trial = {"client": None, "run_id": None, "log": None, "opening": None, "open_args": None, "pool": pool,
             "score_smooth": None, "progress": {}}
    try:
        run_trial(trial_config, study, trial)
    except Exception as err:  # SystemExit (Tune stopping the trial) and KeyboardInterrupt pass through
        if trial["open_args"] is not None:
            start_opening(trial)  # a trial that failed before it was built still records its error in its run
        if trial["opening"] is not None:
            wait([trial["opening"]])  # the child run, where the error is recorded, may be still in the making
        end_with_error(err, trial)
    finally:
        pool.shutdown(wait=False)


def run_trial(trial_config: dict, study: dict, trial: dict) -> None:
    config = resolve(study["base"], trial_config)
    torch.set_num_threads(trial_threads())
    # one INFO line per checkpoint, forwarded to the driver, would bury the progress table
    logging.getLogger("ray.train._internal.storage").setLevel(logging.WARNING)
    trial_id = tune.get_context().get_trial_id()
    device, note, refused = this_trials_device(config, trial_id)
    where = placement(device, note)
    trial["parent_run_id"] = study["parent_run_id"]
    kind = reuse.machine(device) if refused is None else f"{device} (refused)"
    trial["key"] = reuse.trial_key(config.to_dict(), reuse.code_digest(), kind)
    where.update({reuse.TAG_KEY: trial["key"], reuse.TAG_CODE: reuse.code_digest(), reuse.TAG_MACHINE: kind})
    # the MLflow side (a store's first open loads SQLAlchemy and checks its schema: seconds) is made in a
    # thread beside the first rounds (`start_opening`); the first evaluation waits for it
    trial["open_args"] = (study, trial_id, label(study["columns"], trial_config), config, where)
    if refused is not None:
        raise refused

    checkpoint = tune.get_checkpoint()
    if study.get("reuse") and checkpoint is None and may_reuse(study, trial) and replay_reused(trial):
        return
    state = None
    if checkpoint is not None:
        with checkpoint.as_directory() as folder:
            state = read_state(os.path.join(folder, STATE_FILE))
        trial["score_smooth"] = state.get("score_smooth")
        if study.get("population"):
            state = continue_with(state, config)
            if state.get("trial_id", trial_id) != trial_id:
                log = opened(trial)
                record_exploit(log.client, study, log.run_id, log, state, checkpoint.path, config)

    def report(payload: dict) -> None:
        metrics = dict(payload["metrics"])
        previous, alpha = trial["score_smooth"], study["smoothing"]
        score = metrics["score"]
        trial["score_smooth"] = score if previous is None else alpha * score + (1 - alpha) * previous
        metrics["score_smooth"] = trial["score_smooth"]
        if study.get("population"):
            metrics.update(hyperparameters(config))
        trial["progress"] = {k: metrics[k] for k in ("step", "work", "d_updates", "g_updates")}
        opened(trial).evaluation(payload["work"], metrics, payload["image"], payload["modes"])  # in budget units
        if payload["state"] is None:
            tune.report(metrics)
            return
        with tempfile.TemporaryDirectory() as folder:
            torch.save({**payload["state"], "score_smooth": trial["score_smooth"], "trial_id": trial_id},
                       os.path.join(folder, STATE_FILE))
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(folder))

    # the config recorded (`gan.config`) is the one the study resolved; the run itself gets the device decided here
    train(config.replace(device=device), report, state, device_share=trial_gpu_share() if device == "cuda" else 1.0,
          started=lambda preview: started_training(trial, preview))
    opened(trial)  # a trial that ends before its first evaluation still has its run


def may_reuse(study: dict, trial: dict) -> bool:
    """Whether the store may hold a finished run of this trial: its key is among those the driver found
    (`reuse.reusable_keys`, passed as `study["reusable"]`); without that list, the store is asked. A trial
    that could not be reused starts training at once, without waiting for its MLflow side."""
    known = study.get("reusable")
    return known is None or trial["key"] in known


def replay_reused(trial: dict) -> bool:
    """Under FIFO: when a run of this very trial (same key: config, code, machine kind) already ended in the
    store, copy it into this trial's child run and report its evaluations to Tune as they were logged,
    instead of training (`studies.run.reuse`); False when there is none."""
    from studies.run import reuse

    log = opened(trial)
    source = reuse.find(log.client, trial["key"], exclude_parent=trial["parent_run_id"])
    if source is None:
        return False
    history = reuse.histories(log.client, source.info.run_id)
    reuse.copy(log.client, source, log.run_id, history)
    origin = reuse.origin_name(log.client, source)
    for step, metrics in reuse.evaluations(history):
        trial["progress"] = {k: metrics[k] for k in ("step", "work", "d_updates", "g_updates") if k in metrics}
        tune.report({**metrics, "reused_from": origin})
    return True


def hyperparameters(config: TrainConfig) -> dict:
    """What PBT changes, as metrics: the schedule a run trained with, step by step."""
    return {"lr_d": config.lr_d, "lr_g": config.lr_g, "d_steps": float(config.d_steps), "g_steps": float(config.g_steps)}


def weights_digest(weights: dict) -> str:
    """A short digest of a state dict's tensors (names and bytes): which weights a run copied."""
    digest = hashlib.sha1()
    for name, tensor in weights.items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def record_exploit(client: MlflowClient, study: dict, run_id: str, log: TrialLog, state: dict,
                   path: str, config: TrainConfig) -> None:
    """This trial restored another trial's checkpoint: say which, at which step, with which weights."""
    from studies.run import tracking

    donor = state["trial_id"]
    donor_run = tracking.child_of_trial(client, study["experiment_id"], study["parent_run_id"], donor)
    step = int(state["work"])
    hidden = sorted(s for s in log.metric_steps if s > step)  # none under the synchronous scheduler
    tracking.record_exploit(client, run_id, step, {
        "donor_trial": donor, "donor_run": donor_run, "checkpoint": path, "g_digest": weights_digest(state["g"]),
        "hidden_steps": len(hidden), **hyperparameters(config)})


def error_line(err: BaseException) -> str:
    """`ValueError: the message` on one line, at most 300 characters."""
    text = " ".join(str(err).split()) or "(no message)"
    line = f"{type(err).__name__}: {text}"
    return line if len(line) <= 300 else line[:297] + "..."


def end_with_error(err: Exception, trial: dict) -> None:
    """Record the error in the trial's MLflow run when there is one (a tracking failure may be the
    error itself), then end the trial with one last result that says so: `error` 1, its message, and
    NaN scores (schedulers and Optuna treat the trial as failed, not as scoring 0)."""
    message, details = error_line(err), traceback.format_exc()
    if trial["run_id"] is not None:
        try:
            from studies.run import tracking

            tracking.record_error(trial["client"], trial["run_id"], message, details)
        except Exception as also:  # the store itself is failing: the driver still gets the message
            message = f"{message} (and recording it in MLflow failed: {error_line(also)})"
    tune.report({**trial["progress"], "error": 1.0, "error_message": message, "score": math.nan,
                 "score_smooth": math.nan, "finished": 0.0, "diverged": 0.0, "timed_out": 0.0, "collapsed": 0.0})
