"""Study: mode collapse and what mitigates it.

The baseline is a setting known to collapse: the non-saturating GAN with five
G updates per D update (a seed report's collapsed 1:5 run; on stacked-digits
it covers a few dozen of the 1,000 modes). Each other row adds one
mitigation with the optimizer and the step budget fixed: WGAN-GP, PacGAN
packing, minibatch stddev, one-sided label smoothing, an EMA of G, DiffAugment.
A fixed step budget (not a time cap) so every row gets the same updates: 800
rounds, because at 1:5 the baseline spends its first ~500 rounds producing
blobs (poor, not yet collapsed) before it settles on a few dozen plausible
modes, which is the collapse the mitigations are meant to prevent.

    python -m studies.mode_collapse         # ~20 min on a 2-core CPU
    python -m studies.mode_collapse --smoke
"""

import sys

from search_spaces import mode_collapse
from studies.runner import CPU_IMAGES, SMOKE, Study

STUDY = Study(
    name="mode_collapse",
    summary="a collapsing setting (bce, D:G 1:5) vs wgan-gp, packing, mbstd, smoothing, EMA, DiffAugment",
    base={**CPU_IMAGES, "g_steps": 5, "max_steps": 800, "eval_every": 40},
    space=mode_collapse.space,
    seeds=2,
    smoke={**SMOKE, "max_seconds": 0.0},  # 30 rounds, 3 evaluations
    smoke_space=mode_collapse.smoke_space,
    data_kinds=("images",),
    columns=("quality", "reverse_kl"),
)

if __name__ == "__main__":
    sys.exit(STUDY.main())
