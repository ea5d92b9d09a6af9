"""Building blocks shared by the architectures: normalization registries,
DCGAN initialisation, and the minibatch-stddev layer.

`G_NORMS` / `D_NORMS` map a name to `norm(channels, dims)`, dims 2 for conv
features (N, C, H, W) and 1 for vectors (N, F). Spectral norm is listed in
`D_NORMS` as an identity: it wraps D's weights (`heads.finish_d`) instead of
adding a layer.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import nn


def _batch(channels: int, dims: int) -> nn.Module:
    return nn.BatchNorm2d(channels) if dims == 2 else nn.BatchNorm1d(channels)


def _layer(channels: int, dims: int) -> nn.Module:
    # layer norm over (C, H, W) for conv features, over features for vectors
    return nn.GroupNorm(1, channels) if dims == 2 else nn.LayerNorm(channels)


def _identity(channels: int, dims: int) -> nn.Module:
    return nn.Identity()


G_NORMS: dict[str, Callable[[int, int], nn.Module]] = {"batch": _batch, "none": _identity}
D_NORMS: dict[str, Callable[[int, int], nn.Module]] = {
    "batch": _batch,
    "spectral": _identity,
    "layer": _layer,
    "none": _identity,
}


def init_weights(module: nn.Module) -> None:
    """DCGAN initialisation: conv/linear/embedding weights N(0, 0.02), norm gains N(1, 0.02)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.GroupNorm, nn.LayerNorm)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def doublings(size: int) -> int:
    """How many x2 steps lie between 4x4 and size x size (3 for 32, 4 for 64)."""
    return int(math.log2(size)) - 2


class Reshape(nn.Module):
    def __init__(self, *shape: int):
        super().__init__()
        self.shape = shape

    def forward(self, x):
        return x.reshape(x.shape[0], *self.shape)


class MinibatchStd(nn.Module):
    """Minibatch standard deviation (Karras et al. 2018): the std of each feature
    over a group of samples, averaged to one number per group and appended as an
    extra channel (maps) or feature (vectors), so D can see a batch lacking variety."""

    def __init__(self, group: int = 4):
        super().__init__()
        self.group = group

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        g = math.gcd(min(self.group, n), n)
        y = x.reshape(g, n // g, *x.shape[1:])
        std = (y.var(dim=0, unbiased=False) + 1e-8).sqrt()  # (n/g, ...) per feature
        std = std.flatten(1).mean(1)  # one value per group member position
        std = std.repeat(g)  # back to n, matching x's order (sample i is in position i % (n/g))
        extra = std.reshape(n, 1, *([1] * (x.dim() - 2)))
        return torch.cat([x, extra.expand(n, 1, *x.shape[2:])], 1)
