"""Every loss family of `gan_core.losses.LOSSES`, each with the optimizer,
D:G ratio and D normalization of its paper (see `search_spaces.common.LOSS_SETUPS`)."""

from search_spaces.common import grid, loss_setup


def space() -> dict:
    from gan_core.losses import LOSSES  # the registry, read when the space is built (listing studies loads no torch)

    return {"loss_setup": grid([loss_setup(name) for name in LOSSES])}


def smoke_space() -> dict:
    return {"loss_setup": grid([loss_setup("bce"), loss_setup("wgan")])}
