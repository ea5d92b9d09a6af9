"""Study: mode collapse and what mitigates it.

The baseline is a setting that collapses: the non-saturating GAN with a
discriminator a quarter of G's width (ndf 8 against ngf 32, the weak-D setup
of the unrolled-GAN and PacGAN stacked-MNIST experiments) and two G updates
per D update. On stacked-digits it learns plausible digits (quality ~0.3)
but settles on a few dozen of the 1,000 modes from about round 550 on, which
the collapse stopper flags. Each other row adds one mitigation with the
optimizer and the step budget fixed: WGAN-GP, PacGAN packing, minibatch
stddev, one-sided label smoothing, an EMA of G, DiffAugment. Every row gets
the same work: 3,000 network updates (1,000 rounds of one D and two G updates).

    python -m studies.mode_collapse         # 14 trials; its time on 2 CPU cores: docs/studies.md
    python -m studies.mode_collapse --smoke      # a quick check of the whole path, not an answer
"""

import sys

from search_spaces import mode_collapse
from studies.declare.study import CPU_IMAGES, SMOKE, Study

STUDY = Study(
    name="mode_collapse",
    summary="a collapsing setting (bce, weak D, D:G 1:2) vs wgan-gp, packing, mbstd, smoothing, EMA, DiffAugment",
    base={**CPU_IMAGES, "batch_size": 64, "ndf": 8, "g_steps": 2, "max_steps": 3000, "eval_every": 150},
    space=mode_collapse.space,
    seeds=2,
    smoke=SMOKE,
    smoke_space=mode_collapse.smoke_space,
    data_kinds=("images",),
    columns=("quality", "reverse_kl"),
)

if __name__ == "__main__":
    from studies.declare.cli import main

    sys.exit(main(STUDY))
