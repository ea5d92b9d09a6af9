"""MS-SSIM of image pairs (Wang, Simoncelli and Bovik 2003), the math behind
the `ms_ssim` metric of `gan_core.metrics` (definition and choices there):
per-pair MS-SSIM of two image batches, and the mean over seeded random pairs
of one set.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)  # Wang et al. 2003, finest scale first
MS_SSIM_WINDOW = 7  # Gaussian window side: fits the 8x8 coarsest scale of a 32x32 image
MS_SSIM_SIGMA = 1.0  # its std: Wang's 11 px / 1.5 ratio
MS_SSIM_PAIRS = 500  # random pairs per set: real digits' pair values spread by 0.13-0.24, standard error ~0.01
MS_SSIM_BATCH = 256  # image pairs per batch


def ms_ssim_scales(size: int, window: int = MS_SSIM_WINDOW) -> int:
    """Number of scales (at most 5) whose coarsest side, size // 2^(M-1), is still >= window."""
    if size < window:
        raise ValueError(f"MS-SSIM needs images of at least {window} pixels a side, got {size}")
    scales = 1
    while scales < len(MS_SSIM_WEIGHTS) and size // 2 ** scales >= window:
        scales += 1
    return scales


def _blur(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Separable filter along W then H, valid positions only (shifted sums: faster than a depthwise conv2d)."""
    size, (h, w) = kernel.numel(), x.shape[-2:]
    rows = sum(kernel[t] * x[..., t:w - size + 1 + t] for t in range(size))
    return sum(kernel[t] * rows[..., t:h - size + 1 + t, :] for t in range(size))


def _ssim_and_cs(x: torch.Tensor, y: torch.Tensor, kernel: torch.Tensor, data_range: float):
    """Per image and channel (N, C): mean SSIM and mean contrast-structure term at one scale."""
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mu_x, mu_y = _blur(x, kernel), _blur(y, kernel)
    var_x = _blur(x * x, kernel) - mu_x ** 2
    var_y = _blur(y * y, kernel) - mu_y ** 2
    cov = _blur(x * y, kernel) - mu_x * mu_y
    cs_map = (2 * cov + c2) / (var_x + var_y + c2)
    ssim_map = (2 * mu_x * mu_y + c1) / (mu_x ** 2 + mu_y ** 2 + c1) * cs_map
    return ssim_map.flatten(2).mean(-1), cs_map.flatten(2).mean(-1)


def ms_ssim(x: torch.Tensor, y: torch.Tensor, window: int = MS_SSIM_WINDOW, sigma: float = MS_SSIM_SIGMA,
            weights: Sequence[float] | None = None, data_range: float = 1.0) -> torch.Tensor:
    """MS-SSIM of each pair (x[n], y[n]) of (N, C, H, W) images: (N,). See the module docstring.

    weights default to Wang's, as many scales as the image size allows, rescaled to sum to 1."""
    if x.shape != y.shape or x.dim() != 4:
        raise ValueError(f"MS-SSIM compares two (N, C, H, W) batches of one shape, "
                         f"got {tuple(x.shape)} and {tuple(y.shape)}")
    size = min(x.shape[-2:])
    if weights is None:
        weights = MS_SSIM_WEIGHTS[:ms_ssim_scales(size, window)]
    if size // 2 ** (len(weights) - 1) < window:
        raise ValueError(f"{len(weights)} scales of a {size}-pixel image leave less than the {window}-pixel window")
    betas = torch.tensor(weights, dtype=x.dtype)
    betas = betas / betas.sum()
    coords = torch.arange(window, dtype=x.dtype) - window // 2
    kernel = torch.exp(-coords ** 2 / (2 * sigma ** 2))
    kernel = kernel / kernel.sum()
    terms = []
    for scale in range(len(betas)):
        ssim, cs = _ssim_and_cs(x, y, kernel, data_range)
        terms.append(ssim if scale == len(betas) - 1 else cs)
        x, y = F.avg_pool2d(x, 2), F.avg_pool2d(y, 2)
    stacked = torch.stack(terms).clamp(min=0.0)  # (M, N, C)
    return (stacked ** betas.view(-1, 1, 1)).prod(0).mean(1)


def mean_pair_ms_ssim(images: torch.Tensor, seed: int, pairs: int = MS_SSIM_PAIRS) -> float:
    """Mean MS-SSIM over min(pairs, N) seeded random pairs (i, j != i) of the N images."""
    n = images.shape[0]
    if n < 2:
        raise ValueError(f"MS-SSIM pairs need at least 2 images, got {n}")
    gen = torch.Generator().manual_seed(seed)
    first = torch.randperm(n, generator=gen)[:pairs]
    second = (first + torch.randint(1, n, first.shape, generator=gen)) % n
    values = [ms_ssim(images[i], images[j]) for i, j in zip(first.split(MS_SSIM_BATCH), second.split(MS_SSIM_BATCH))]
    return float(torch.cat(values).mean())
