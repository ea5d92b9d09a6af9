"""Generator/discriminator architectures, with a VAE as the non-adversarial
baseline row. The VAE takes the learning rate usual for VAEs (Adam 1e-3)."""

from ray import tune

ARCHITECTURES = [
    {"arch": "dcgan"},
    {"arch": "upsample"},
    {"arch": "dcgan-deep"},
    {"arch": "resnet", "norm_d": "spectral"},  # SNGAN's ResNet is trained with spectral norm in D
    {"arch": "vae", "lr_g": 1e-3, "lr_d": 1e-3, "betas_g": (0.9, 0.999), "betas_d": (0.9, 0.999)},
]


def space() -> dict:
    return {"architecture": tune.grid_search(ARCHITECTURES)}


def smoke_space() -> dict:
    return {"architecture": tune.grid_search([ARCHITECTURES[1], ARCHITECTURES[4]])}
