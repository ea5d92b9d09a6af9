"""Unconditional against conditional generation on labelled digits: cGAN
(with and without a matching-aware D), ACGAN and a projection D."""

from ray import tune

CONDITIONINGS = [
    {"conditioning": "none"},
    {"conditioning": "cgan"},
    {"conditioning": "cgan", "matching_aware": True},
    {"conditioning": "acgan"},
    {"conditioning": "projection"},
]


def space() -> dict:
    return {"conditioning": tune.grid_search(CONDITIONINGS)}


def smoke_space() -> dict:
    return {"conditioning": tune.grid_search([CONDITIONINGS[1], CONDITIONINGS[3]])}
