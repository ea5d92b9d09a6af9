"""Study: conditional generation. Unconditional against cGAN (and its
matching-aware D, which also rejects real images with wrong labels), ACGAN
(auxiliary classifier; `aux_acc_real`, `aux_acc_fake`) and a projection D, on
labelled single digits. `cond_acc` is how often the reference classifier reads
the digit the generator was asked for.

    python -m studies.conditional           # 14 trials; its time on 2 CPU cores: docs/studies.md
    python -m studies.conditional --smoke      # a quick check of the whole path, not an answer
    python -m studies.conditional --dataset folder:/data/anime   # a labels.csv of hair/eye tags
"""

import sys

from search_spaces import conditional
from studies.declare.study import CPU_IMAGES, SMOKE, Study

STUDY = Study(
    name="conditional",
    summary="unconditional vs cgan (plain, matching-aware) vs acgan vs projection D on labelled digits",
    base={**CPU_IMAGES, "dataset": "digits"},
    space=conditional.space,
    seeds=2,
    smoke={**SMOKE, "dataset": "digits"},
    smoke_space=conditional.smoke_space,
    data_kinds=("images",),
    columns=("cond_acc", "aux_acc_real", "aux_acc_fake"),
)

if __name__ == "__main__":
    from studies.declare.cli import main

    sys.exit(main(STUDY))
