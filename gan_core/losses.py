"""GAN loss families as a registry of small pure functions.

Every family gives two functions with one shared signature each:

    d(real_out, fake_out, real_t, fake_t) -> scalar D loss
    g(fake_out)                           -> scalar G loss

`*_out` are raw D outputs of shape (N,); `real_t` / `fake_t` are per-example
targets (label smoothing and flips are sampled by the trainer; families that
cannot use targets ignore them). What a family needs beyond the two functions
(a gradient penalty, weight clipping) and what it allows (targets, adaptive D)
is data on its `Loss` entry: the trainer applies it in one place, and
`TrainConfig` rejects a knob of LOSS_OPTIONS set on a loss it does not apply
to (`Loss.options`).

References: bce / minimax (Goodfellow et al. 2014: the non-saturating and the
original G loss); wgan (Arjovsky et al. 2017, weight clipping); wgan-gp
(Gulrajani et al. 2017); lsgan (Mao et al. 2017, a=0 b=1 c=1); hinge (Lim & Ye
2017, Miyato et al. 2018). `r1_penalty` (Mescheder et al. 2018) is the
`r1_weight` option, usable with any family.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor


# TrainConfig knobs that apply to some losses only (see Loss.options), and what they are
LOSS_OPTIONS = {
    "real_label": "label smoothing and flips apply",
    "fake_label": "label smoothing and flips apply",
    "label_flip": "label smoothing and flips apply",
    "clip_value": "weight clipping applies",
    "gp_weight": "the gradient penalty applies",
    "d_skip_below": "adaptive D (a D loss with a floor) applies",
}


@dataclass(frozen=True)
class Loss:
    d: Callable[[Tensor, Tensor, Tensor, Tensor], Tensor]
    g: Callable[[Tensor], Tensor]
    prob: bool  # D output is a logit: report sigmoid(out) as D's probability
    smoothing: bool  # uses real_t / fake_t, so label smoothing and flips apply
    penalty: str = "none"  # "gp": add gp_weight * gradient penalty to the D loss
    clip: bool = False  # clip D weights to [-clip_value, clip_value] after each D update
    floor: bool = False  # the D loss is >= 0 (bce, minimax: for targets in [0, 1]), so adaptive D's threshold applies

    @property
    def options(self) -> tuple[str, ...]:
        """The knobs of LOSS_OPTIONS that apply to this loss."""
        knobs = ["real_label", "fake_label", "label_flip"] if self.smoothing else []
        knobs += ["clip_value"] if self.clip else []
        knobs += ["gp_weight"] if self.penalty == "gp" else []
        knobs += ["d_skip_below"] if self.floor else []
        return tuple(knobs)


def bce_d(real_out, fake_out, real_t, fake_t):
    return (F.binary_cross_entropy_with_logits(real_out, real_t)
            + F.binary_cross_entropy_with_logits(fake_out, fake_t))


def non_saturating_g(fake_out):
    return F.softplus(-fake_out).mean()  # -log D(G(z))


def minimax_g(fake_out):
    return -F.softplus(fake_out).mean()  # log(1 - D(G(z)))


def wasserstein_d(real_out, fake_out, real_t, fake_t):
    return fake_out.mean() - real_out.mean()


def wasserstein_g(fake_out):
    return -fake_out.mean()


def least_squares_d(real_out, fake_out, real_t, fake_t):
    return 0.5 * ((real_out - real_t) ** 2).mean() + 0.5 * ((fake_out - fake_t) ** 2).mean()


def least_squares_g(fake_out):
    return 0.5 * ((fake_out - 1.0) ** 2).mean()


def hinge_d(real_out, fake_out, real_t, fake_t):
    return F.relu(1.0 - real_out).mean() + F.relu(1.0 + fake_out).mean()


LOSSES: dict[str, Loss] = {
    "bce": Loss(bce_d, non_saturating_g, prob=True, smoothing=True, floor=True),
    "minimax": Loss(bce_d, minimax_g, prob=True, smoothing=True, floor=True),
    "wgan": Loss(wasserstein_d, wasserstein_g, prob=False, smoothing=False, clip=True),
    "wgan-gp": Loss(wasserstein_d, wasserstein_g, prob=False, smoothing=False, penalty="gp"),
    "lsgan": Loss(least_squares_d, least_squares_g, prob=False, smoothing=True, floor=True),
    "hinge": Loss(hinge_d, wasserstein_g, prob=False, smoothing=False, floor=True),
}


def gradient_penalty(critic: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor,
                     generator: torch.Generator) -> Tensor:
    """WGAN-GP: E[(||grad D(x_hat)||_2 - 1)^2] on random interpolates of real and fake.
    With packing, the norm is taken over each packed input (all its samples)."""
    shape = (real.shape[0],) + (1,) * (real.dim() - 1)
    alpha = torch.rand(shape, generator=generator, device=generator.device).to(real.device)
    x_hat = (alpha * real.detach() + (1 - alpha) * fake.detach()).requires_grad_(True)
    out = critic(x_hat)
    (grad,) = torch.autograd.grad(out.sum(), x_hat, create_graph=True)
    return ((grad.reshape(out.shape[0], -1).norm(2, dim=1) - 1.0) ** 2).mean()


def r1_penalty(real_out: Tensor, real_in: Tensor) -> Tensor:
    """R1 (Mescheder et al. 2018): E ||grad_x D(x)||^2 on real data; `real_in` must require grad."""
    (grad,) = torch.autograd.grad(real_out.sum(), real_in, create_graph=True)
    return grad.reshape(real_out.shape[0], -1).pow(2).sum(1).mean()
