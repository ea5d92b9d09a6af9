"""The GAN training loop: `train(config, report, state=None) -> status`.

One round is `d_steps` D updates and `g_steps` G updates, in `config.order`.
Every `eval_every` rounds (and at the end) the loop calls `report(payload)`:

    {"step": int,                   # rounds done
     "status": "running" | "finished" | "diverged",
     "metrics": {name: float},      # loss_d, loss_g, d_real, d_fake, penalty,
                                    # the dataset's mode scores (modes_covered,
                                    # hq_ratio, reverse_kl, diversity, score),
                                    # collapsed, diverged, finished, timing
     "image": np.ndarray | None,    # (H, W, 3) uint8 sample grid or scatter
     "state": dict | None}          # pass back as `state` to resume exactly

The loop writes nothing itself: logging, checkpoint files and stopping belong
to the caller (the `studies` layer wraps this in a Ray Tune trainable). A NaN
or infinite loss ends the run with status "diverged" instead of an exception.
On the CPU a seed fixes everything: same seed, same losses; resuming from a
reported state continues exactly as the uninterrupted run would have.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn

from gan_core.config import TrainConfig
from gan_core.datasets import Dataset, load_dataset
from gan_core.images import image_grid, points_extent, scatter
from gan_core.losses import LOSSES, Loss, gradient_penalty
from gan_core.models import ARCHS

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
GRID_SAMPLES = 64
EVAL_SEED_OFFSET = 1_000_003  # the evaluation noise stream is separate from training's
RESUMABLE_CHANGES = {"max_steps", "max_seconds", "eval_every", "eval_samples", "device"}


@dataclass
class Run:
    """Everything the loop mutates; built by `build`, saved by `state_dict`."""
    config: TrainConfig
    device: torch.device
    data: Dataset
    loss: Loss
    g: nn.Module
    d: nn.Module
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    gen: torch.Generator  # data order, z, label targets, penalty interpolation
    step: int = 0
    d_updates: int = 0
    g_updates: int = 0
    elapsed: float = 0.0  # training seconds before this process (resumes keep counting)
    low_streak: int = 0  # evaluations in a row with diversity under the threshold
    sums: dict = field(default_factory=dict)  # metric -> (tensor sum, count) since the last evaluation


def make_optimizer(name: str, params, lr: float, betas) -> torch.optim.Optimizer:
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=betas)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr)
    return torch.optim.SGD(params, lr=lr)


def pick_device(name: str) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device: 'cuda' asked for but torch sees no CUDA device; use auto or cpu")
    return torch.device(name)


def build(config: TrainConfig) -> Run:
    torch.manual_seed(config.seed)
    data = load_dataset(config.dataset, config.image_size, config.data_root)
    device = pick_device(config.device)
    arch = ARCHS[config.arch]
    g, d = arch.g(config, data.shape).to(device), arch.d(config, data.shape).to(device)
    gen = torch.Generator().manual_seed(config.seed)
    return Run(config, device, data, LOSSES[config.loss], g, d,
               make_optimizer(config.opt_g, g.parameters(), config.lr_g, config.betas_g),
               make_optimizer(config.opt_d, d.parameters(), config.lr_d, config.betas_d), gen)


# --- data space <-> model space -------------------------------------------------

def _stats(run: Run):
    c = run.data.shape[0]
    mean = IMAGENET_MEAN if c == 3 else (sum(IMAGENET_MEAN) / 3,) * c
    std = IMAGENET_STD if c == 3 else (sum(IMAGENET_STD) / 3,) * c
    view = lambda v: torch.tensor(v, device=run.device).view(1, c, 1, 1)
    return view(mean), view(std)


def to_model(run: Run, x: torch.Tensor) -> torch.Tensor:
    """Real data as D sees it: points raw; images [0, 1] -> [-1, 1] or ImageNet-standardised."""
    if run.data.kind == "points":
        return x
    if run.config.input_norm == "tanh":
        return x * 2 - 1
    mean, std = _stats(run)
    return (x - mean) / std


def to_data(run: Run, y: torch.Tensor) -> torch.Tensor:
    """G output back in the dataset's space (images clamped to [0, 1]) for scoring and pictures."""
    if run.data.kind == "points":
        return y
    if run.config.input_norm == "tanh":
        return ((y + 1) / 2).clamp(0, 1)
    mean, std = _stats(run)
    return (y * std + mean).clamp(0, 1)


# --- one update each -------------------------------------------------------------

def noise(run: Run, n: int) -> torch.Tensor:
    return torch.randn(n, run.config.nz, generator=run.gen).to(run.device)


def targets(run: Run, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-example D targets drawn from the label ranges, with random real/fake flips."""
    c = run.config
    u = torch.rand(3, n, generator=run.gen)
    real_t = c.real_label[0] + (c.real_label[1] - c.real_label[0]) * u[0]
    fake_t = c.fake_label[0] + (c.fake_label[1] - c.fake_label[0]) * u[1]
    flip = u[2] < c.label_flip
    real_t, fake_t = torch.where(flip, fake_t, real_t), torch.where(flip, real_t, fake_t)
    return real_t.to(run.device), fake_t.to(run.device)


def _add(run: Run, **values: torch.Tensor) -> None:
    for key, value in values.items():
        total, count = run.sums.get(key, (0.0, 0))
        run.sums[key] = (total + value.detach().float(), count + 1)


def d_step(run: Run) -> None:
    c, n = run.config, run.config.batch_size
    real = to_model(run, run.data.sample(n, run.gen).to(run.device))
    with torch.no_grad():
        fake = run.g(noise(run, n))
    real_t, fake_t = targets(run, n) if run.loss.smoothing else (None, None)
    real_out, fake_out = run.d(real), run.d(fake)
    loss = run.loss.d(real_out, fake_out, real_t, fake_t)
    if run.loss.penalty == "gp":
        penalty = gradient_penalty(run.d, real, fake, run.gen)
        loss = loss + c.gp_weight * penalty
        _add(run, penalty=penalty)
    run.opt_d.zero_grad(set_to_none=True)
    loss.backward()
    run.opt_d.step()
    if run.loss.clip:
        with torch.no_grad():
            for p in run.d.parameters():
                p.clamp_(-c.clip_value, c.clip_value)
    squash = torch.sigmoid if run.loss.prob else (lambda t: t)
    _add(run, loss_d=loss, d_real=squash(real_out).mean(), d_fake=squash(fake_out).mean())
    run.d_updates += 1


def g_step(run: Run) -> None:
    loss = run.loss.g(run.d(run.g(noise(run, run.config.batch_size))))
    run.opt_g.zero_grad(set_to_none=True)
    loss.backward()
    run.opt_g.step()
    _add(run, loss_g=loss)
    run.g_updates += 1


def one_round(run: Run) -> None:
    c = run.config
    phases = [(d_step, c.d_steps), (g_step, c.g_steps)]
    for fn, times in phases if c.order == "d_first" else phases[::-1]:
        for _ in range(times):
            fn(run)
    run.step += 1


# --- evaluation ------------------------------------------------------------------

@torch.no_grad()
def generate(run: Run, n: int, seed: int) -> torch.Tensor:
    """n samples in data space from a fixed noise stream; G stays in train mode
    (batch statistics, as in the DCGAN reference) and runs in batch-size chunks."""
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(n, run.config.nz, generator=gen)
    chunks = [run.g(part.to(run.device)) for part in z.split(run.config.batch_size)]
    return to_data(run, torch.cat(chunks)).cpu()


def picture(run: Run, samples: torch.Tensor):
    if run.data.kind == "points":
        real = run.data.sample(1000, torch.Generator().manual_seed(0))
        return scatter(samples, real, points_extent(real))
    return image_grid(samples[:GRID_SAMPLES])


def evaluate(run: Run) -> tuple[dict, object]:
    c = run.config
    samples = generate(run, c.eval_samples, c.seed + EVAL_SEED_OFFSET)
    scores = run.data.score_samples(samples) if run.data.score_samples else {}
    low = scores.get("diversity", 1.0) < c.collapse_threshold
    run.low_streak = run.low_streak + 1 if low else 0
    return {**scores, "collapsed": float(run.low_streak >= 2)}, picture(run, samples)


def drain(run: Run) -> dict:
    """Means of the per-update metrics since the last evaluation; resets them."""
    means = {k: float(total / count) for k, (total, count) in run.sums.items()}
    run.sums = {}
    return means


# --- checkpointable state --------------------------------------------------------

def state_dict(run: Run) -> dict:
    state = {
        "config": run.config.to_dict(), "step": run.step, "elapsed": run.elapsed,
        "d_updates": run.d_updates, "g_updates": run.g_updates, "low_streak": run.low_streak,
        "g": run.g.state_dict(), "d": run.d.state_dict(),
        "opt_g": run.opt_g.state_dict(), "opt_d": run.opt_d.state_dict(),
        "rng_global": torch.get_rng_state(), "rng_train": run.gen.get_state(),
    }
    if run.device.type == "cuda":
        state["rng_cuda"] = torch.cuda.get_rng_state(run.device)
    return state


def load_state(run: Run, state: dict) -> None:
    changed = {k for k, v in state["config"].items() if run.config.to_dict().get(k) != v}
    if changed - RESUMABLE_CHANGES:
        raise ValueError(f"state: was saved with another config (differs in {', '.join(sorted(changed))}); "
                         f"only {', '.join(sorted(RESUMABLE_CHANGES))} may change on resume")
    for name in ("step", "elapsed", "d_updates", "g_updates", "low_streak"):
        setattr(run, name, state[name])
    run.g.load_state_dict(state["g"])
    run.d.load_state_dict(state["d"])
    run.opt_g.load_state_dict(state["opt_g"])
    run.opt_d.load_state_dict(state["opt_d"])
    torch.set_rng_state(state["rng_global"])
    run.gen.set_state(state["rng_train"])
    if "rng_cuda" in state and run.device.type == "cuda":
        torch.cuda.set_rng_state(state["rng_cuda"], run.device)


# --- the loop --------------------------------------------------------------------

def train(config: TrainConfig, report: Callable[[dict], None], state: dict | None = None) -> str:
    """Train until max_steps rounds or max_seconds; returns "finished" or "diverged"."""
    run = build(config)
    if state is not None:
        load_state(run, state)
    start = time.monotonic() - run.elapsed
    if state is not None and (run.step >= config.max_steps or _out_of_time(config, start)):
        return "finished"  # the saved run had already used its whole budget
    while True:
        tick, first = time.monotonic(), run.step
        while run.step < config.max_steps and not _out_of_time(config, start):
            one_round(run)
            if run.step % config.eval_every == 0:
                break
        status = _evaluate_and_report(run, report, start, first, time.monotonic() - tick)
        if status != "running":
            return status


def _out_of_time(config: TrainConfig, start: float) -> bool:
    return config.max_seconds > 0 and time.monotonic() - start >= config.max_seconds


def _evaluate_and_report(run: Run, report, start: float, last_eval: int, train_seconds: float) -> str:
    c = run.config
    losses = drain(run)
    rounds = max(run.step - last_eval, 1)
    timing = {"step": float(run.step), "d_updates": float(run.d_updates), "g_updates": float(run.g_updates),
              "sec_per_round": train_seconds / rounds}
    if not all(math.isfinite(v) for v in losses.values()):
        metrics = {**timing, "diverged": 1.0, "finished": 0.0, "collapsed": 0.0, "score": 0.0, "diversity": 0.0}
        report({"step": run.step, "status": "diverged", "metrics": metrics, "image": None, "state": None})
        return "diverged"
    tick = time.monotonic()
    scores, image = evaluate(run)
    timing["eval_seconds"] = time.monotonic() - tick
    done = run.step >= c.max_steps or _out_of_time(c, start)
    run.elapsed = time.monotonic() - start
    status = "finished" if done else "running"
    metrics = {**losses, **scores, **timing, "diverged": 0.0, "finished": float(done)}
    report({"step": run.step, "status": status, "metrics": metrics, "image": image, "state": state_dict(run)})
    return status
