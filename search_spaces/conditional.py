"""Unconditional against conditional generation on labelled digits: every
conditioning of `gan_core.heads.CONDITIONINGS` (cGAN, ACGAN, a projection D),
and cGAN once more with a matching-aware D."""

from ray import tune

from gan_core import heads


def conditionings() -> list[dict]:
    """Each conditioning of the registry, cgan twice: plain and with a matching-aware D."""
    settings = []
    for name in heads.CONDITIONINGS:
        settings.append({"conditioning": name})
        if name == "cgan":
            settings.append({"conditioning": name, "matching_aware": True})
    return settings


def space() -> dict:
    return {"conditioning": tune.grid_search(conditionings())}


def smoke_space() -> dict:
    return {"conditioning": tune.grid_search([{"conditioning": "cgan"}, {"conditioning": "acgan"}])}
