"""Study: a hyperparameter search instead of a grid. Optuna's TPE proposes
the loss family and its knobs from a conditional space (clip value only for
WGAN, penalty weight only for WGAN-GP, smoothing only where it applies), and
ASHA stops the poor proposals early.

    python -m studies.tune                  # 16 trials; its time on 2 CPU cores: docs/studies.md
    python -m studies.tune --num-samples 64 --address auto
    python -m studies.tune --smoke      # a quick check of the whole path, not an answer
"""

import sys

from search_spaces import tune
from studies.declare.study import CPU_IMAGES, SMOKE, Study

STUDY = Study(
    name="tune",
    summary="Optuna TPE over loss family and its knobs (a conditional space) under ASHA",
    base=CPU_IMAGES,
    space=tune.space,
    search="optuna",
    num_samples=16,
    smoke=SMOKE,
    smoke_num_samples=2,
)

if __name__ == "__main__":
    from studies.declare.cli import main

    sys.exit(main(STUDY))
