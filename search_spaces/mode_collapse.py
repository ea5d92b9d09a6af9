"""A setting that collapses (the non-saturating GAN with a discriminator a
quarter of G's width and two G updates per D update: plausible samples on a
few dozen of stacked-digits' 1,000 modes), then each mitigation on top of
it, everything else fixed: the loss swapped for WGAN-GP (its penalty, same
optimizer), PacGAN packing, minibatch stddev, one-sided label smoothing, an
EMA of G, and DiffAugment."""

from search_spaces.common import grid

MITIGATIONS = [
    {"_mitigation": "none"},
    {"_mitigation": "wgan-gp", "loss": "wgan-gp", "norm_d": "layer", "gp_weight": 10.0},
    {"_mitigation": "pack", "pack": 2},
    {"_mitigation": "mbstd", "mbstd": True},
    {"_mitigation": "label-smoothing", "real_label": (0.9, 0.9)},
    {"_mitigation": "ema", "ema": 0.999},
    {"_mitigation": "diffaugment", "diffaug": "color,translation,cutout"},
]


def space() -> dict:
    return {"mitigation": grid(MITIGATIONS)}


def smoke_space() -> dict:
    return {"mitigation": grid([MITIGATIONS[0], MITIGATIONS[2]])}
