"""Study: normalization in D (batch, spectral, layer, none) crossed with the
input normalization ([-1, 1] against ImageNet mean/std, which a seed report
found untrainable), over two seeds.

    python -m studies.normalization         # 16 trials; its time on 2 CPU cores: docs/studies.md
    python -m studies.normalization --smoke      # a quick check of the whole path, not an answer
"""

import sys

from search_spaces import normalization
from studies.declare.study import CPU_IMAGES, SMOKE, Study

STUDY = Study(
    name="normalization",
    summary="D norm (batch, spectral, layer, none) x input norm (tanh [-1, 1] vs ImageNet mean/std)",
    base=CPU_IMAGES,
    space=normalization.space,
    seeds=2,
    smoke=SMOKE,
    smoke_space=normalization.smoke_space,
    data_kinds=("images",),
    columns=("quality", "d_real", "d_fake"),
)

if __name__ == "__main__":
    from studies.declare.cli import main

    sys.exit(main(STUDY))
