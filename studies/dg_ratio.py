"""Study: how the D:G update ratio (1:5 ... 5:1) affects quality and mode
collapse, for the non-saturating GAN loss and for WGAN-GP.

    python -m studies.dg_ratio              # 20 trials; its time on 2 CPU cores: README, The studies
    python -m studies.dg_ratio --smoke      # a quick check of the whole path, not an answer
    python -m studies.dg_ratio --dataset grid25 --seeds 3
    python -m studies.dg_ratio --address auto --dataset folder:/data/faces --gpus-per-trial 0.25

Trials get a wall-clock cap instead of a step count: a 5:1 round costs about
three times a 1:1 round, so equal time is the fair comparison. Two minutes on
one CPU thread tells the settings apart: measured here, BCE at 1:1 covers ~500
of the 1,000 modes (score ~0.24) with both seeds, while 1:5 stays on 2-6 modes
and 5:1 is held back by an overconfident D (1-30 modes); WGAN-GP spreads over
100-190 modes but its samples are still blurry (quality near 0) at two minutes.
"""

import sys

from search_spaces import dg_ratio
from studies.runner import CPU_IMAGES, SMOKE, Study

STUDY = Study(
    name="dg_ratio",
    summary="D:G update ratio 1:5 .. 5:1 x {bce, wgan-gp} over seeds: quality and mode collapse",
    base=CPU_IMAGES,
    space=dg_ratio.space,
    seeds=2,
    smoke=SMOKE,
    smoke_space=dg_ratio.smoke_space,
)

if __name__ == "__main__":
    sys.exit(STUDY.main())
