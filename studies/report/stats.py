"""Statistics over seeds for study reports: interval estimates and P(X > Y), not single runs.

Pure functions of small arrays of per-seed values, higher values better (negate both sides of a
lower-is-better metric), after rliable (Agarwal et al. 2021, "Deep Reinforcement Learning at the
Edge of the Statistical Precipice", NeurIPS), numpy only:

    bootstrap_ci(x)         mean of x and its 95% percentile-bootstrap interval:
                            resample the n seeds with replacement B times, take
                            the 2.5th and 97.5th percentiles of the B means
    iqm(x)                  interquartile mean: the mean of the middle half of the
                            sorted values (25% trimmed from each end), n >= 4
    wilson(k, n)            95% Wilson score interval of a rate k / n
    prob_improvement(x, y)  P(X > Y) = (1 / nm) sum_i sum_j S(x_i, y_j), with
                            S = 1 if x_i > y_j, 1/2 if equal, 0 otherwise: the
                            Mann-Whitney U of x over n m
    prob_improvement_ci     its percentile-bootstrap interval, x and y resampled
                            separately (a stratified bootstrap, one stratum per
                            setting)

The tests, margins, power and looks behind a verdict are in `studies.report.verdicts`.
The resampling is seeded, so a report is the same every time it is built.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

CONFIDENCE = 0.95  # two-sided level of every interval
RESAMPLES = 10_000  # bootstrap resamples: percentile error well under 0.01 of the spread at n <= 20
SEED = 0  # the bootstrap's generator: the same inputs give the same interval
IQM_MIN = 4  # fewest values an interquartile mean is given for (rliable's IQM trims a quarter each end)

Interval = tuple[float, float]


@dataclass(frozen=True)
class Summary:
    n: int
    mean: float
    ci: Interval | None  # 95% bootstrap interval of the mean; None for n < 2
    iqm: float | None  # interquartile mean; None for n < IQM_MIN


def _values(x: Sequence[float]) -> np.ndarray:
    values = np.asarray(x, dtype=np.float64).ravel()
    if not np.all(np.isfinite(values)):
        raise ValueError(f"values must be finite numbers, got {values.tolist()}")
    return values


def _percentiles(samples: np.ndarray, confidence: float) -> Interval:
    alpha = 1 - confidence
    low, high = np.percentile(samples, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return float(low), float(high)


def bootstrap_ci(x: Sequence[float], statistic: Callable[[np.ndarray], np.ndarray] = lambda r: r.mean(axis=-1),
                 confidence: float = CONFIDENCE, resamples: int = RESAMPLES, seed: int = SEED) -> Interval | None:
    """Percentile-bootstrap interval of `statistic` (applied along the last axis of a (B, n) array of
    resamples); None for fewer than 2 values."""
    values = _values(x)
    if len(values) < 2:
        return None
    rng = np.random.default_rng(seed)
    resampled = values[rng.integers(0, len(values), size=(resamples, len(values)))]
    return _percentiles(statistic(resampled), confidence)


def iqm(x: Sequence[float]) -> float | None:
    """Mean of the sorted values with floor(n / 4) dropped from each end; None for n < IQM_MIN."""
    values = np.sort(_values(x))
    if len(values) < IQM_MIN:
        return None
    cut = len(values) // 4
    return float(values[cut:len(values) - cut].mean())


def summarize(x: Sequence[float]) -> Summary:
    """n, mean, its bootstrap interval and the IQM of per-seed values (n >= 1)."""
    values = _values(x)
    if len(values) == 0:
        raise ValueError("summarize needs at least one value")
    return Summary(len(values), float(values.mean()), bootstrap_ci(values), iqm(values))


def wilson(k: int, n: int, confidence: float = CONFIDENCE) -> Interval:
    """Wilson score interval of the rate k / n (n >= 1)."""
    if n < 1 or not 0 <= k <= n:
        raise ValueError(f"a rate needs 0 <= k <= n and n >= 1, got k={k}, n={n}")
    z = statistics.NormalDist().inv_cdf(1 - (1 - confidence) / 2)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def _improvement(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """P(X > Y) along the last axes: x (..., n), y (..., m) -> (...)."""
    diff = x[..., :, None] - y[..., None, :]
    return ((diff > 0) + 0.5 * (diff == 0)).mean(axis=(-2, -1))


def prob_improvement(x: Sequence[float], y: Sequence[float]) -> float:
    """P(X > Y), ties counting 1/2: the Mann-Whitney U of x divided by len(x) * len(y)."""
    a, b = _values(x), _values(y)
    if len(a) == 0 or len(b) == 0:
        raise ValueError("P(X > Y) needs values on both sides")
    return float(_improvement(a, b))


def prob_improvement_ci(x: Sequence[float], y: Sequence[float], confidence: float = CONFIDENCE,
                        resamples: int = RESAMPLES, seed: int = SEED) -> Interval | None:
    """Percentile-bootstrap interval of P(X > Y), x and y resampled separately; None if a side has < 2 values."""
    a, b = _values(x), _values(y)
    if len(a) < 2 or len(b) < 2:
        return None
    rng = np.random.default_rng(seed)
    xs = a[rng.integers(0, len(a), size=(resamples, len(a)))]
    ys = b[rng.integers(0, len(b), size=(resamples, len(b)))]
    return _percentiles(_improvement(xs, ys), confidence)


def _pair(x: Sequence[float], y: Sequence[float], paired: bool) -> tuple[np.ndarray, np.ndarray]:
    a, b = _values(x), _values(y)
    if len(a) == 0 or len(b) == 0:
        raise ValueError("a test needs values on both sides")
    if paired and len(a) != len(b):
        raise ValueError(f"paired sides must have the same length, got {len(a)} and {len(b)}")
    return a, b


def _check_margin(margin: float) -> None:
    if not margin > 0 or not math.isfinite(margin):
        raise ValueError(f"a margin must be a positive number, got {margin}")
