"""Settings several studies share: each loss family with the optimizer, D:G
ratio and D normalization its paper uses, and the label-smoothing presets.
A loss of `gan_core.losses.LOSSES` without a recipe here trains under the
DCGAN recipe (the `bce` one), so a new loss joins the studies unchanged."""

def grid(options) -> dict:
    """A grid over these options, as Ray Tune reads it (what `tune.grid_search` returns), without importing
    Ray: listing the studies and printing their help load no heavy module."""
    return {"grid_search": list(options)}


LOSS_SETUPS = {
    # Goodfellow et al. 2014 losses under the DCGAN recipe (Radford et al. 2016): Adam 2e-4, beta1 0.5, batch norm
    "bce": {"loss": "bce", "opt_d": "adam", "opt_g": "adam", "lr_d": 2e-4, "lr_g": 2e-4,
            "betas_d": (0.5, 0.999), "betas_g": (0.5, 0.999), "norm_d": "batch", "d_steps": 1},
    "minimax": {"loss": "minimax", "opt_d": "adam", "opt_g": "adam", "lr_d": 2e-4, "lr_g": 2e-4,
                "betas_d": (0.5, 0.999), "betas_g": (0.5, 0.999), "norm_d": "batch", "d_steps": 1},
    # Arjovsky et al. 2017: RMSprop 5e-5, clip 0.01, 5 critic steps
    "wgan": {"loss": "wgan", "opt_d": "rmsprop", "opt_g": "rmsprop", "lr_d": 5e-5, "lr_g": 5e-5,
             "clip_value": 0.01, "norm_d": "batch", "d_steps": 5},
    # Gulrajani et al. 2017: Adam 1e-4, betas (0, 0.9), lambda 10, 5 critic steps, no batch norm in the critic
    "wgan-gp": {"loss": "wgan-gp", "opt_d": "adam", "opt_g": "adam", "lr_d": 1e-4, "lr_g": 1e-4,
                "betas_d": (0.0, 0.9), "betas_g": (0.0, 0.9), "gp_weight": 10.0, "norm_d": "layer", "d_steps": 5},
    # Mao et al. 2017: Adam 2e-4, beta1 0.5
    "lsgan": {"loss": "lsgan", "opt_d": "adam", "opt_g": "adam", "lr_d": 2e-4, "lr_g": 2e-4,
              "betas_d": (0.5, 0.999), "betas_g": (0.5, 0.999), "norm_d": "batch", "d_steps": 1},
    # Miyato et al. 2018 (SNGAN, hinge loss): Adam 2e-4, betas (0, 0.9), 5 D steps, spectral norm
    "hinge": {"loss": "hinge", "opt_d": "adam", "opt_g": "adam", "lr_d": 2e-4, "lr_g": 2e-4,
              "betas_d": (0.0, 0.9), "betas_g": (0.0, 0.9), "norm_d": "spectral", "d_steps": 5},
}


def loss_setup(name: str, **changes) -> dict:
    """The named loss with its paper's optimizer and D:G ratio (else the DCGAN recipe); `changes` override."""
    recipe = LOSS_SETUPS[name] if name in LOSS_SETUPS else {**LOSS_SETUPS["bce"], "loss": name}
    return {**recipe, **changes}


def optimizer_setup(name: str) -> dict:
    """The named loss with its paper's optimizer, leaving the D:G ratio to the study."""
    return {k: v for k, v in loss_setup(name).items() if k != "d_steps"}


SMOOTHING = {
    "none": {"real_label": (1.0, 1.0), "fake_label": (0.0, 0.0), "label_flip": 0.0},
    "one-sided": {"real_label": (0.9, 0.9), "fake_label": (0.0, 0.0), "label_flip": 0.0},  # Salimans et al. 2016
    "two-sided": {"real_label": (0.7, 1.2), "fake_label": (0.0, 0.3), "label_flip": 0.0},  # soft labels (ganhacks)
    "noisy": {"real_label": (0.7, 1.2), "fake_label": (0.0, 0.3), "label_flip": 0.05},  # soft and occasionally flipped
}
