"""Sample-set scores, for datasets whose modes are unknown (cifar10, celeba, image folders).

Without known modes there is nothing to count, so `diversity`, `quality` and
`score` come from sample-set metrics (`gan_core.metrics`) of the generated set
against a real reference set of the same size, each taken relative
(`gan_core.relative.relative`) to what a second real set of that size reaches
against the same reference (the baseline: what real data itself achieves with
N samples):

    quality   = relative(precision, precision_real)
    diversity = relative(coverage, coverage_real)
                * relative(1 - ms_ssim, 1 - ms_ssim_real)
    score     = diversity * quality

coverage (Naeem et al. 2020) is the share of real samples with a generated
sample among their k nearest neighbours: it falls as modes go missing, and
unlike recall it is not fooled by scattered noise. The MS-SSIM factor falls
when generated images resemble one another more than real images do (Odena
et al. 2017): a generator that ignores z scores 0 whatever its coverage.
`ms_ssim_real` is the metric's own real-pairs value (the reference set's).

Datasets with known modes are scored by `gan_core.mode_scores` instead;
`gan_core.evaluation` decides which applies and runs the metrics.
"""

from __future__ import annotations

import torch

from gan_core import metrics as metric_lib
from gan_core.relative import relative

SCORE_METRICS = ("prdc", "ms_ssim")  # what diversity and quality need
BASELINE_SEED = 8765  # the second real set's draw (the reference set's is gan_core.evaluation.METRICS_REAL_SEED)


def real_baseline(reference: metric_lib.Reference, sample, n: int, device: torch.device) -> dict[str, float]:
    """The metrics of a second real set of n samples (drawn with BASELINE_SEED) against the reference."""
    second = sample(n, torch.Generator().manual_seed(BASELINE_SEED)).cpu()
    return metric_lib.score_against(reference, second, device)


def relative_sample_scores(values: dict[str, float], baseline: dict[str, float]) -> dict[str, float]:
    """diversity, quality and score of a generated set's metrics, given the real baseline's (see the module docstring)."""
    quality = relative(values["precision"], baseline["precision"])
    similarity = relative(1.0 - values["ms_ssim"], 1.0 - values["ms_ssim_real"])
    diversity = relative(values["coverage"], baseline["coverage"]) * similarity
    return {"diversity": diversity, "quality": quality, "score": diversity * quality}
