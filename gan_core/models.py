"""Generator and discriminator architectures, chosen by name.

`ARCHS[name]` holds two builders, the kind of data the pair trains on, and the
knobs it uses of those only some architectures use (`Arch.knobs`, `d_norms`):

    g(config, shape, nz_in) -> nn.Module   # (N, nz_in) latents -> samples of `shape`
    d(config, shape)        -> (body, features_shape)
                                           # body: samples of `shape` -> feature
                                           # maps (N, C, H, W) or vectors (N, F)

`gan_core.heads.Discriminator` puts every body under the same heads (packing,
minibatch stddev, the real/fake output, conditioning), so each body stops where
its architecture's last layer would start.

- `dcgan`: Radford et al. 2016. G: ConvTranspose + BatchNorm + ReLU, tanh out;
  D: strided Conv + LeakyReLU(0.2), no norm on the first layer, down to 4x4
  (its final 4x4 conv is the linear head); weights N(0, 0.02), norm gains
  N(1, 0.02). Depth follows the image size (32 or 64).
- `dcgan-deep`: dcgan with one more 3x3 stride-1 conv block in G (before the
  output layer) and in D (after the first layer).
- `upsample`: G is Linear -> 4x4, then nearest Upsample + 3x3 Conv blocks (no
  transposed convs, so no checkerboard artifacts; Odena et al. 2016); D is
  strided convs with Dropout(0.3) after every block.
- `resnet`: the small SNGAN ResNet pair (Miyato et al. 2018), see
  `gan_core.resnet`.
- `vae`: not a GAN: the dcgan generator as decoder and the dcgan D body as
  encoder (see `gan_core.vae`), the non-adversarial baseline. It uses none of
  the GAN updates' knobs (GAN_KNOBS) and they keep their defaults on it, as
  `kl_weight` does on the GANs; its encoder takes norm_d batch, layer or none.
- `mlp`: the small fully connected pair used for 2-D mixtures (PacGAN,
  VEEGAN): three hidden layers each; linear G output (points are not squashed).

Normalization is a registry too: `D_NORMS` (batch, spectral, layer, none) and
`G_NORMS` (batch, none). Spectral norm wraps every conv/linear layer of D
(Miyato et al. 2018) instead of inserting a layer; both live in
`gan_core.layers`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from torch import nn

from gan_core import resnet
from gan_core.layers import D_NORMS, G_NORMS, Reshape, doublings, init_weights

__all__ = ["ARCHS", "Arch", "D_NORMS", "G_NORMS", "GAN_KNOBS", "VAE_KNOBS", "arch_knobs"]


# --- dcgan and dcgan-deep ---------------------------------------------------------

def dcgan_g(c, shape, nz_in: int, extra_block: bool = False) -> nn.Module:
    channels, size = shape[0], shape[1]
    norm = G_NORMS[c.norm_g]
    mult = 2 ** (doublings(size) - 1)  # 4 for 32x32, 8 for 64x64
    layers = [Reshape(nz_in, 1, 1), nn.ConvTranspose2d(nz_in, c.ngf * mult, 4, 1, 0, bias=False),
              norm(c.ngf * mult, 2), nn.ReLU(True)]
    while mult > 1:
        layers += [nn.ConvTranspose2d(c.ngf * mult, c.ngf * mult // 2, 4, 2, 1, bias=False),
                   norm(c.ngf * mult // 2, 2), nn.ReLU(True)]
        mult //= 2
    if extra_block:
        layers += [nn.Conv2d(c.ngf, c.ngf, 3, 1, 1, bias=False), norm(c.ngf, 2), nn.ReLU(True)]
    layers += [nn.ConvTranspose2d(c.ngf, channels, 4, 2, 1, bias=False), nn.Tanh()]
    net = nn.Sequential(*layers)
    init_weights(net)
    return net


def dcgan_d(c, shape, extra_block: bool = False):
    channels, size = shape[0], shape[1]
    norm = D_NORMS[c.norm_d]
    layers = [nn.Conv2d(channels, c.ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)]
    if extra_block:
        layers += [nn.Conv2d(c.ndf, c.ndf, 3, 1, 1, bias=False), norm(c.ndf, 2), nn.LeakyReLU(0.2, True)]
    mult, res = 1, size // 2
    while res > 4:
        layers += [nn.Conv2d(c.ndf * mult, c.ndf * mult * 2, 4, 2, 1, bias=False),
                   norm(c.ndf * mult * 2, 2), nn.LeakyReLU(0.2, True)]
        mult, res = mult * 2, res // 2
    return nn.Sequential(*layers), (c.ndf * mult, 4, 4)


def deep_g(c, shape, nz_in):
    return dcgan_g(c, shape, nz_in, extra_block=True)


def deep_d(c, shape):
    return dcgan_d(c, shape, extra_block=True)


# --- upsample -------------------------------------------------------------------

def upsample_g(c, shape, nz_in: int) -> nn.Module:
    channels, size = shape[0], shape[1]
    norm = G_NORMS[c.norm_g]
    mult = 2 ** (doublings(size) - 1)
    layers = [nn.Linear(nz_in, c.ngf * mult * 16, bias=False), Reshape(c.ngf * mult, 4, 4),
              norm(c.ngf * mult, 2), nn.ReLU(True)]
    while mult > 1:
        layers += [nn.Upsample(scale_factor=2, mode="nearest"),
                   nn.Conv2d(c.ngf * mult, c.ngf * mult // 2, 3, 1, 1, bias=False),
                   norm(c.ngf * mult // 2, 2), nn.ReLU(True)]
        mult //= 2
    layers += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c.ngf, channels, 3, 1, 1), nn.Tanh()]
    net = nn.Sequential(*layers)
    init_weights(net)
    return net


def upsample_d(c, shape):
    channels, size = shape[0], shape[1]
    norm = D_NORMS[c.norm_d]
    layers = [nn.Conv2d(channels, c.ndf, 4, 2, 1), nn.LeakyReLU(0.2, True), nn.Dropout(0.3)]
    mult, res = 1, size // 2
    while res > 4:
        layers += [nn.Conv2d(c.ndf * mult, c.ndf * mult * 2, 4, 2, 1), norm(c.ndf * mult * 2, 2),
                   nn.LeakyReLU(0.2, True), nn.Dropout(0.3)]
        mult, res = mult * 2, res // 2
    return nn.Sequential(*layers), (c.ndf * mult, 4, 4)


# --- mlp ------------------------------------------------------------------------

def mlp_g(c, shape, nz_in: int) -> nn.Module:
    layers, width = [], nz_in
    for _ in range(3):
        layers += [nn.Linear(width, c.ngf), G_NORMS[c.norm_g](c.ngf, 1), nn.ReLU(True)]
        width = c.ngf
    return nn.Sequential(*layers, nn.Linear(c.ngf, shape[0]))  # PyTorch's default init


def mlp_d(c, shape):
    layers = [nn.Linear(shape[0], c.ndf), nn.LeakyReLU(0.2, True)]
    for _ in range(2):
        layers += [nn.Linear(c.ndf, c.ndf), D_NORMS[c.norm_d](c.ndf, 1), nn.LeakyReLU(0.2, True)]
    return nn.Sequential(*layers), (c.ndf,)


# The TrainConfig knobs of the adversarial updates (gan_core.steps): the D and G steps, their loss and schedule,
# conditioning, packing, minibatch stddev, augmentation of what D sees. The VAE update reads none of them.
GAN_KNOBS = ("loss", "clip_value", "gp_weight", "real_label", "fake_label", "label_flip", "r1_weight", "d_steps",
             "g_steps", "order", "d_skip_below", "conditioning", "matching_aware", "aux_weight", "embed_dim",
             "label_input", "pack", "mbstd", "diffaug", "hflip")
VAE_KNOBS = ("kl_weight",)  # the VAE update's own (gan_core.vae)


@dataclass(frozen=True)
class Arch:
    g: Callable[..., nn.Module]
    d: Callable[..., tuple]
    data_kind: str  # "images" or "points"
    init: str = "dcgan"  # weights of D's heads: "dcgan" N(0, 0.02), or "default" (PyTorch's / the paper's own)
    adversarial: bool = True  # False: trained by `gan_core.vae`, not by the GAN updates
    knobs: tuple[str, ...] = GAN_KNOBS  # what it uses of the knobs only some architectures use (arch_knobs())
    d_norms: tuple[str, ...] | None = None  # the norm_d values its D (or encoder) builds; None: all of D_NORMS

    def takes_norm_d(self) -> tuple[str, ...]:
        return tuple(D_NORMS) if self.d_norms is None else self.d_norms


ARCHS: dict[str, Arch] = {
    "dcgan": Arch(dcgan_g, dcgan_d, "images"),
    "dcgan-deep": Arch(deep_g, deep_d, "images"),
    "upsample": Arch(upsample_g, upsample_d, "images"),
    "resnet": Arch(resnet.resnet_g, resnet.resnet_d, "images", init="default"),
    # spectral norm wraps a GAN D's weights (gan_core.heads.finish_d); the encoder is not wrapped
    "vae": Arch(dcgan_g, dcgan_d, "images", adversarial=False, knobs=VAE_KNOBS, d_norms=("batch", "layer", "none")),
    "mlp": Arch(mlp_g, mlp_d, "points", init="default"),
}


def arch_knobs() -> tuple[str, ...]:
    """The knobs some architectures use and others do not, in registry order; TrainConfig keeps
    each at its default on an architecture that does not list it. Every other knob applies to all."""
    return tuple(dict.fromkeys(name for arch in ARCHS.values() for name in arch.knobs))
