"""Study: the training tips of the classic reports: uniform or spherical z
instead of normal, SGD instead of Adam for D, G or both, an adaptive D that
skips its update while its loss is under 0.3, and G updated before D in each
round (claim R12), over two seeds.

    python -m studies.training_tips         # 16 trials; its time on 2 CPU cores: docs/studies.md
    python -m studies.training_tips --smoke      # a quick check of the whole path, not an answer
"""

import sys

from search_spaces import training_tips
from studies.declare.study import CPU_IMAGES, SMOKE, Study

STUDY = Study(
    name="training_tips",
    summary="latent normal/uniform/sphere, SGD vs Adam on D, G or both, adaptive D, G before D",
    base=CPU_IMAGES,
    space=training_tips.space,
    seeds=2,
    smoke=SMOKE,
    smoke_space=training_tips.smoke_space,
    columns=("quality", "d_skip_rate"),
    data_kinds=("images",),  # the adaptive-D row mirrors images (hflip), as the reports paired it
)

if __name__ == "__main__":
    from studies.declare.cli import main

    sys.exit(main(STUDY))
