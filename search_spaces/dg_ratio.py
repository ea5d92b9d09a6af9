"""D:G update ratios from 1:5 to 5:1 (3:1, the classic reports' choice, among them), crossed with the non-saturating GAN
loss and WGAN-GP, each with the optimizer settings its paper uses (the ratio
replaces the paper's own)."""

from search_spaces.common import grid, optimizer_setup

RATIOS = [(1, 5), (1, 2), (1, 1), (2, 1), (3, 1), (5, 1)]  # (d_steps, g_steps); 3:1 is the reports' (R4)


def ratio(d_steps: int, g_steps: int) -> dict:
    """A D:G ratio bundle, shown as `ratio=1:5` in labels (both sides, always)."""
    return {"_ratio": f"{d_steps}:{g_steps}", "d_steps": d_steps, "g_steps": g_steps}


def space() -> dict:
    return {
        "loss_setup": grid([optimizer_setup("bce"), optimizer_setup("wgan-gp")]),
        "ratio": grid([ratio(d, g) for d, g in RATIOS]),
    }


def smoke_space() -> dict:
    """Two losses x the two extreme ratios: four short trials."""
    return {
        "loss_setup": grid([optimizer_setup("bce"), optimizer_setup("wgan-gp")]),
        "ratio": grid([ratio(1, 5), ratio(5, 1)]),
    }
