"""Study: how the D:G update ratio (1:5 ... 5:1, and the classic reports' 3:1)
affects quality and mode collapse, for the non-saturating GAN loss and for
WGAN-GP.

    python -m studies.dg_ratio              # 24 trials; its time on 2 CPU cores: docs/studies.md
    python -m studies.dg_ratio --smoke      # a quick check of the whole path, not an answer
    python -m studies.dg_ratio --dataset grid25 --seeds 3
    python -m studies.dg_ratio --address auto --dataset folder:/data/faces --gpus-per-trial 0.25

Trials get the same number of network updates (8,400; a 5:1 round is 6
updates, a 1:1 round 2), the fair unit across ratios, so the answer does
not depend on the machine's speed: the same seeds give the same table on
any machine of the same CPU type. Two seeds a side give intervals, never a verdict: the claims
this study answers (R4, R10, R11) are decided by `--decide`, which adds
seeds until each comparison is (FINDINGS.md).
"""

import sys

from search_spaces import dg_ratio
from studies.declare.study import CPU_IMAGES, SMOKE, Study

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
    from studies.declare.cli import main

    sys.exit(main(STUDY))
