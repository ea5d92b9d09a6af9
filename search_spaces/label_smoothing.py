"""Label smoothing presets for the non-saturating GAN: none, one-sided 0.9,
two-sided soft ranges (real 0.7-1.2, fake 0.0-0.3), and soft plus 5% flips."""

from search_spaces.common import SMOOTHING, grid


def space() -> dict:
    return {"smoothing": grid([{"_preset": name, **values} for name, values in SMOOTHING.items()])}


def smoke_space() -> dict:
    return {"smoothing": grid([{"_preset": name, **SMOOTHING[name]} for name in ("none", "noisy")])}
