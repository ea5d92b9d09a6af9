"""Pictures of what a generator makes: image grids and 2-D scatter plots.

Both return an (H, W, 3) uint8 numpy array, the form MLflow's `log_image`
and PIL take. Drawn with torchvision and PIL only, no plotting library.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image, ImageDraw
from torchvision.utils import make_grid


def image_grid(samples01: torch.Tensor, nrow: int = 8) -> np.ndarray:
    """(N, C, H, W) images in [0, 1] -> one grid, channels last, uint8."""
    grid = make_grid(samples01.detach().float().cpu().clamp(0, 1), nrow=nrow, padding=2, pad_value=1.0)
    if grid.shape[0] == 1:
        grid = grid.expand(3, -1, -1)
    return (grid.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


def points_extent(real: torch.Tensor, margin: float = 0.25) -> tuple[float, float, float, float]:
    """A square box around real 2-D points with a relative margin."""
    low, high = real.min(0).values, real.max(0).values
    center, half = (low + high) / 2, float((high - low).max()) / 2 * (1 + margin)
    return (float(center[0]) - half, float(center[1]) - half, float(center[0]) + half, float(center[1]) + half)


def scatter(points: torch.Tensor, real: torch.Tensor, extent, size: int = 320) -> np.ndarray:
    """Generated points (red) over real points (grey) in `extent`; points outside sit on the border."""
    canvas = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(canvas)
    x0, y0, x1, y1 = extent

    def to_pixels(p: torch.Tensor) -> np.ndarray:
        p = p.detach().float().cpu().numpy()
        u = (p[:, 0] - x0) / (x1 - x0) * (size - 1)
        v = (1 - (p[:, 1] - y0) / (y1 - y0)) * (size - 1)
        return np.clip(np.stack([u, v], 1), 0, size - 1)

    for u, v in to_pixels(real):
        draw.ellipse((u - 2, v - 2, u + 2, v + 2), fill=(190, 190, 190))
    finite = points[torch.isfinite(points).all(1)]
    for u, v in to_pixels(finite):
        draw.point((float(u), float(v)), fill=(200, 30, 30))
    return np.asarray(canvas, dtype=np.uint8).copy()
