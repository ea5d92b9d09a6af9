"""Unconditional against conditional generation on labelled digits: every
conditioning of `gan_core.heads.CONDITIONINGS` (cGAN, ACGAN, a projection D),
and cGAN three more times: with a matching-aware D, and with its label fed in
raw (one-hot, no embedding layer: `label_input`), plain and matching-aware,
as the classic reports' first conditional DCGANs did (R9)."""

from ray import tune

from gan_core import heads

CGAN_VARIANTS = [{"matching_aware": True}, {"label_input": "onehot"}, {"matching_aware": True, "label_input": "onehot"}]


def conditionings() -> list[dict]:
    """Each conditioning of the registry; cgan also in each of CGAN_VARIANTS."""
    settings = []
    for name in heads.CONDITIONINGS:
        settings.append({"conditioning": name})
        if name == "cgan":
            settings += [{"conditioning": name, **variant} for variant in CGAN_VARIANTS]
    return settings


def space() -> dict:
    return {"conditioning": tune.grid_search(conditionings())}


def smoke_space() -> dict:
    return {"conditioning": tune.grid_search([{"conditioning": "cgan"}, {"conditioning": "acgan"}])}
