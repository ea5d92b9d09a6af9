"""N trials of the bare loop at once on one machine, packed by Ray Tune as a
study packs them (`tune.with_resources`: the CPUs and the GPU fraction of
`--cpus-per-trial` / `--gpus-per-trial`), and their aggregate training
throughput. Used by benchmarks/concurrency.py; not a script.

Each trial runs `gan_core.train` with `torch.set_num_threads(threads)` and
reports, at each evaluation, the loop's own `sec_per_round` (training time
per round, evaluations excluded) to Tune; no MLflow, no checkpoints (their cost
is benchmarks/overhead.py's subject). A trial's rate is the median over its
evaluations but the first and the last (when it has more than two), when the
other trials are running too; the aggregate is the sum over trials.
"""

from __future__ import annotations

import logging
import os
import statistics
import sys
import tempfile

import torch

from gan_core import TrainConfig

from gan_core.train import train


def images_per_second(config: TrainConfig, sec_per_round: float) -> float:
    """Real images D sees per second of training: batch x D updates per round."""
    return config.batch_size * config.d_steps / sec_per_round


def bare_rate(config: TrainConfig, threads: int) -> float:
    """One trial in this process: images/s over its evaluations (see `steady`)."""
    torch.set_num_threads(threads)
    seconds = []
    train(config, lambda payload: seconds.append(payload["metrics"]["sec_per_round"]))
    return images_per_second(config, steady(seconds))


def steady(seconds: list[float]) -> float:
    return statistics.median(seconds[1:-1] if len(seconds) > 2 else seconds)


def packed_trial(trial: dict) -> None:
    """A Tune function trainable: the bare loop, each evaluation's `sec_per_round` reported."""
    from ray import tune

    torch.set_num_threads(trial["threads"])
    config = TrainConfig.from_dict(trial["config"])
    train(config, lambda payload: tune.report({"sec_per_round": payload["metrics"]["sec_per_round"],
                                               "rounds": payload["step"]}))


def packed_rates(config: TrainConfig, trials: int, cpus: float, gpus: float, threads: int) -> list[float]:
    """Images/s of each of `trials` trials (seeds 0..trials-1) run at once with these resources each."""
    import ray
    from ray import cloudpickle, tune

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers need not find this file
    if not ray.is_initialized():
        ray.init(num_cpus=os.cpu_count(), num_gpus=torch.cuda.device_count(), include_dashboard=False,
                 logging_level=logging.WARNING)
    space = {"threads": threads,
             "config": tune.grid_search([config.replace(seed=s).to_dict() for s in range(trials)])}
    with tempfile.TemporaryDirectory(prefix="packed-") as storage:
        tuner = tune.Tuner(tune.with_resources(packed_trial, {"cpu": cpus, "gpu": gpus}), param_space=space,
                           run_config=tune.RunConfig(storage_path=storage, verbose=0))
        results = tuner.fit()
        rates = []
        for result in results:
            if result.error is not None:
                raise RuntimeError(f"a packed trial failed: {result.error}")
            rates.append(images_per_second(config, steady(list(result.metrics_dataframe["sec_per_round"]))))
    return rates
