"""D normalization x input normalization: [-1, 1] (tanh) against ImageNet
mean/std per channel, the setting a seed report could not train (G's tanh
output cannot reach the standardised range of real pixels, about [-2.1, 2.6])."""

from ray import tune

from gan_core import layers
from gan_core.config import INPUT_NORMS


def space() -> dict:
    return {
        "norm_d": tune.grid_search(list(layers.D_NORMS)),
        "input_norm": tune.grid_search(list(INPUT_NORMS)),
    }


def smoke_space() -> dict:
    return {"norm_d": "batch", "input_norm": tune.grid_search(["tanh", "imagenet"])}
