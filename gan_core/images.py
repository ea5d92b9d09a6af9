"""Pictures of what a generator makes: image grids and 2-D scatter plots.

Both return an (H, W, 3) uint8 numpy array, the form MLflow's `log_image`
and PIL take. No plotting library: the grid is laid out here (as
torchvision's `make_grid` lays it out, without importing torchvision, whose
import pulls in torch's compiler stack: seconds before a trial's first
round), and PIL, imported on the first scatter, draws the points.
"""

from __future__ import annotations

import math

import numpy as np
import torch


def make_grid(images: torch.Tensor, nrow: int = 8, padding: int = 2, pad_value: float = 0.0) -> torch.Tensor:
    """(N, C, H, W) -> (C', rows, cols): the images in rows of `nrow`, `padding` pixels of `pad_value`
    around each; one-channel images become three channels, and a single image is returned unpadded
    (torchvision.utils.make_grid's layout, without normalisation)."""
    if images.size(1) == 1:
        images = torch.cat((images, images, images), 1)
    if images.size(0) == 1:
        return images.squeeze(0)
    n, channels = images.size(0), images.size(1)
    across = min(nrow, n)
    down = int(math.ceil(float(n) / across))
    height, width = int(images.size(2) + padding), int(images.size(3) + padding)
    grid = images.new_full((channels, height * down + padding, width * across + padding), pad_value)
    for k in range(n):
        y, x = divmod(k, across)
        grid.narrow(1, y * height + padding, height - padding).narrow(
            2, x * width + padding, width - padding).copy_(images[k])
    return grid


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
    from PIL import Image, ImageDraw

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
