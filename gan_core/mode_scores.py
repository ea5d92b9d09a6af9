"""Mode scores, for datasets whose modes are known: how many of them generated samples cover, and how well.

Used by the `score_samples` of the datasets in `gan_core.datasets` (the 2-D
mixtures and the digit datasets); datasets without known modes are scored by
`gan_core.sample_scores` instead. Every scorer takes samples and returns a
dict of python floats, plus MODE_COUNTS: the histogram the coverage scores
come from (a list of ints, one per mode), and, from `score_samples`,
MODE_COUNTS_REAL, the same histogram of the real reference set, for the
report's mode figure. The only state is the cache of real-data scores.

2-D Gaussian mixtures (the PacGAN / VEEGAN protocol), K centres, common std:
  * each sample is assigned to its nearest centre; it is high quality (HQ)
    when its Euclidean distance to that centre is <= 3 * std;
  * modes_covered = number of centres that are the nearest centre of at least
    one HQ sample (the PacGAN reference code also counts a mode from a single
    HQ sample; no larger minimum count is used);
  * mode_counts = HQ samples per centre;
  * hq_ratio = number of HQ samples / N;
  * reverse_kl = KL(p || uniform_K) = sum_k p_k log(K p_k), p the histogram of
    nearest centres over the HQ samples; log(K), the value of a single-mode
    histogram and the worst possible, when no sample is HQ.

Stacked digits (1000 modes), following the stacked-MNIST protocol:
  * the samples are resized to 32x32 (bilinear, antialias) when needed; each
    of the three channels is classified by a reference classifier
    (`gan_core.classifiers`); the mode of a sample is the triple
    100 * d_R + 10 * d_G + d_B;
  * modes_covered = number of distinct triples among all N samples;
  * mode_counts = samples per triple;
  * hq_ratio = share of samples whose three channels are all classified with
    max softmax probability >= CONFIDENCE (0.9);
  * reverse_kl = KL(p || uniform_1000), p the triple histogram over all N
    samples (with N samples it cannot fall below the finite-sample value of
    real data, about 0.3 at N = 2000);
  * confidence = mean over samples of the product of the three channels' max
    softmax probabilities: the soft form of hq_ratio. hq_ratio stays near 0
    for thousands of steps while the digits sharpen (2% at 2,000 DCGAN steps
    against 80% for real data); confidence rises steadily (0.34 against 0.93),
    so it is what `quality` uses.

Single digits (10 modes): each sample is classified as above;
  * modes_covered = classes of at least one confidently classified sample;
  * mode_counts = samples per class, all N samples (what effective_modes reads);
  * effective_modes = exp(entropy of the class histogram over all N samples),
    the number of equally likely classes with the same spread (10 for real
    data, 1 for a generator that draws one digit); with only 10 modes a
    mode count saturates, so diversity uses this instead;
  * hq_ratio, reverse_kl as above (one channel); confidence = mean over
    samples of (max softmax probability - 0.1) / 0.9, the confidence above
    chance (with one channel and ten classes even noise gets 0.1).

MNIST and stacked MNIST are scored by the same formulas (single digits and
stacked digits) with their own reference classifier. The scorers take the
classifier as an argument (a function returning the model), the digits one
by default.

Relative scores, every family. The real reference is the dataset's own
`sample` with the same N, drawn from a generator seeded with MODES_REAL_SEED, scored
once per (dataset key, N) and cached in memory; `gan_core.relative.relative`
is the share (capped at 1; 1 when the real value is 0):
  * diversity = relative(m(generated), m(real)), m = modes_covered (mixtures,
                stacked digits) or effective_modes (single digits)
  * quality   = relative(q(generated), q(real)), q = hq_ratio for the 2-D
                mixtures, q = confidence for the digit datasets
  * score     = diversity * quality
"""

from __future__ import annotations

import math
from typing import Callable

import torch

from gan_core.classifiers import Classifier, digit_probabilities
from gan_core.relative import relative

HQ_STDS = 3.0
CONFIDENCE = 0.9
MODES_REAL_SEED = 1234  # the real reference set's draw (the metrics have their own: changing either changes every figure)
MODE_COUNTS = "mode_counts"  # per-mode histogram of the samples scored (not a metric: a list of ints)
MODE_COUNTS_REAL = "mode_counts_real"  # the same for the real reference set of the same N

RawScorer = Callable[[torch.Tensor], dict]  # python floats, and MODE_COUNTS

_REAL_SCORES: dict[tuple, dict[str, float]] = {}


# ---------------------------------------------------------------- histograms

def coverage_scores(counts: torch.Tensor, n_samples: int) -> dict[str, float]:
    """modes_covered, hq_ratio and reverse_kl from per-mode counts of the counted (HQ) samples among
    n_samples, and the counts themselves (MODE_COUNTS)."""
    k = counts.numel()
    total = float(counts.sum())
    if total <= 0:
        return {"modes_covered": 0.0, "hq_ratio": 0.0, "reverse_kl": math.log(k), MODE_COUNTS: counts.tolist()}
    p = counts.double() / total
    nz = p[p > 0]
    return {
        "modes_covered": float((counts > 0).sum()),
        "hq_ratio": total / n_samples,
        "reverse_kl": float((nz * (nz * k).log()).sum()),
        MODE_COUNTS: counts.tolist(),
    }


# ------------------------------------------------------------ 2-D mixtures

def mixture_assign(samples: torch.Tensor, centers: torch.Tensor, std: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Nearest centre index of each sample, and whether it lies within HQ_STDS * std of it."""
    points = samples.detach().to("cpu", torch.float64).reshape(-1, centers.shape[1])
    dist = torch.cdist(points, centers.to(torch.float64))
    nearest_dist, nearest = dist.min(dim=1)
    return nearest, nearest_dist <= HQ_STDS * std


def mixture_scores(samples: torch.Tensor, centers: torch.Tensor, std: float) -> dict[str, float]:
    """Raw PacGAN/VEEGAN scores (modes_covered, hq_ratio, reverse_kl) of points against a mixture."""
    nearest, hq = mixture_assign(samples, centers, std)
    counts = torch.bincount(nearest[hq], minlength=centers.shape[0])
    return coverage_scores(counts, nearest.numel())


# ------------------------------------------------------------------ digits

def digit_triples(samples: torch.Tensor, classifier: Classifier = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, 3, H, W) images in [0, 1] -> (triple 0..999 (N,), max softmax probability per channel (N, 3))."""
    if samples.dim() != 4 or samples.shape[1] != 3:
        raise ValueError(f"stacked digits are (N, 3, H, W) images, got shape {tuple(samples.shape)}")
    conf, digit = digit_probabilities(samples, classifier).max(1)
    digit, conf = digit.reshape(-1, 3), conf.reshape(-1, 3)
    triples = digit[:, 0] * 100 + digit[:, 1] * 10 + digit[:, 2]
    return triples, conf


def single_digit_scores(samples: torch.Tensor, classifier: Classifier = None) -> dict[str, float]:
    """Raw single-digit scores over 10 classes: modes_covered, effective_modes, hq_ratio, confidence, reverse_kl."""
    if samples.dim() != 4 or samples.shape[1] != 1:
        raise ValueError(f"digits are (N, 1, H, W) images, got shape {tuple(samples.shape)}")
    probs = digit_probabilities(samples, classifier)
    confidence, digit = probs.max(1)
    confident = confidence >= CONFIDENCE
    scores = coverage_scores(torch.bincount(digit[confident], minlength=10), digit.numel())
    every = torch.bincount(digit, minlength=10)
    scores[MODE_COUNTS] = every.tolist()
    p = every.double() / digit.numel()
    nz = p[p > 0]
    scores["effective_modes"] = float(torch.exp(-(nz * nz.log()).sum()))
    scores["reverse_kl"] = float((nz * (nz * 10).log()).sum())
    scores["confidence"] = float(((confidence - 0.1) / 0.9).mean())  # above chance: 0 for a uniform softmax
    return scores


def digit_scores(samples: torch.Tensor, classifier: Classifier = None) -> dict[str, float]:
    """Raw stacked-digits scores (modes_covered, hq_ratio, reverse_kl, confidence) over 1000 triples."""
    triples, confidence = digit_triples(samples, classifier)
    scores = coverage_scores(torch.bincount(triples, minlength=1000), triples.numel())
    scores["hq_ratio"] = float((confidence >= CONFIDENCE).all(1).float().mean())
    scores["confidence"] = float(confidence.prod(1).mean())
    return scores


# --------------------------------------------------------- relative scores

def relative_mode_scores(raw: dict[str, float], real: dict[str, float],
                         quality_key: str = "hq_ratio", diversity_key: str = "modes_covered") -> dict[str, float]:
    """Raw scores plus diversity, quality and score (see the module docstring), given real data's raw scores."""
    diversity = relative(raw[diversity_key], real[diversity_key])
    quality = relative(raw[quality_key], real[quality_key])
    return {**raw, "diversity": diversity, "quality": quality, "score": diversity * quality}


def real_scores(key: tuple, n: int, sample: Callable, raw_scorer: RawScorer) -> dict[str, float]:
    """Raw scores of n real samples from a MODES_REAL_SEED generator, cached per (key, n)."""
    if (key, n) not in _REAL_SCORES:
        real = sample(n, torch.Generator().manual_seed(MODES_REAL_SEED))
        _REAL_SCORES[(key, n)] = raw_scorer(real)
    return _REAL_SCORES[(key, n)]


def make_scorer(key: tuple, raw_scorer: RawScorer, sample: Callable, quality_key: str = "hq_ratio",
                diversity_key: str = "modes_covered") -> RawScorer:
    """A `score_samples` function: raw scores of the samples, relative to real data of the same N, and
    both mode histograms (MODE_COUNTS, MODE_COUNTS_REAL)."""

    def score_samples(samples: torch.Tensor) -> dict:
        real = real_scores(key, int(samples.shape[0]), sample, raw_scorer)
        scores = relative_mode_scores(raw_scorer(samples), real, quality_key, diversity_key)
        return {**scores, MODE_COUNTS_REAL: real[MODE_COUNTS]}

    return score_samples
