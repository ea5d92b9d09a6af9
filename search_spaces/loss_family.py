"""Every loss family of `gan_core.losses.LOSSES`, each with the optimizer,
D:G ratio and D normalization of its paper (see `search_spaces.common.LOSS_SETUPS`)."""

from ray import tune

from gan_core.losses import LOSSES
from search_spaces.common import loss_setup


def space() -> dict:
    return {"loss_setup": tune.grid_search([loss_setup(name) for name in LOSSES])}


def smoke_space() -> dict:
    return {"loss_setup": tune.grid_search([loss_setup("bce"), loss_setup("wgan")])}
