"""Study: population-based training (Jaderberg et al. 2017), the schedule Ray
Tune's own DCGAN example uses. Eight DCGAN members start from a grid of
learning rates and D:G ratios; every 1,200 updates (four evaluations) after a
burn-in of 3,600 (past take-off, about 2,700 updates at 1:1 here) the bottom
quarter by `score_smooth`, and any member flagged collapsed, copy a top member's
checkpoint and go on with its learning rates and ratio moved one step
(`studies.run.population`). Each child run logs the schedule it trained with and
every exploit (docs/reading-results.md, Follow a PBT lineage).

    python -m studies.pbt                # 8 members x 12,000 updates: about the work of `tune` under ASHA
    python -m studies.pbt --smoke        # two members, five evaluations, an exploit at the 2nd and the 4th
    python -m studies.pbt --dry-run
"""

import sys

from search_spaces import pbt
from studies.declare.study import CPU_IMAGES, SMOKE, Population, Study

STUDY = Study(
    name="pbt",
    summary="population-based training of lr_d, lr_g and the D:G ratio; the weak and the collapsed copy the strong",
    base={**CPU_IMAGES, "max_steps": 12000},  # 40 evaluations: burn-in 12, then a perturbation every 4
    space=pbt.space,
    seeds=1,
    smoke=SMOKE,
    smoke_space=pbt.smoke_space,
    population=Population(pbt.mutations, burn_in=12, interval=4),
)

if __name__ == "__main__":
    from studies.declare.cli import main

    sys.exit(main(STUDY))
