"""The Ray Tune function trainable that wraps `gan_core.train`.

Each evaluation of the training loop becomes one `tune.report` with a
`tune.Checkpoint` (the full training state, loaded back with
`weights_only=True` on restore), and one batched MLflow write into the trial's
child run. What ASHA ranks is `score_smooth`, an exponential moving average of
`score` (GAN metrics are noisy from one evaluation to the next); it is saved in
the checkpoint so a restored trial continues the same average.

A trial uses as many torch threads as it has CPUs, and records where it ran
as tags of its child run: `gan.node` (Ray node id), `gan.nodes` (short ids of
every node it started on, oldest first: more than one means it was restored
after a failure), `gan.device`, `gan.gpu_ids` and `gan.torch_threads`.
"""

from __future__ import annotations

import logging
import os
import tempfile

import ray
import torch
from mlflow.tracking import MlflowClient
from ray import tune

from gan_core import TrainConfig, train
from studies import tracking
from studies.runner import merge

STATE_FILE = "state.pt"


def resolve(base: dict, trial_config: dict) -> TrainConfig:
    """The run's TrainConfig: base values, then the trial's chosen values (see `runner.merge`)."""
    return TrainConfig.from_dict(merge(base, trial_config))


def trial_threads() -> int:
    """Torch threads for this trial: its CPU share, at least one."""
    cpus = tune.get_context().get_trial_resources().required_resources.get("CPU", 1)
    return max(1, int(cpus))


def placement_tags(client: MlflowClient, run_id: str, config: TrainConfig) -> dict:
    """Where this attempt of the trial runs, appended to the node history of earlier attempts."""
    node = ray.get_runtime_context().get_node_id()
    earlier = tracking.retry(client.get_run, run_id).data.tags.get("gan.nodes", "")
    device = config.device if config.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    return {"gan.node": node, "gan.nodes": ",".join(filter(None, [earlier, node[:12]])),
            "gan.device": device, "gan.gpu_ids": ",".join(map(str, ray.get_gpu_ids())) or "none",
            "gan.torch_threads": str(torch.get_num_threads())}


def gan_trainable(trial_config: dict, study: dict) -> None:
    """`study` holds the plan's fixed parts: base config, tracking URI, experiment and parent run ids, smoothing."""
    config = resolve(study["base"], trial_config)
    torch.set_num_threads(trial_threads())
    # one INFO line per checkpoint, forwarded to the driver, would bury the progress table
    logging.getLogger("ray.train._internal.storage").setLevel(logging.WARNING)
    ctx = tune.get_context()
    client = MlflowClient(study["tracking_uri"])
    run_id, existed = tracking.find_or_create_child(
        client, study["experiment_id"], study["parent_run_id"], study["name"],
        ctx.get_trial_id(), ctx.get_trial_name(), config.to_dict())
    tracking.set_tags(client, run_id, placement_tags(client, run_id, config))
    log = tracking.TrialLog(client, run_id, existed)

    state, smooth = None, {"score_smooth": None}
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as folder:
            state = torch.load(os.path.join(folder, STATE_FILE), weights_only=True)
        smooth["score_smooth"] = state.get("score_smooth")

    def report(payload: dict) -> None:
        metrics = dict(payload["metrics"])
        previous, alpha = smooth["score_smooth"], study["smoothing"]
        score = metrics["score"]
        smooth["score_smooth"] = score if previous is None else alpha * score + (1 - alpha) * previous
        metrics["score_smooth"] = smooth["score_smooth"]
        log.evaluation(payload["step"], metrics, payload["image"])
        if payload["state"] is None:
            tune.report(metrics)
            return
        with tempfile.TemporaryDirectory() as folder:
            torch.save({**payload["state"], "score_smooth": smooth["score_smooth"]}, os.path.join(folder, STATE_FILE))
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(folder))

    train(config, report, state)
