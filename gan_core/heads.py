"""What every architecture shares around its body: latents and labels into G,
packing, minibatch stddev and conditioning around D.

`Generator(net, embed)`: G(z, y) = net([z, embed(y)]) when conditioned.

`Discriminator(body, ...)`: D(x, y) -> (out (N',), aux logits or None)
  * packing (PacGAN, Lin et al. 2018): `pack` consecutive samples are
    concatenated along channels (features for points) and judged together,
    so N' = N / pack;
  * minibatch stddev (Karras et al. 2018) appended to the body's features;
  * conditioning on class ids (N,) or multi-hot tags (N, T):
    - cgan (Mirza & Osindero 2014): the label embedding enters G with z, and
      D as extra input channels (broadcast over H x W); with `label_input`
      "onehot" the raw one-hot label enters both, with no embedding layer;
    - acgan (Odena et al. 2017): an auxiliary classifier head on D's features;
    - projection (Miyato & Koyama 2018): out += <embed(y), features>.

`finish_d` initialises D (DCGAN N(0, 0.02) or Xavier for the heads of bodies
with their own init) and wraps every conv/linear/embedding of D in spectral
norm when `norm_d` is "spectral".
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from gan_core.layers import MinibatchStd, init_weights

CONDITIONINGS = ("none", "cgan", "acgan", "projection")
LABEL_INPUTS = ("embed", "onehot")  # how a label enters G (and cgan's D): a learned embedding, or the raw one-hot


class OneHot(nn.Module):
    """Class ids (N,) as one-hot rows, or multi-hot tags (N, T) as they are: the label with no
    embedding layer of its own, as the earliest conditional DCGANs fed it in beside z."""

    def __init__(self, n_classes: int, multi_label: bool):
        super().__init__()
        self.n_classes, self.multi_label = n_classes, multi_label

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return y.float() if self.multi_label else nn.functional.one_hot(y, self.n_classes).float()


def label_input(kind: str, n_classes: int, multi_label: bool, dim: int) -> nn.Module:
    """The module a label enters a net through: `LabelEmbedding` (kind "embed") or `OneHot`."""
    return OneHot(n_classes, multi_label) if kind == "onehot" else LabelEmbedding(n_classes, multi_label, dim)


def label_width(kind: str, n_classes: int, dim: int) -> int:
    """Features a label adds to G's input (and to cgan D's channels)."""
    return n_classes if kind == "onehot" else dim


class LabelEmbedding(nn.Module):
    """Class ids (N,) through nn.Embedding, or multi-hot tags (N, T) through a bias-free Linear, to (N, dim)."""

    def __init__(self, n_classes: int, multi_label: bool, dim: int):
        super().__init__()
        self.multi_label = multi_label
        self.net = nn.Linear(n_classes, dim, bias=False) if multi_label else nn.Embedding(n_classes, dim)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return self.net(y.float() if self.multi_label else y)


class Generator(nn.Module):
    def __init__(self, net: nn.Module, embed: LabelEmbedding | None = None):
        super().__init__()
        self.net, self.embed = net, embed

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if self.embed is not None:
            z = torch.cat([z, self.embed(y)], 1)
        return self.net(z)


class Discriminator(nn.Module):
    def __init__(self, body: nn.Module, features_shape: tuple, *, pack: int = 1, mbstd: bool = False,
                 conditioning: str = "none", n_classes: int = 0, multi_label: bool = False, embed_dim: int = 0,
                 label_input_kind: str = "embed"):
        super().__init__()
        self.body, self.pack = body, pack
        self.mbstd = MinibatchStd() if mbstd else None
        width = (features_shape[0] + (1 if mbstd else 0)) * math.prod(features_shape[1:])
        self.out = nn.Linear(width, 1)
        self.input_embed = (label_input(label_input_kind, n_classes, multi_label, embed_dim)
                            if conditioning == "cgan" else None)
        self.aux = nn.Linear(width, n_classes) if conditioning == "acgan" else None
        self.project = LabelEmbedding(n_classes, multi_label, width) if conditioning == "projection" else None

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None):
        if self.pack > 1:
            x = x.reshape(x.shape[0] // self.pack, x.shape[1] * self.pack, *x.shape[2:])
        if self.input_embed is not None:
            e = self.input_embed(y)
            if x.dim() == 4:
                e = e[:, :, None, None].expand(-1, -1, x.shape[2], x.shape[3])
            x = torch.cat([x, e], 1)
        h = self.body(x)
        if self.mbstd is not None:
            h = self.mbstd(h)
        h = h.flatten(1)
        out = self.out(h).squeeze(1)
        if self.project is not None:
            out = out + (self.project(y) * h).sum(1)
        return out, (self.aux(h) if self.aux is not None else None)


def d_input_shape(c, shape: tuple, n_classes: int = 0) -> tuple:
    """The shape D's body sees: channels (features) times `pack`, plus the label channels for cgan."""
    extra = label_width(c.label_input, n_classes, c.embed_dim) if c.conditioning == "cgan" else 0
    return (shape[0] * c.pack + extra, *shape[1:])


def finish_d(d: Discriminator, init: str, norm: str) -> Discriminator:
    """Initialise D's heads (and the whole D for DCGAN-style bodies), then wrap
    its weights in spectral norm when asked."""
    if init == "dcgan":
        init_weights(d)
    else:
        for head in (d.out, d.aux, d.project, d.input_embed):
            for m in (head.modules() if head is not None else ()):
                if isinstance(m, (nn.Linear, nn.Embedding)):
                    nn.init.xavier_uniform_(m.weight)
                    if getattr(m, "bias", None) is not None:
                        nn.init.zeros_(m.bias)
    if norm == "spectral":
        for m in list(d.modules()):
            if isinstance(m, (nn.Conv2d, nn.Linear, nn.Embedding)):
                spectral_norm(m)
    return d
