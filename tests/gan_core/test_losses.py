"""Every registered loss: finite values, the right sign of its gradients."""

import pytest
import torch

from gan_core.losses import LOSSES, gradient_penalty


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_d_loss_prefers_real_high_fake_low(name):
    loss = LOSSES[name]
    real_t, fake_t = torch.ones(16), torch.zeros(16)
    good = loss.d(torch.full((16,), 1.0), torch.full((16,), -1.0), real_t, fake_t)
    bad = loss.d(torch.full((16,), -1.0), torch.full((16,), 1.0), real_t, fake_t)
    assert torch.isfinite(good) and torch.isfinite(bad) and good < bad


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_g_loss_pushes_fake_outputs_up(name):
    fake_out = torch.zeros(16, requires_grad=True)
    LOSSES[name].g(fake_out).backward()
    assert torch.all(fake_out.grad < 0)


def test_minimax_and_non_saturating_differ_where_d_rejects_fakes():
    confident_fake = torch.full((8,), -8.0, requires_grad=True)
    LOSSES["minimax"].g(confident_fake).backward()
    saturated = confident_fake.grad.abs().sum()
    confident_fake.grad = None
    LOSSES["bce"].g(confident_fake).backward()
    assert confident_fake.grad.abs().sum() > 100 * saturated


def test_soft_targets_change_the_bce_and_lsgan_losses():
    real, fake = torch.full((8,), 2.0), torch.full((8,), -1.0)
    for name in ("bce", "lsgan"):
        hard = LOSSES[name].d(real, fake, torch.ones(8), torch.zeros(8))
        soft = LOSSES[name].d(real, fake, torch.full((8,), 0.9), torch.full((8,), 0.1))
        assert not torch.isclose(hard, soft)


def test_gradient_penalty_is_zero_for_a_unit_gradient_critic():
    critic = lambda x: x.flatten(1)[:, 0]  # gradient (1, 0, ...) everywhere: norm 1
    real, fake = torch.randn(8, 3, 4, 4), torch.randn(8, 3, 4, 4)
    assert gradient_penalty(critic, real, fake, torch.Generator().manual_seed(0)).item() == pytest.approx(0.0, abs=1e-6)
    steep = lambda x: 3 * x.flatten(1)[:, 0]
    assert gradient_penalty(steep, real, fake, torch.Generator().manual_seed(0)).item() == pytest.approx(4.0, rel=1e-5)
