"""Study: which architecture? DCGAN, an Upsample+Conv generator with a
dropout discriminator, DCGAN with an extra 3x3 block in G and D, the SNGAN
ResNet, and a VAE as the non-adversarial baseline row, over two seeds with
the same training work per trial (network updates). At its full width a ResNet
round costs ~28 DCGAN rounds on one CPU thread, so the default grid trains it at
a quarter of the width (~5 DCGAN rounds a round).

    python -m studies.architecture          # 10 trials; its time on 2 CPU cores: docs/studies.md
    python -m studies.architecture --smoke      # a quick check of the whole path, not an answer
    python -m studies.architecture --address auto --dataset folder:/data/celeba --image-size 64
"""

import sys

from search_spaces import architecture
from studies.declare.study import CPU_IMAGES, SMOKE, Study

STUDY = Study(
    name="architecture",
    summary="dcgan vs upsample+conv vs dcgan-deep vs resnet, with a VAE baseline row",
    base=CPU_IMAGES,
    space=architecture.space,
    seeds=2,
    smoke=SMOKE,
    smoke_space=architecture.smoke_space,
    data_kinds=("images",),
    columns=("quality", "sec_per_round"),
)

if __name__ == "__main__":
    from studies.declare.cli import main

    sys.exit(main(STUDY))
