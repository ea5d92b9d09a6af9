"""TrainConfig: defaults are valid, every bad value names its field."""

import pytest

from gan_core.config import CHOICES, TrainConfig
from gan_core.losses import LOSSES


def test_defaults_are_valid_and_round_trip():
    config = TrainConfig()
    assert TrainConfig.from_dict(config.to_dict()) == config


def test_lists_become_tuples():
    config = TrainConfig(real_label=[0.7, 1.2], fake_label=[0.0, 0.3])
    assert config.real_label == (0.7, 1.2) and config.fake_label == (0.0, 0.3)


def test_unknown_key_is_named():
    with pytest.raises(ValueError, match="disc_iters: unknown TrainConfig field"):
        TrainConfig.from_dict({"disc_iters": 5})


@pytest.mark.parametrize("name", sorted(CHOICES))
def test_every_choice_field_rejects_unknown_names_and_lists_allowed(name):
    allowed = CHOICES[name]()
    with pytest.raises(ValueError) as err:
        TrainConfig.from_dict({name: "nope"})
    message = str(err.value)
    assert message.startswith(f"{name}: 'nope' is not one of")
    assert all(a in message for a in allowed)


@pytest.mark.parametrize("field, value", [
    ("max_steps", 0), ("batch_size", -1), ("d_steps", 0), ("g_steps", 101), ("lr_d", 0.0),
    ("label_flip", 0.9), ("image_size", 48), ("eval_every", 1.5), ("seed", -3),
    ("max_seconds", float("nan")), ("betas_g", (0.5, 1.0)), ("real_label", (1.2, 0.7)),
])
def test_out_of_range_values_name_the_field(field, value):
    with pytest.raises(ValueError, match=f"^{field}: "):
        TrainConfig.from_dict({field: value})


@pytest.mark.parametrize("loss", sorted(LOSSES))
def test_label_smoothing_only_where_the_loss_uses_targets(loss):
    values = {"loss": loss, "real_label": (0.9, 0.9)}
    if LOSSES[loss].smoothing:
        assert TrainConfig.from_dict(values).real_label == (0.9, 0.9)
    else:
        with pytest.raises(ValueError, match="real_label: label smoothing and flips apply only to loss bce, minimax, lsgan"):
            TrainConfig.from_dict(values)
        with pytest.raises(ValueError, match="label_flip"):
            TrainConfig.from_dict({"loss": loss, "label_flip": 0.1})


def test_architecture_must_fit_the_data():
    with pytest.raises(ValueError, match="arch: 'dcgan' trains on images, dataset 'ring8' holds points; use arch mlp"):
        TrainConfig(dataset="ring8")
    with pytest.raises(ValueError, match="input_norm: 'imagenet' applies to images only"):
        TrainConfig(dataset="grid25", arch="mlp", input_norm="imagenet")
