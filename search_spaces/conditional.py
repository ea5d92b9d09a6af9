"""Unconditional against conditional generation on labelled digits: every
conditioning of `gan_core.heads.CONDITIONINGS` (cGAN, ACGAN, a projection D),
and cGAN three more times: with a matching-aware D, and with its label fed in
raw (one-hot, no embedding layer: `label_input`), plain and matching-aware,
as the classic reports' first conditional DCGANs did (R9)."""

from search_spaces.common import grid

CGAN_VARIANTS = [{"matching_aware": True}, {"label_input": "onehot"}, {"matching_aware": True, "label_input": "onehot"}]


def conditionings() -> list[dict]:
    """Each conditioning of the registry; cgan also in each of CGAN_VARIANTS."""
    from gan_core import heads  # the registry, read when the space is built (listing studies loads no torch)

    settings = []
    for name in heads.CONDITIONINGS:
        settings.append({"conditioning": name})
        if name == "cgan":
            settings += [{"conditioning": name, **variant} for variant in CGAN_VARIANTS]
    return settings


def space() -> dict:
    return {"conditioning": grid(conditionings())}


def smoke_space() -> dict:
    return {"conditioning": grid([{"conditioning": "cgan"}, {"conditioning": "acgan"}])}
