"""Every architecture x normalization builds, has the right shapes and trains a step."""

import itertools

import pytest
import torch

from gan_core.config import TrainConfig
from gan_core.models import ARCHS, D_NORMS, G_NORMS
from gan_core.train import build, d_step, g_step

from conftest import TINY_IMAGES, TINY_POINTS

CASES = [(TINY_IMAGES, 32), (TINY_IMAGES, 64), (TINY_POINTS, 32)]


def test_every_architecture_has_a_case():
    assert {case["arch"] for case, _ in CASES} == set(ARCHS)


@pytest.mark.parametrize("case, size", CASES, ids=["dcgan32", "dcgan64", "mlp"])
@pytest.mark.parametrize("norm_d, norm_g", list(itertools.product(D_NORMS, G_NORMS)))
def test_every_normalization_builds_and_trains_a_step(case, size, norm_d, norm_g):
    run = build(TrainConfig.from_dict({**case, "image_size": size, "norm_d": norm_d, "norm_g": norm_g}))
    z = torch.randn(5, run.config.nz)
    fake = run.g(z)
    assert fake.shape == (5, *run.data.shape)
    assert run.d(fake).shape == (5,)
    before = [p.detach().clone() for p in run.d.parameters()]
    d_step(run)
    g_step(run)
    assert any(not torch.equal(a, b) for a, b in zip(before, run.d.parameters()))
    assert all(torch.isfinite(total).all() for total, _ in run.sums.values())


def test_dcgan_init_follows_the_paper():
    run = build(TrainConfig.from_dict({**TINY_IMAGES, "ngf": 64}))
    conv = next(m for m in run.g.modules() if isinstance(m, torch.nn.ConvTranspose2d))
    assert abs(conv.weight.std().item() - 0.02) < 0.002


def test_spectral_norm_bounds_d_weights():
    run = build(TrainConfig.from_dict({**TINY_IMAGES, "norm_d": "spectral"}))
    conv = next(m for m in run.d.modules() if isinstance(m, torch.nn.Conv2d))
    for _ in range(20):  # power iterations converge in train mode
        run.d(torch.randn(4, 3, 32, 32))
    sigma = torch.linalg.matrix_norm(conv.weight.flatten(1), ord=2)
    assert sigma.item() == pytest.approx(1.0, abs=0.05)
