"""Tests of gan_core.images: the sample grid is laid out exactly as torchvision's `make_grid`
lays it out (whose import gan_core avoids), and the scatter plot is an RGB image."""

import numpy as np
import pytest
import torch

from gan_core.images import image_grid, points_extent, scatter


@pytest.mark.parametrize("shape", [(64, 3, 32, 32), (5, 3, 8, 8), (10, 1, 16, 16), (1, 3, 8, 8), (1, 1, 8, 8)])
def test_the_grid_is_torchvisions(shape):
    from torchvision.utils import make_grid

    samples = torch.rand(shape, generator=torch.Generator().manual_seed(0)) * 1.2 - 0.1  # some outside [0, 1]
    grid = make_grid(samples.clamp(0, 1), nrow=8, padding=2, pad_value=1.0)
    grid = grid.expand(3, -1, -1) if grid.shape[0] == 1 else grid
    expected = (grid.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    got = image_grid(samples)
    assert got.dtype == np.uint8 and got.shape == expected.shape
    assert np.array_equal(got, expected)


def test_the_scatter_is_an_rgb_picture_of_the_points():
    real = torch.randn(100, 2, generator=torch.Generator().manual_seed(0))
    picture = scatter(real + 0.1, real, points_extent(real), size=64)
    assert picture.shape == (64, 64, 3) and picture.dtype == np.uint8
    assert (picture == 255).all(-1).any() and (picture != 255).any()  # white canvas, points drawn on it
