"""Generator and discriminator architectures, chosen by name.

`ARCHS[name]` holds two builders, `g(config, shape)` and `d(config, shape)`,
and the kind of data the pair trains on. D returns raw outputs of shape (N,);
G maps z of shape (N, nz) to samples of `shape`.

- `dcgan`: Radford et al. 2016. G: ConvTranspose + BatchNorm + ReLU, tanh out;
  D: strided Conv + LeakyReLU(0.2), no norm on the first layer; weights
  N(0, 0.02), norm gains N(1, 0.02). Depth follows the image size (32 or 64).
- `mlp`: the small fully connected pair used for 2-D mixtures (PacGAN,
  VEEGAN): three hidden layers in G, three in D, PyTorch's default init;
  linear G output (points are not squashed).

Normalization is a registry too: `D_NORMS` (batch, spectral, layer, none) and
`G_NORMS` (batch, none). Spectral norm wraps every conv/linear layer of D
(Miyato et al. 2018) instead of inserting a layer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


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
    "spectral": _identity,  # applied to the weights by `finish_d`, not as a layer
    "layer": _layer,
    "none": _identity,
}


def init_weights(module: nn.Module) -> None:
    """DCGAN initialisation: conv/linear weights N(0, 0.02), norm gains N(1, 0.02)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.GroupNorm, nn.LayerNorm)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def finish_d(d_net: nn.Module, norm: str, dcgan_init: bool = True) -> nn.Module:
    """Initialise D (DCGAN init or PyTorch's default), then wrap its weights in spectral norm when asked."""
    if dcgan_init:
        init_weights(d_net)
    if norm == "spectral":
        for name, child in list(d_net.named_modules()):
            if isinstance(child, (nn.Conv2d, nn.Linear)):
                spectral_norm(child)
    return d_net


class Flatten1(nn.Module):
    """(N, 1, 1, 1) or (N, 1) -> (N,)"""

    def forward(self, x):
        return x.reshape(x.shape[0])


class DCGANGenerator(nn.Module):
    def __init__(self, nz: int, ngf: int, channels: int, size: int, norm: str):
        super().__init__()
        self.nz = nz
        mult = 2 ** (int(math.log2(size)) - 3)  # 4 for 32x32, 8 for 64x64
        layers = [nn.ConvTranspose2d(nz, ngf * mult, 4, 1, 0, bias=False), G_NORMS[norm](ngf * mult, 2), nn.ReLU(True)]
        while mult > 1:
            layers += [nn.ConvTranspose2d(ngf * mult, ngf * mult // 2, 4, 2, 1, bias=False),
                       G_NORMS[norm](ngf * mult // 2, 2), nn.ReLU(True)]
            mult //= 2
        layers += [nn.ConvTranspose2d(ngf, channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z):
        return self.net(z.view(z.shape[0], self.nz, 1, 1))


def dcgan_d(ndf: int, channels: int, size: int, norm: str) -> nn.Module:
    layers = [nn.Conv2d(channels, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)]
    mult, res = 1, size // 2
    while res > 4:
        layers += [nn.Conv2d(ndf * mult, ndf * mult * 2, 4, 2, 1, bias=False),
                   D_NORMS[norm](ndf * mult * 2, 2), nn.LeakyReLU(0.2, True)]
        mult, res = mult * 2, res // 2
    layers += [nn.Conv2d(ndf * mult, 1, 4, 1, 0, bias=False), Flatten1()]
    return nn.Sequential(*layers)


def build_dcgan_g(c, shape) -> nn.Module:
    g = DCGANGenerator(c.nz, c.ngf, shape[0], shape[1], c.norm_g)
    init_weights(g)
    return g


def build_dcgan_d(c, shape) -> nn.Module:
    return finish_d(dcgan_d(c.ndf, shape[0], shape[1], c.norm_d), c.norm_d)


def build_mlp_g(c, shape) -> nn.Module:
    h = c.ngf
    layers, width = [], c.nz
    for _ in range(3):
        layers += [nn.Linear(width, h), G_NORMS[c.norm_g](h, 1), nn.ReLU(True)]
        width = h
    return nn.Sequential(*layers, nn.Linear(h, shape[0]))  # PyTorch's default init


def build_mlp_d(c, shape) -> nn.Module:
    h = c.ndf
    layers = [nn.Linear(shape[0], h), nn.LeakyReLU(0.2, True)]
    for _ in range(2):
        layers += [nn.Linear(h, h), D_NORMS[c.norm_d](h, 1), nn.LeakyReLU(0.2, True)]
    return finish_d(nn.Sequential(*layers, nn.Linear(h, 1), Flatten1()), c.norm_d, dcgan_init=False)


@dataclass(frozen=True)
class Arch:
    g: Callable[..., nn.Module]
    d: Callable[..., nn.Module]
    data_kind: str  # "images" or "points"


ARCHS: dict[str, Arch] = {
    "dcgan": Arch(build_dcgan_g, build_dcgan_d, "images"),
    "mlp": Arch(build_mlp_g, build_mlp_d, "points"),
}
