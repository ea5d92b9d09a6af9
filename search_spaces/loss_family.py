"""The six loss families, each with the optimizer, D:G ratio and D
normalization of its paper (see `search_spaces.common.LOSS_SETUPS`)."""

from ray import tune

from search_spaces.common import LOSS_SETUPS, loss_setup


def space() -> dict:
    return {"loss_setup": tune.grid_search([loss_setup(name) for name in LOSS_SETUPS])}


def smoke_space() -> dict:
    return {"loss_setup": tune.grid_search([loss_setup("bce"), loss_setup("wgan")])}
