"""Training tips from the classic reports: the latent distribution, SGD in
place of Adam for D, G or both, an adaptive D that skips its update while
it is winning (with the hflip and soft labels the reports paired it with),
and G updated before D in each round."""

from search_spaces.common import grid

SGD = {"lr": 0.01}  # plain SGD needs a far larger step than Adam's 2e-4

TIPS = [
    {"_tip": "baseline"},
    {"_tip": "latent-uniform", "latent": "uniform"},
    {"_tip": "latent-sphere", "latent": "sphere"},
    {"_tip": "sgd-d", "opt_d": "sgd", "lr_d": SGD["lr"]},
    {"_tip": "sgd-g", "opt_g": "sgd", "lr_g": SGD["lr"]},
    {"_tip": "sgd-both", "opt_d": "sgd", "lr_d": SGD["lr"], "opt_g": "sgd", "lr_g": SGD["lr"]},
    # the reports' adaptive D (R10): skip D's update while its loss is under 0.5, with hflip and soft labels
    {"_tip": "adaptive-d", "d_skip_below": 0.5, "hflip": True, "real_label": (0.9, 1.1), "fake_label": (0.0, 0.2)},
    {"_tip": "g-first", "order": "g_first"},
]


def space() -> dict:
    return {"tip": grid(TIPS)}


def smoke_space() -> dict:
    return {"tip": grid([TIPS[0], TIPS[6]])}
