"""Study: does label smoothing help the non-saturating GAN?

No smoothing, one-sided 0.9 (Salimans et al. 2016), two-sided soft targets
(real 0.7-1.2, fake 0.0-0.3) and soft targets with 5% flipped labels, over two
seeds.

    python -m studies.label_smoothing       # 8 trials; its time on 2 CPU cores: docs/studies.md
    python -m studies.label_smoothing --smoke      # a quick check of the whole path, not an answer
"""

import sys

from search_spaces import label_smoothing
from studies.declare.study import CPU_IMAGES, SMOKE, Study

STUDY = Study(
    name="label_smoothing",
    summary="no smoothing vs one-sided 0.9 vs two-sided soft labels vs soft and noisy (flipped) labels",
    base=CPU_IMAGES,
    space=label_smoothing.space,
    seeds=2,
    smoke=SMOKE,
    smoke_space=label_smoothing.smoke_space,
)

if __name__ == "__main__":
    from studies.declare.cli import main

    sys.exit(main(STUDY))
