"""D normalization x input normalization: [-1, 1] (tanh) against ImageNet
mean/std per channel, the setting a seed report could not train (G's tanh
output cannot reach the standardised range of real pixels, about [-2.1, 2.6])."""

from search_spaces.common import grid


def space() -> dict:
    from gan_core import layers  # the registries, read when the space is built (listing studies loads no torch)
    from gan_core.config import INPUT_NORMS

    return {
        "norm_d": grid(list(layers.D_NORMS)),
        "input_norm": grid(list(INPUT_NORMS)),
    }


def smoke_space() -> dict:
    return {"norm_d": "batch", "input_norm": grid(["tanh", "imagenet"])}
