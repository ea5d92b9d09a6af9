"""The search spaces list what the gan_core registries hold: a loss, a D normalization or a
conditioning added to its registry joins the spaces that vary it, with the knobs that loss takes,
and every setting a space yields is a valid TrainConfig."""

import pytest
from optuna.trial import FixedTrial

from gan_core import heads, layers
from gan_core.config import TrainConfig
from gan_core.losses import LOSSES, Loss, wasserstein_d, wasserstein_g
from search_spaces import conditional, loss_family, normalization, tune
from studies.spaces import expand, merge

TUNE_VALUES = {"clip_value": 0.02, "opt_d": "adam", "gp_weight": 5.0, "_real_label_low": 0.8, "lr_d": 1e-4,
               "lr_g": 1e-4, "_beta1": 0.5, "d_steps": 2, "_critic_norm": "layer", "norm_d": "spectral"}


def tune_config(loss: str) -> tuple[TrainConfig, set]:
    """The tune space's trial for `loss`, as a TrainConfig, and the knobs it suggested."""
    trial = FixedTrial({**TUNE_VALUES, "loss": loss})
    constants = tune.space(trial)
    return TrainConfig.from_dict(merge(TrainConfig().to_dict(), {**trial.params, **constants})), set(trial.params)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_the_tune_space_suggests_what_each_loss_takes(name):
    config, suggested = tune_config(name)
    loss = LOSSES[name]
    assert config.loss == name
    assert ("clip_value" in suggested) == loss.clip and ("gp_weight" in suggested) == (loss.penalty == "gp")
    assert (config.real_label == (0.8, 1.0)) == loss.smoothing


def spaces_configs(space: dict) -> list[TrainConfig]:
    return [TrainConfig.from_dict(values) for values in expand(TrainConfig().to_dict(), space)]


def test_a_new_loss_joins_the_loss_spaces_with_its_own_knobs(monkeypatch):
    monkeypatch.setitem(LOSSES, "clipped-ls", Loss(wasserstein_d, wasserstein_g, prob=False, smoothing=True, clip=True))
    config, suggested = tune_config("clipped-ls")
    assert {"clip_value", "_real_label_low"} <= suggested and "gp_weight" not in suggested
    assert (config.clip_value, config.real_label) == (0.02, (0.8, 1.0))
    losses = [c.loss for c in spaces_configs(loss_family.space())]
    assert losses == list(LOSSES) and "clipped-ls" in losses


def test_a_new_normalization_joins_the_normalization_space(monkeypatch):
    monkeypatch.setitem(layers.D_NORMS, "fake-norm", layers.D_NORMS["none"])
    configs = spaces_configs(normalization.space())
    assert {c.norm_d for c in configs} == set(layers.D_NORMS) and {c.input_norm for c in configs} == {"tanh", "imagenet"}


def test_a_new_conditioning_joins_the_conditional_space(monkeypatch):
    monkeypatch.setattr(heads, "CONDITIONINGS", (*heads.CONDITIONINGS, "fake-cond"))
    configs = spaces_configs({**conditional.space(), "dataset": "digits"})
    assert [c.conditioning for c in configs] == ["none", *["cgan"] * 4, "acgan", "projection", "fake-cond"]
    assert [c.matching_aware for c in configs].count(True) == 2  # embedded and one-hot cGAN, each also matching-aware
    assert [c.label_input for c in configs].count("onehot") == 2
