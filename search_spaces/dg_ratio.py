"""D:G update ratios from 1:5 to 5:1, crossed with the non-saturating GAN
loss and WGAN-GP, each with the optimizer settings its paper uses."""

from ray import tune

RATIOS = [(1, 5), (1, 2), (1, 1), (2, 1), (5, 1)]  # (d_steps, g_steps)

LOSSES = {
    # Radford et al. 2016: Adam 2e-4, beta1 0.5, batch norm in D
    "bce": {"loss": "bce", "opt_d": "adam", "opt_g": "adam", "lr_d": 2e-4, "lr_g": 2e-4,
            "betas_d": (0.5, 0.999), "betas_g": (0.5, 0.999), "norm_d": "batch"},
    # Gulrajani et al. 2017: Adam 1e-4, betas (0, 0.9), lambda 10, no batch norm in the critic (layer norm)
    "wgan-gp": {"loss": "wgan-gp", "opt_d": "adam", "opt_g": "adam", "lr_d": 1e-4, "lr_g": 1e-4,
                "betas_d": (0.0, 0.9), "betas_g": (0.0, 0.9), "gp_weight": 10.0, "norm_d": "layer"},
}


def ratio(d_steps: int, g_steps: int) -> dict:
    return {"d_steps": d_steps, "g_steps": g_steps}


def space() -> dict:
    return {
        "loss_setup": tune.grid_search(list(LOSSES.values())),
        "ratio": tune.grid_search([ratio(d, g) for d, g in RATIOS]),
    }


def smoke_space() -> dict:
    """Two losses x the two extreme ratios: four short trials."""
    return {
        "loss_setup": tune.grid_search(list(LOSSES.values())),
        "ratio": tune.grid_search([ratio(1, 5), ratio(5, 1)]),
    }
