"""Data augmentation for GAN training: DiffAugment and horizontal flips.

DiffAugment (Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient
GAN Training") applies the same family of differentiable transforms to real
and fake images every time D sees them (in D and in G updates), so D cannot
overfit the few real images while G still gets gradients through them. The
three policies of the paper, as in its reference code, on images in model
space (about [-1, 1]):

  * translation: shift by up to 1/8 of the image size, zero padding;
  * color: brightness + U(-0.5, 0.5), saturation x U(0, 2), contrast x U(0.5, 1.5);
  * cutout: zero a square of half the image size at a random position.

`AUGMENTS` maps each policy name to `fn(x, gen) -> x`; every random draw comes
from the training `torch.Generator`, made on the generator's device (the run's
device on CUDA, so no copy), so runs stay deterministic. `hflip`
mirrors each real image with probability 1/2 (a plain data augmentation, for
real data only).
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F


def _rand(gen: torch.Generator, x: torch.Tensor, *shape: int) -> torch.Tensor:
    return torch.rand(*shape, generator=gen, device=gen.device).to(x.device, x.dtype)


def color(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    n = x.shape[0]
    x = x + (_rand(gen, x, n, 1, 1, 1) - 0.5)
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (_rand(gen, x, n, 1, 1, 1) * 2) + mean
    mean = x.mean(dim=[1, 2, 3], keepdim=True)
    return (x - mean) * (_rand(gen, x, n, 1, 1, 1) + 0.5) + mean


def translation(x: torch.Tensor, gen: torch.Generator, ratio: float = 0.125) -> torch.Tensor:
    n, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    ty = torch.randint(-sh, sh + 1, (n, 1, 1), generator=gen, device=gen.device).to(x.device)
    tx = torch.randint(-sw, sw + 1, (n, 1, 1), generator=gen, device=gen.device).to(x.device)
    gy, gx = torch.meshgrid(torch.arange(h, device=x.device), torch.arange(w, device=x.device), indexing="ij")
    rows = torch.clamp(gy[None] + ty + 1, 0, h + 1)
    cols = torch.clamp(gx[None] + tx + 1, 0, w + 1)
    padded = F.pad(x, [1, 1, 1, 1])  # the border of zeros is where shifted-out pixels come from
    batch = torch.arange(n, device=x.device)[:, None, None]
    return padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)


def cutout(x: torch.Tensor, gen: torch.Generator, ratio: float = 0.5) -> torch.Tensor:
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    oy = torch.randint(0, h + (1 - ch % 2), (n, 1, 1), generator=gen, device=gen.device).to(x.device)
    ox = torch.randint(0, w + (1 - cw % 2), (n, 1, 1), generator=gen, device=gen.device).to(x.device)
    gy, gx = torch.meshgrid(torch.arange(h, device=x.device), torch.arange(w, device=x.device), indexing="ij")
    top, left = oy - ch // 2, ox - cw // 2  # the square may hang over the border, as in the reference code
    inside = (gy[None] >= top) & (gy[None] < top + ch) & (gx[None] >= left) & (gx[None] < left + cw)
    return x * (~inside).unsqueeze(1).to(x.dtype)


AUGMENTS: dict[str, Callable[[torch.Tensor, torch.Generator], torch.Tensor]] = {
    "translation": translation,
    "color": color,
    "cutout": cutout,
}


def parse_policy(text: str) -> tuple[str, ...]:
    """"translation,color" -> ("translation", "color"); "" -> (); unknown names raise ValueError."""
    names = tuple(p.strip() for p in text.split(",") if p.strip())
    unknown = [p for p in names if p not in AUGMENTS]
    if unknown:
        raise ValueError(f"diffaug: {unknown[0]!r} is not one of {', '.join(AUGMENTS)} (comma-separated, or empty)")
    return names


def diff_augment(x: torch.Tensor, policy: tuple[str, ...], gen: torch.Generator) -> torch.Tensor:
    """Apply the policies in the order given (the paper uses color, translation, cutout)."""
    for name in policy:
        x = AUGMENTS[name](x, gen)
    return x


def hflip(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Mirror each image left-right with probability 1/2."""
    flip = (torch.rand(x.shape[0], generator=gen, device=gen.device) < 0.5).to(x.device)
    return torch.where(flip[:, None, None, None], x.flip(3), x)
