"""The non-adversarial baseline: a convolutional VAE (Kingma & Welling 2014).

The decoder is the `dcgan` generator (so samples come out exactly as a GAN's
do and are scored by the same metrics); the encoder is the `dcgan` D body
followed by a linear layer to the posterior mean and log-variance. One update
minimises, per example and averaged over the batch,

    loss = sum_pixels (x_hat - x)^2 / 2  +  kl_weight * KL(q(z|x) || N(0, I))

(a Gaussian decoder with unit variance in model space, beta-VAE weighting;
Higgins et al. 2017). Both networks step on the same loss, the decoder with
`opt_g`/`lr_g`, the encoder with `opt_d`/`lr_d`. Samples: the decoder applied
to z ~ N(0, I).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from gan_core.layers import init_weights


class Encoder(nn.Module):
    def __init__(self, body: nn.Module, features_shape: tuple, nz: int):
        super().__init__()
        self.body = body
        self.head = nn.Linear(math.prod(features_shape), 2 * nz)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.head(self.body(x).flatten(1)).chunk(2, dim=1)
        return mu, logvar.clamp(-30.0, 20.0)


def vae_loss(decoder: nn.Module, encoder: Encoder, x: torch.Tensor, gen: torch.Generator,
             kl_weight: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(total, reconstruction, KL), each a mean over the batch of per-example sums."""
    mu, logvar = encoder(x)
    eps = torch.randn(mu.shape, generator=gen, device=gen.device).to(mu.device)
    x_hat = decoder(mu + eps * (0.5 * logvar).exp())
    mu, logvar, x_hat = mu.float(), logvar.float(), x_hat.float()  # fp32 losses under mixed precision
    recon = 0.5 * (x_hat - x).pow(2).flatten(1).sum(1).mean()
    kl = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(1).mean()
    return recon + kl_weight * kl, recon, kl
