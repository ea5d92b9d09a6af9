"""Study: which GAN loss, each trained the way its paper trains it?

bce (non-saturating), minimax, wgan (clip 0.01, RMSprop 5e-5, 5 critic
steps), wgan-gp (lambda 10, Adam 1e-4 (0, 0.9), 5 critic steps), lsgan and
hinge (spectral norm, Adam 2e-4 (0, 0.9), 5 D steps), over two seeds, with
the same training work per trial: 8,400 network updates, whatever the ratio.

    python -m studies.loss_family           # 12 trials; its time on 2 CPU cores: docs/studies.md
    python -m studies.loss_family --smoke      # a quick check of the whole path, not an answer
    python -m studies.loss_family --address auto --dataset folder:/data/anime --gpus-per-trial 0.25
"""

import sys

from search_spaces import loss_family
from studies.declare.study import CPU_IMAGES, SMOKE, Study

STUDY = Study(
    name="loss_family",
    summary="bce vs minimax vs wgan vs wgan-gp vs lsgan vs hinge, each with its paper's optimizer",
    base=CPU_IMAGES,
    space=loss_family.space,
    seeds=2,
    smoke=SMOKE,
    smoke_space=loss_family.smoke_space,
)

if __name__ == "__main__":
    from studies.declare.cli import main

    sys.exit(main(STUDY))
