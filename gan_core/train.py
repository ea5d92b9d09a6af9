"""The GAN training loop: `train(config, report, state=None) -> status`.

One round is `d_steps` D updates and `g_steps` G updates, in `config.order`
(for the `vae` baseline: one VAE update). The budget (`max_steps`) and the
evaluation interval (`eval_every`) count `config.budget` units: rounds, or
network updates (a 5:1 round is 6), so that trials of different D:G ratios get
the same work and are evaluated at the same points of it. At the first round
that reaches each multiple of `eval_every` (and at the end) the loop calls
`report(payload)`:

    {"step": int,                   # rounds done
     "work": int,                   # budget units done: rounds, or D + G updates
     "status": "running" | "finished" | "timed_out" | "diverged",
     "metrics": {name: float},      # loss_d, loss_g, d_real, d_fake, penalty,
                                    # the dataset's scores (modes_covered,
                                    # hq_ratio, reverse_kl, diversity, quality,
                                    # score), collapsed, aux_acc_*, cond_acc,
                                    # diverged, finished, timed_out, work, timing
     "image": np.ndarray | None,    # (H, W, 3) uint8 sample grid or scatter
     "modes": dict | None,          # datasets with known modes: {"counts": samples
                                    # per mode, "real": the real reference set's}
     "state": dict | None}          # pass back as `state` to resume exactly

The loop writes nothing itself: logging, checkpoint files and stopping belong
to the caller (the `studies` layer wraps this in a Ray Tune trainable). A NaN
or infinite loss ends the run with status "diverged" instead of an exception.
A run stopped by the `max_seconds` cap before its `max_steps` ends "timed_out"
(with `max_steps` 0 the time is the budget, and reaching it is "finished").
On the CPU a seed fixes everything: same seed, same losses; resuming from a
reported state continues exactly as the uninterrupted run would have;
`continue_with(state, config)` lets it continue under other learning rates and
another D:G ratio instead (population-based training). The updates themselves
live in `gan_core.steps`. A caller's own setup can wait for `started`, called
once the run is built, before the first round, with a preview: the sample grid
of the untrained G (a fresh start only; None on a resume), drawn without
touching any random stream of training. Run in a thread, the caller's setup
then shares the CPU with the rounds (whose torch ops release the GIL) rather
than with the build.

Devices: the run trains on `config.device` (a study's trial passes the device
Ray gave it); what follows from the device (precision, memory format, the
dataset copy's budget out of `train`'s `device_share`, the generator of the
per-update draws) is decided in `gan_core.devices`. A saved state is read
onto the CPU (`read_state`), whatever device it was saved from, and moved to
the run's device by `load_state`.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn

from gan_core import steps
from gan_core.steps import to_data
from gan_core.augment import parse_policy
from gan_core.config import TrainConfig
from gan_core.datasets import Dataset, load_dataset
from gan_core.devices import (capability, data_budget, device_generator, device_memory, pick_device, use_bf16,
                              use_channels_last)
from gan_core.evaluation import Evaluator, evaluate_samples, make_evaluator
from gan_core.heads import Discriminator, Generator, d_input_shape, finish_d, label_input, label_width
from gan_core.images import image_grid, points_extent, scatter
from gan_core.mode_scores import MODE_COUNTS, MODE_COUNTS_REAL
from gan_core.losses import LOSSES, Loss
from gan_core.models import ARCHS
from gan_core.vae import Encoder

GRID_SAMPLES = 64
EVAL_SEED_OFFSET = 1_000_003  # the evaluation noise stream is separate from training's
COLLAPSE_WINDOW = 3  # evaluations a new diversity high is measured against
RESUMABLE_CHANGES = {"max_steps", "max_seconds", "eval_every", "eval_samples", "metrics", "features", "device",
                     "data_root", "precision", "memory_format"}
# what population-based training changes when a member continues from a copied state (`continue_with`)
SCHEDULE_CHANGES = ("lr_d", "lr_g", "d_steps", "g_steps")


@dataclass
class Run:
    """Everything the loop mutates; built by `build`, saved by `state_dict`."""
    config: TrainConfig
    device: torch.device
    data: Dataset
    loss: Loss
    g: nn.Module
    d: nn.Module  # Discriminator, or the VAE's Encoder
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    gen: torch.Generator  # CPU: data order and labels (and on the CPU every other draw: `rand` is this generator)
    rand: torch.Generator  # z, targets, augmentation, penalty interpolation, VAE noise: on the run's device
    evaluator: Evaluator | None = None  # the real side of the evaluation metrics, fitted once
    g_ema: nn.Module | None = None  # EMA copy of G, when config.ema > 0
    policy: tuple = ()  # DiffAugment policies
    amp: bool = False  # forward passes under bf16 autocast (see `use_bf16`)
    channels_last: bool = False  # image tensors and conv weights in NHWC memory order (see `use_channels_last`)
    step: int = 0
    work: int = 0  # budget units done; counted round by round, so a D:G ratio that changes mid-run counts right
    d_updates: int = 0
    g_updates: int = 0
    d_skipped: int = 0  # D updates skipped by the adaptive-D rule
    elapsed: float = 0.0  # training seconds before this process (resumes keep counting)
    low_streak: int = 0  # collapse-like evaluations in a row (see `collapse_like`)
    recent_diversity: list = field(default_factory=list)  # diversity at the last COLLAPSE_WINDOW evaluations
    sums: dict = field(default_factory=dict)  # metric -> (tensor sum, count) since the last evaluation


def make_optimizer(name: str, params, lr: float, betas) -> torch.optim.Optimizer:
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=betas)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr)
    return torch.optim.SGD(params, lr=lr)


def build_networks(c: TrainConfig, data: Dataset) -> tuple[nn.Module, nn.Module]:
    """G and D (or decoder and encoder) for this config and dataset, initialised."""
    arch = ARCHS[c.arch]
    conditioned = c.conditioning != "none"
    embed = label_input(c.label_input, data.n_classes, data.multi_label, c.embed_dim) if conditioned else None
    width = label_width(c.label_input, data.n_classes, c.embed_dim) if conditioned else 0
    g = Generator(arch.g(c, data.shape, c.nz + width), embed)
    if not arch.adversarial:
        return g, Encoder(*arch.d(c, data.shape), c.nz)
    body, features = arch.d(c, d_input_shape(c, data.shape, data.n_classes))
    d = Discriminator(body, features, pack=c.pack, mbstd=c.mbstd, conditioning=c.conditioning,
                      n_classes=data.n_classes, multi_label=data.multi_label, embed_dim=c.embed_dim,
                      label_input_kind=c.label_input)
    return g, finish_d(d, arch.init, c.norm_d)


def build(config: TrainConfig, device_share: float = 1.0) -> Run:
    """The run of `config`: dataset, networks, optimizers, generators and evaluator, on its device.
    `device_share`: the share of the device's memory the run may plan for (see `data_budget`)."""
    torch.manual_seed(config.seed)
    device = pick_device(config.device)
    data = load_dataset(config.dataset, config.image_size, config.data_root)
    data = data.to(device, data_budget(device_memory(device), device_share))  # whole on the GPU when it fits
    g, d = build_networks(config, data)
    channels_last = use_channels_last(config, device.type, data.kind)
    memory = torch.channels_last if channels_last else torch.contiguous_format
    g, d = g.to(device, memory_format=memory), d.to(device, memory_format=memory)
    g_ema = copy.deepcopy(g).requires_grad_(False) if config.ema > 0 else None
    gen = torch.Generator().manual_seed(config.seed)
    evaluator = make_evaluator(data, config.eval_samples, config.metrics, config.features,
                               (config.dataset, config.image_size, config.data_root), device)
    return Run(config, device, data, LOSSES[config.loss], g, d,
               make_optimizer(config.opt_g, g.parameters(), config.lr_g, config.betas_g),
               make_optimizer(config.opt_d, d.parameters(), config.lr_d, config.betas_d), gen,
               device_generator(device, config.seed, gen), evaluator=evaluator, g_ema=g_ema,
               policy=parse_policy(config.diffaug), amp=use_bf16(config.precision, device.type, capability(device)),
               channels_last=channels_last)


# --- evaluation ------------------------------------------------------------------

@torch.no_grad()
def generate(run: Run, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """n samples in data space from a fixed noise stream (and their labels when
    conditioned, drawn from the data's label distribution), from the EMA copy of
    G when there is one. G stays in train mode (batch statistics, as in the
    DCGAN reference) and runs in batch-size chunks."""
    gen = torch.Generator().manual_seed(seed)
    z = steps.latent(run.config, n, gen)
    y = run.data.sample_labeled(n, gen)[1] if run.config.conditioning != "none" else None
    g = run.g_ema if run.g_ema is not None else run.g
    size = run.config.batch_size
    with steps.autocast(run):
        chunks = [g(z[i:i + size].to(run.device), None if y is None else y[i:i + size].to(run.device)).float()
                  for i in range(0, n, size)]
    return to_data(run, torch.cat(chunks)).cpu(), y


def picture(run: Run, samples: torch.Tensor):
    if run.data.kind == "points":
        real = run.data.sample(1000, torch.Generator().manual_seed(0))
        return scatter(samples, real, points_extent(real))
    return image_grid(samples[:GRID_SAMPLES])


def preview(run: Run):
    """The sample grid (or scatter) of G as it is now, from the evaluation noise stream; every random stream of
    training is left as it was (a G with dropout draws from the global one, which is forked here)."""
    with torch.random.fork_rng(devices=[run.device] if run.device.type == "cuda" else []):
        samples, _ = generate(run, GRID_SAMPLES, run.config.seed + EVAL_SEED_OFFSET)
    return picture(run, samples)


def label_accuracy(predicted: torch.Tensor, wanted: torch.Tensor, multi_label: bool) -> float:
    """Class ids: share equal. Multi-hot tags: share of the wanted tags present. Compared where the
    labels were read (the reference model's device), wherever the wanted ones were drawn."""
    wanted = wanted.to(predicted.device)
    if not multi_label:
        return float((predicted == wanted).float().mean())
    wanted = wanted > 0.5
    return float(((predicted > 0.5) & wanted).sum() / wanted.sum().clamp(min=1))


def evaluate(run: Run) -> tuple[dict, object, dict | None]:
    """Scores (floats), the picture, and the mode histograms where the dataset has known modes."""
    c = run.config
    samples, labels = generate(run, c.eval_samples, c.seed + EVAL_SEED_OFFSET)
    scores = evaluate_samples(run.evaluator, run.data, samples)
    counts, real = scores.pop(MODE_COUNTS, None), scores.pop(MODE_COUNTS_REAL, None)
    modes = None if counts is None else {"counts": counts, "real": real}
    if labels is not None and run.data.read_labels is not None:
        scores["cond_acc"] = label_accuracy(run.data.read_labels(samples), labels, run.data.multi_label)
    run.low_streak = run.low_streak + 1 if collapse_like(run, scores) else 0
    run.recent_diversity = [*run.recent_diversity, scores.get("diversity", 1.0)][-COLLAPSE_WINDOW:]
    return {**scores, "collapsed": float(run.low_streak >= 2)}, picture(run, samples), modes


def collapse_like(run: Run, scores: dict) -> bool:
    """An evaluation that looks like mode collapse: low diversity, plausible samples
    (quality at least `collapse_quality`: an untrained G's samples are alike too, but
    poor), and no progress: diversity no higher than at the last COLLAPSE_WINDOW
    evaluations (a run that is escaping its early collapse sets new highs)."""
    c, diversity = run.config, scores.get("diversity", 1.0)
    rising = bool(run.recent_diversity) and diversity > max(run.recent_diversity)
    return diversity < c.collapse_threshold and scores.get("quality", 1.0) >= c.collapse_quality and not rising


def drain(run: Run) -> dict:
    """Means of the per-update metrics since the last evaluation; resets them."""
    means = {k: float(total / count) for k, (total, count) in run.sums.items()}
    run.sums = {}
    return means


# --- checkpointable state --------------------------------------------------------

COUNTERS = ("step", "work", "elapsed", "d_updates", "g_updates", "d_skipped", "low_streak", "recent_diversity")


def state_dict(run: Run) -> dict:
    state = {
        "config": run.config.to_dict(), **{name: getattr(run, name) for name in COUNTERS},
        "g": run.g.state_dict(), "d": run.d.state_dict(),
        "opt_g": run.opt_g.state_dict(), "opt_d": run.opt_d.state_dict(),
        "rng_global": torch.get_rng_state(), "rng_train": run.gen.get_state(),
    }
    if run.g_ema is not None:
        state["g_ema"] = run.g_ema.state_dict()
    if run.device.type == "cuda":
        state["rng_cuda"] = torch.cuda.get_rng_state(run.device)
    if run.rand is not run.gen:
        state["rng_device"] = run.rand.get_state()  # a CPU tensor, as every RNG state
    return state


def read_state(path) -> dict:
    """A state saved with `torch.save` (a reported state, possibly with the caller's additions), read onto
    the CPU whatever device its tensors were saved from (weights only); `load_state` moves them."""
    return torch.load(path, map_location="cpu", weights_only=True)


def load_state(run: Run, state: dict) -> None:
    saved = state["config"]
    changed = {k for k, v in run.config.to_dict().items() if k not in saved or saved[k] != v}
    if changed - RESUMABLE_CHANGES:
        raise ValueError(f"state: was saved with another config (differs in {', '.join(sorted(changed))}); "
                         f"only {', '.join(sorted(RESUMABLE_CHANGES))} may change on resume")
    for name in COUNTERS:
        setattr(run, name, state[name] if name != "work" else state.get("work", _work_of(saved, state["step"])))
    run.g.load_state_dict(state["g"])
    run.d.load_state_dict(state["d"])
    if run.g_ema is not None:
        run.g_ema.load_state_dict(state["g_ema"])
    run.opt_g.load_state_dict(state["opt_g"])
    run.opt_d.load_state_dict(state["opt_d"])
    for opt, lr in ((run.opt_g, run.config.lr_g), (run.opt_d, run.config.lr_d)):
        for group in opt.param_groups:  # the saved lr on a plain resume; the new one after `continue_with`
            group["lr"] = lr
    torch.set_rng_state(state["rng_global"].cpu())  # RNG states are CPU tensors wherever the run trains
    run.gen.set_state(state["rng_train"].cpu())
    if "rng_cuda" in state and run.device.type == "cuda":  # saved on CUDA, restored only there
        torch.cuda.set_rng_state(state["rng_cuda"].cpu(), run.device)
    if "rng_device" in state and run.rand is not run.gen:
        run.rand.set_state(state["rng_device"].cpu())


def _work_of(saved_config: dict, step: int) -> int:
    """Budget units of a state saved before work was counted: every round at its config's ratio."""
    return step * work_per_round(TrainConfig.from_dict(saved_config))


def continue_with(state: dict, config: TrainConfig) -> dict:
    """The state, to be continued under `config`'s learning rates and D:G ratio (PBT's explore step
    after a member copied another's state); `load_state` still refuses any other difference."""
    values = config.to_dict()
    return {**state, "config": {**state["config"], **{k: values[k] for k in SCHEDULE_CHANGES}}}


# --- the loop --------------------------------------------------------------------

def train(config: TrainConfig, report: Callable[[dict], None], state: dict | None = None,
          device_share: float = 1.0, started: Callable[[object], None] | None = None) -> str:
    """Train until max_steps budget units or max_seconds; returns "finished", "timed_out" or "diverged".
    `device_share`: the share of the device's memory the run may plan for (a trial's GPU fraction).
    `started(preview)`, when given, is called once the run is built (and `state` loaded), before the first
    round: `preview` is the untrained G's sample grid on a fresh start, None on a resume."""
    run = build(config, device_share)
    if state is not None:
        load_state(run, state)
    if started is not None:
        started(preview(run) if state is None else None)
    start = time.monotonic() - run.elapsed
    if state is not None and _end(run, start) is not None:
        return _end(run, start)  # the saved run had already used its whole budget
    per_round = work_per_round(config)
    while True:
        tick, first = time.monotonic(), run.step
        while _end(run, start) is None:
            steps.one_round(run)
            run.work += per_round
            if run.work // config.eval_every > (run.work - per_round) // config.eval_every:
                break
        status = _evaluate_and_report(run, report, start, first, time.monotonic() - tick)
        if status != "running":
            return status


def work_per_round(config: TrainConfig) -> int:
    """Budget units one round costs: 1 round, or its D + G network updates (a VAE round is one update)."""
    if config.budget == "rounds":
        return 1
    return config.d_steps + config.g_steps if ARCHS[config.arch].adversarial else 1


def work_done(run: Run) -> int:
    return run.work


def _end(run: Run, start: float) -> str | None:
    """"finished" once the budget is spent, "timed_out" when the time cap stops a step budget, else None."""
    c = run.config
    if c.max_steps and work_done(run) >= c.max_steps:
        return "finished"
    if c.max_seconds > 0 and time.monotonic() - start >= c.max_seconds:
        return "finished" if c.max_steps == 0 else "timed_out"
    return None


def _evaluate_and_report(run: Run, report, start: float, last_eval: int, train_seconds: float) -> str:
    c = run.config
    losses = drain(run)
    rounds = max(run.step - last_eval, 1)
    timing = {"step": float(run.step), "work": float(work_done(run)), "d_updates": float(run.d_updates),
              "g_updates": float(run.g_updates), "sec_per_round": train_seconds / rounds}
    if c.d_skip_below > 0:
        timing["d_skip_rate"] = run.d_skipped / max(run.d_skipped + run.d_updates, 1)
    if not all(math.isfinite(v) for v in losses.values()):
        metrics = {**timing, "diverged": 1.0, "finished": 0.0, "timed_out": 0.0, "collapsed": 0.0, "score": 0.0,
                   "diversity": 0.0}
        report({"step": run.step, "work": work_done(run), "status": "diverged", "metrics": metrics, "image": None,
                "modes": None, "state": None})
        return "diverged"
    tick = time.monotonic()
    scores, image, modes = evaluate(run)
    timing["eval_seconds"] = time.monotonic() - tick
    status = _end(run, start) or "running"
    run.elapsed = time.monotonic() - start
    metrics = {**losses, **scores, **timing, "diverged": 0.0, "finished": float(status == "finished"),
               "timed_out": float(status == "timed_out")}
    report({"step": run.step, "work": work_done(run), "status": status, "metrics": metrics, "image": image,
            "modes": modes, "state": state_dict(run)})
    return status
