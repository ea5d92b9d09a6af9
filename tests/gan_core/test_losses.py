"""Every registered loss: finite values, the right sign of its gradients, and the facts it states
(a floor under its D loss, the options that apply to it) true of its functions."""

import pytest
import torch

from gan_core.losses import LOSS_OPTIONS, LOSSES, gradient_penalty


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


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_a_declared_floor_holds_and_an_undeclared_one_does_not(name):
    """Targets in [0, 1]: bce's D loss can go below 0 with a target above 1 (two-sided smoothing)."""
    g = torch.Generator().manual_seed(0)
    real, fake = (torch.rand(2000, 16, generator=g) - 0.5) * 40, (torch.rand(2000, 16, generator=g) - 0.5) * 40
    real_t, fake_t = torch.rand(2000, 16, generator=g), torch.rand(2000, 16, generator=g)
    values = torch.stack([LOSSES[name].d(*args) for args in zip(real, fake, real_t, fake_t)])
    assert (values.min() >= 0) == LOSSES[name].floor


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_options_follow_what_the_trainer_uses(name):
    loss = LOSSES[name]
    assert set(loss.options) <= set(LOSS_OPTIONS)
    assert ("clip_value" in loss.options) == loss.clip and ("gp_weight" in loss.options) == (loss.penalty == "gp")
    assert ("real_label" in loss.options) == ("label_flip" in loss.options) == loss.smoothing
    assert ("d_skip_below" in loss.options) == loss.floor


def test_minimax_and_non_saturating_differ_where_d_rejects_fakes():
    confident_fake = torch.full((8,), -8.0, requires_grad=True)
    LOSSES["minimax"].g(confident_fake).backward()
    saturated = confident_fake.grad.abs().sum()
    confident_fake.grad = None
    LOSSES["bce"].g(confident_fake).backward()
    assert confident_fake.grad.abs().sum() > 100 * saturated


def test_soft_targets_cost_a_confident_d_more():
    """Smoothing penalises D for outputs that are right and sure: real 2, fake -1 lose more against 0.9 / 0.1."""
    real, fake = torch.full((8,), 2.0), torch.full((8,), -1.0)
    for name in ("bce", "lsgan"):
        hard = LOSSES[name].d(real, fake, torch.ones(8), torch.zeros(8))
        soft = LOSSES[name].d(real, fake, torch.full((8,), 0.9), torch.full((8,), 0.1))
        assert soft > hard + 0.1, name


def test_gradient_penalty_is_zero_for_a_unit_gradient_critic():
    critic = lambda x: x.flatten(1)[:, 0]  # gradient (1, 0, ...) everywhere: norm 1
    real, fake = torch.randn(8, 3, 4, 4), torch.randn(8, 3, 4, 4)
    assert gradient_penalty(critic, real, fake, torch.Generator().manual_seed(0)).item() == pytest.approx(0.0, abs=1e-6)
    steep = lambda x: 3 * x.flatten(1)[:, 0]
    assert gradient_penalty(steep, real, fake, torch.Generator().manual_seed(0)).item() == pytest.approx(4.0, rel=1e-5)
