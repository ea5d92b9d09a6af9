"""What one evaluation measures, for any dataset: its mode scores where it
has known modes, the sample-set metrics of `gan_core.metrics` (`metrics`
knob) in a feature space (`features` knob), and, for datasets without known
modes, `diversity`, `quality` and `score` built from those metrics.

Without known modes (cifar10, celeba, image folders) the scores compare the
generated set with a real reference set of the same size (drawn once with a
fixed seed, its metric state fitted once), and with a second real set scored
the same way (the baseline: what real data itself achieves with N samples):

    quality   = min(1, precision / precision_real)
    diversity = min(1, coverage / coverage_real)
                * min(1, (1 - ms_ssim) / (1 - ms_ssim_real))
    score     = diversity * quality

coverage (Naeem et al. 2020) is the share of real samples with a generated
sample among their k nearest neighbours: it falls as modes go missing, and
unlike recall it is not fooled by scattered noise. The MS-SSIM factor falls
when generated images resemble one another more than real images do (Odena
et al. 2017): a generator that ignores z scores 0 whatever its coverage.

Datasets with known modes keep the definitions of `gan_core.modes` (the
published stacked-MNIST measures), and log any metrics asked for beside them
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

REFERENCE_SEED, BASELINE_SEED, METRIC_SEED = 4321, 8765, 0
SCORE_METRICS = ("prdc", "ms_ssim")  # what diversity and quality need where modes are unknown
AUTO_METRICS = ("fd", "kid")  # logged beside the scores of datasets without known modes
METRIC_CHOICES = ("auto", "none")  # beside comma-separated names of gan_core.metrics.METRICS
FEATURE_CHOICES = ("auto", *FEATURES)  # classifier: the dataset's own

_REFERENCES: dict[tuple, "Evaluator"] = {}


@dataclass(frozen=True)
class Evaluator:
    names: tuple[str, ...]  # metrics computed at every evaluation
    reference: metric_lib.Reference | None
    baseline: dict[str, float]  # the metrics of a second real set against the reference
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
    """The evaluator of a run, its real side fitted once per process for (dataset, N, metrics, features)."""
    names = metric_names(data, metrics)
    cache_key = (key, n, names, features)
    if cache_key not in _REFERENCES:
        reference, baseline = None, {}
        if names:
            space = feature_space(data, features)
            real = data.sample(n, torch.Generator().manual_seed(REFERENCE_SEED)).cpu()
            reference = metric_lib.fit_reference(names, real, space, METRIC_SEED, device)
            if data.score_samples is None:
                second = data.sample(n, torch.Generator().manual_seed(BASELINE_SEED)).cpu()
                baseline = metric_lib.score_against(reference, second, device)
        _REFERENCES[cache_key] = Evaluator(names, reference, baseline, device)
    return _REFERENCES[cache_key]


def _ratio(generated: float, real: float) -> float:
    return 1.0 if real <= 0 else max(0.0, min(1.0, generated / real))


def relative_scores(values: dict[str, float], baseline: dict[str, float]) -> dict[str, float]:
    """diversity, quality and score of a dataset without known modes (see the module docstring)."""
    quality = _ratio(values["precision"], baseline["precision"])
    similarity = _ratio(1.0 - values["ms_ssim"], 1.0 - values["ms_ssim_real"])
    diversity = _ratio(values["coverage"], baseline["coverage"]) * similarity
    return {"diversity": diversity, "quality": quality, "score": diversity * quality}


def evaluate_samples(evaluator: Evaluator, data, samples: torch.Tensor) -> dict[str, float]:
    """Every score of one evaluation: mode scores, metrics, and diversity/quality/score."""
    scores = data.score_samples(samples) if data.score_samples is not None else {}
    if evaluator.reference is not None:
        values = metric_lib.score_against(evaluator.reference, samples, evaluator.device)
        scores.update(values)
        if data.score_samples is None:
            scores.update(relative_scores(values, evaluator.baseline))
    return scores
