"""Label smoothing presets for the non-saturating GAN: none, one-sided 0.9,
two-sided soft ranges (real 0.7-1.2, fake 0.0-0.3), and soft plus 5% flips."""

from ray import tune

from search_spaces.common import SMOOTHING


def space() -> dict:
    return {"smoothing": tune.grid_search([{"_preset": name, **values} for name, values in SMOOTHING.items()])}


def smoke_space() -> dict:
    return {"smoothing": tune.grid_search([{"_preset": name, **SMOOTHING[name]} for name in ("none", "noisy")])}
