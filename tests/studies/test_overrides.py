"""`--set KEY=VALUE`: values parsed by the field's type, unknown keys and varied fields refused."""

import pytest

from search_spaces import dg_ratio, tune
from studies.declare.overrides import FIELDS, parse_sets, parse_value, varied_fields


@pytest.mark.parametrize("name, text, value", [
    ("lr_d", "1e-4", 1e-4), ("batch_size", "16", 16), ("hflip", "true", True), ("mbstd", "0", False),
    ("real_label", "0.9,0.9", (0.9, 0.9)), ("metrics", "prdc,fd", "prdc,fd"), ("budget", "rounds", "rounds"),
])
def test_values_are_parsed_by_the_type_of_the_field(name, text, value):
    assert parse_value(name, text) == value


@pytest.mark.parametrize("name, text, message", [
    ("lr_d", "fast", "lr_d: 'fast' is not a number"), ("batch_size", "1.5", "batch_size: '1.5' is not an integer"),
    ("hflip", "maybe", "hflip: 'maybe' is not one of true, false"),
    ("real_label", "0.9", "real_label: '0.9' is not a pair of numbers"),
])
def test_bad_values_name_the_field(name, text, message):
    with pytest.raises(ValueError, match=message):
        parse_value(name, text)


def test_every_field_parses_its_own_default():
    for name, default in FIELDS.items():
        text = ",".join(map(str, default)) if isinstance(default, tuple) else str(default)
        assert parse_value(name, text) == default, name


def test_unknown_keys_and_varied_fields_are_refused():
    varied = varied_fields(dg_ratio.space())
    assert {"d_steps", "g_steps", "loss", "lr_d", "seed"} <= varied and "nz" not in varied
    assert parse_sets(["nz=16", "ema=0.999"], varied) == {"nz": 16, "ema": 0.999}
    with pytest.raises(ValueError, match="'nzz' is not a TrainConfig field; allowed: .*nz"):
        parse_sets(["nzz=16"], varied)
    with pytest.raises(ValueError, match="d_steps: the study's search space varies it"):
        parse_sets(["d_steps=2"], varied)
    with pytest.raises(ValueError, match="seed: --seeds sets it"):
        parse_sets(["seed=3"], varied)
    with pytest.raises(ValueError, match="is not KEY=VALUE"):
        parse_sets(["nz"], varied)


def test_a_define_by_run_space_varies_what_it_suggests_and_returns():
    assert {"loss", "lr_d", "d_steps", "real_label", "betas_d", "norm_d"} <= varied_fields(tune.space)
