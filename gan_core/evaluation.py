"""What one evaluation measures, for any dataset: its mode scores where it
has known modes (`gan_core.mode_scores`, through the dataset's
`score_samples`), the sample-set metrics of `gan_core.metrics` (`metrics`
knob) in a feature space (`features` knob), and, for datasets without known
modes, the sample-set scores of `gan_core.sample_scores` (`diversity`,
`quality` and `score` from those metrics).

The metrics compare the generated set with a real reference set of the same
size, drawn once with METRICS_REAL_SEED, its metric state fitted once per process,
dataset, N, metrics, feature space and device (`make_evaluator`).

Datasets with known modes keep their mode scores (the published
stacked-MNIST measures), and log any metrics asked for beside them
(`metrics=fd` gives the Frechet distance in the dataset's classifier
features); by default they compute nothing more, which keeps an evaluation
cheap beside training. Datasets without known modes compute prdc and MS-SSIM
(the score needs them), the Frechet distance and KID by default. 2-D point
datasets have no image metrics.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from gan_core import metrics as metric_lib
from gan_core.features import FEATURES
from gan_core.sample_scores import SCORE_METRICS, real_baseline, relative_sample_scores

METRICS_REAL_SEED = 4321  # the metrics' real reference set; the mode scores draw theirs with mode_scores.MODES_REAL_SEED
METRIC_SEED = 0  # MS-SSIM pairs, k-means initialisation, KID subsets
AUTO_METRICS = ("fd", "kid")  # logged beside the scores of datasets without known modes
METRIC_CHOICES = ("auto", "none")  # beside comma-separated names of gan_core.metrics.METRICS
FEATURE_CHOICES = ("auto", *FEATURES)  # classifier: the dataset's own

_EVALUATORS: dict[tuple, "Evaluator"] = {}


@dataclass(frozen=True)
class Evaluator:
    names: tuple[str, ...]  # metrics computed at every evaluation
    reference: metric_lib.Reference | None
    baseline: dict[str, float]  # the metrics of a second real set against the reference (unknown modes only)
    device: torch.device


def metric_names(data, metrics: str) -> tuple[str, ...]:
    """The metrics an evaluation computes for this dataset and `metrics` knob."""
    if data.kind == "points":
        return ()
    known_modes = data.score_samples is not None
    if metrics == "auto":
        chosen = () if known_modes else AUTO_METRICS
    else:
        chosen = () if metrics in ("none", "") else tuple(m.strip() for m in metrics.split(",") if m.strip())
    needed = () if known_modes else SCORE_METRICS
    return tuple(dict.fromkeys(needed + chosen))


def parse_metrics(text: str) -> tuple[str, ...]:
    """Validate the `metrics` knob: "auto", "none", or comma-separated metric names."""
    if text in METRIC_CHOICES:
        return ()
    names = tuple(m.strip() for m in text.split(",") if m.strip())
    unknown = [m for m in names if m not in metric_lib.METRICS]
    if unknown or not names:
        raise ValueError(f"metrics: {unknown[0] if unknown else text!r} is not one of auto, none, or a "
                         f"comma-separated list of {', '.join(metric_lib.METRICS)}")
    return names


def feature_space(data, features: str) -> str | Callable:
    """The feature extractor: the dataset's own classifier where it has one ("auto"), else the random CNN."""
    if features == "classifier" or (features == "auto" and data.features is not None):
        if data.features is None:
            raise ValueError(f"features: dataset {data.name!r} has no reference classifier; use random or inception")
        return data.features
    return "random" if features == "auto" else features


def make_evaluator(data, n: int, metrics: str, features: str, key: tuple, device: torch.device) -> Evaluator:
    """The evaluator of a run, its real side fitted once per process for (dataset, N, metrics, features, device)."""
    names = metric_names(data, metrics)
    device = torch.device(device)
    cache_key = (key, n, names, features, str(device))
    if cache_key not in _EVALUATORS:
        reference, baseline = None, {}
        if names:
            space = feature_space(data, features)
            real = data.sample(n, torch.Generator().manual_seed(METRICS_REAL_SEED)).cpu()
            reference = metric_lib.fit_reference(names, real, space, METRIC_SEED, device)
            if data.score_samples is None:
                baseline = real_baseline(reference, data.sample, n, device)
        _EVALUATORS[cache_key] = Evaluator(names, reference, baseline, device)
    return _EVALUATORS[cache_key]


def evaluate_samples(evaluator: Evaluator, data, samples: torch.Tensor) -> dict[str, float]:
    """Every score of one evaluation: mode scores, metrics, and diversity/quality/score."""
    scores = data.score_samples(samples) if data.score_samples is not None else {}
    if evaluator.reference is not None:
        values = metric_lib.score_against(evaluator.reference, samples, evaluator.device)
        scores.update(values)
        if data.score_samples is None:
            scores.update(relative_sample_scores(values, evaluator.baseline))
    return scores
