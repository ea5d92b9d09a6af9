"""Study: how the D:G update ratio (1:5 ... 5:1) affects quality and mode
collapse, for the non-saturating GAN loss and for WGAN-GP.

    python -m studies.dg_ratio              # ~15 min on a 2-core CPU (stacked-digits, 1,000 modes)
    python -m studies.dg_ratio --smoke      # under a minute
    python -m studies.dg_ratio --dataset grid25 --seeds 3
    python -m studies.dg_ratio --address auto --dataset folder:/data/faces   # on a cluster

Trials get a wall-clock cap instead of a step count: a 5:1 round costs about
three times a 1:1 round, so equal time is the fair comparison. Two minutes is
about what it takes on one CPU thread to tell the settings apart: a DCGAN at
1:1 covers ~500 of the 1,000 modes by then, while 1:5 stays collapsed on a few
dozen and 5:1 (BCE) is still held back by an overconfident D.
"""

import sys

from search_spaces import dg_ratio
from studies.runner import Study

STUDY = Study(
    name="dg_ratio",
    summary="D:G update ratio 1:5 .. 5:1 x {bce, wgan-gp} over seeds: quality and mode collapse",
    base=dict(dataset="stacked-digits", arch="dcgan", image_size=32, nz=64, ngf=32, ndf=32,
              batch_size=64, max_steps=100_000, max_seconds=120.0, eval_every=50, eval_samples=1000),
    space=dg_ratio.space,
    seeds=2,
    smoke=dict(ngf=16, ndf=16, nz=32, batch_size=32, max_steps=40, max_seconds=20.0,
               eval_every=10, eval_samples=500),
    smoke_space=dg_ratio.smoke_space,
)

if __name__ == "__main__":
    sys.exit(STUDY.main())
