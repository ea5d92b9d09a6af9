"""The `pbt` study's starting population and what population-based training may
change in it: D's and G's learning rates on a ladder of factors of two, and the
D:G ratio among the `dg_ratio` study's ratios (a bundle, shown as `ratio=2:1`).
PBT's explore step moves a value to a neighbour in its list (or, a quarter of
the time, draws it from the whole list)."""

from search_spaces.common import grid
from search_spaces.dg_ratio import RATIOS, ratio

LEARNING_RATES = [2.5e-5, 5e-5, 1e-4, 2e-4, 4e-4, 8e-4]  # DCGAN's 2e-4 in the middle


def space() -> dict:
    """Eight members: D and G each slow or fast (1e-4, 4e-4), at 1:1 and 2:1."""
    return {
        "lr_d": grid([1e-4, 4e-4]),
        "lr_g": grid([1e-4, 4e-4]),
        "ratio": grid([ratio(1, 1), ratio(2, 1)]),
    }


def smoke_space() -> dict:
    """Two members, enough for one to copy the other."""
    return {"lr_d": 2e-4, "lr_g": 2e-4, "ratio": grid([ratio(1, 1), ratio(2, 1)])}


def mutations() -> dict:
    return {"lr_d": LEARNING_RATES, "lr_g": LEARNING_RATES, "ratio": [ratio(d, g) for d, g in RATIOS]}
