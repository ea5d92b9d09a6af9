"""Generator/discriminator architectures, with a VAE as the non-adversarial
baseline row. The VAE takes the learning rate usual for VAEs (Adam 1e-3)."""

from search_spaces.common import grid

ARCHITECTURES = [
    {"arch": "dcgan"},
    {"arch": "upsample"},
    {"arch": "dcgan-deep"},
    # SNGAN's ResNet, trained with spectral norm in D, at a quarter of the default width: at full width a
    # round costs ~28 DCGAN rounds on one CPU thread, at this width ~5, so equal work stays affordable
    {"arch": "resnet", "norm_d": "spectral", "ngf": 8, "ndf": 16},
    {"arch": "vae", "lr_g": 1e-3, "lr_d": 1e-3, "betas_g": (0.9, 0.999), "betas_d": (0.9, 0.999)},
]


def space() -> dict:
    return {"architecture": grid(ARCHITECTURES)}


def smoke_space() -> dict:
    return {"architecture": grid([ARCHITECTURES[1], ARCHITECTURES[4]])}
