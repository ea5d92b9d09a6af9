"""Study: which architecture? DCGAN, an Upsample+Conv generator with a
dropout discriminator, DCGAN with an extra 3x3 block in G and D, the SNGAN
ResNet, and a VAE as the non-adversarial baseline row, over two seeds with
equal wall-clock time per trial (a ResNet step costs more than a DCGAN step:
the comparison is per unit of compute).

    python -m studies.architecture          # ~11 min on a 2-core CPU
    python -m studies.architecture --smoke
    python -m studies.architecture --address auto --dataset folder:/data/celeba --image-size 64
"""

import sys

from search_spaces import architecture
from studies.runner import CPU_IMAGES, SMOKE, Study

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
    sys.exit(STUDY.main())
