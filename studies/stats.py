"""Statistics over seeds for study reports: interval estimates, not single runs.

Pure functions of small arrays of per-seed values (numpy only), after
rliable (Agarwal et al. 2021, "Deep Reinforcement Learning at the Edge of the
Statistical Precipice", NeurIPS):

    mean_ci(x)              mean of x and its 95% percentile-bootstrap interval:
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
    mann_whitney_p(x, y)    two-sided p-value of the Mann-Whitney U test (scipy;
                            exact for small samples without ties)
    verdict(interval, ...)  "better" when the interval lies above 1/2 and the
                            test rejects "no difference" at 5%, "worse" when it
                            lies below and the test rejects, else "no detectable
                            difference with n seeds"

A bootstrap needs at least two values on each side: with one seed the
interval is None and the verdict says no difference is detectable. The test
is there because a percentile bootstrap of P(X > Y) is [1, 1] whenever every
x beats every y, at any n: with 2 seeds a side that happens by chance a third
of the time (either way), and the exact test's smallest p-value there is 1/3.
So 2 seeds a side never give a verdict, 3 a side cannot either (1/10), and 4
a side can (1/35).
The resampling is seeded, so a report is the same every time it is built.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

CONFIDENCE = 0.95  # two-sided level of every interval
ALPHA = 0.05  # two-sided level of the Mann-Whitney test behind a verdict
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


@dataclass(frozen=True)
class Comparison:
    p: float  # P(X > Y)
    ci: Interval | None  # its 95% bootstrap interval; None when a side has fewer than 2 values
    p_value: float | None  # two-sided Mann-Whitney p-value; None when a side has fewer than 2 values
    verdict: str  # better / worse / no detectable difference with n seeds


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


def mann_whitney_p(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Two-sided p-value of the Mann-Whitney U test of x against y; None if a side has < 2 values."""
    from scipy.stats import mannwhitneyu  # scipy is slow to import; only reports need it

    a, b = _values(x), _values(y)
    if len(a) < 2 or len(b) < 2:
        return None
    if np.ptp(np.concatenate([a, b])) == 0:
        return 1.0  # every value equal: nothing to tell apart (scipy returns NaN)
    return float(mannwhitneyu(a, b, alternative="two-sided", method="auto").pvalue)


def verdict(interval: Interval | None, n_x: int, n_y: int, p_value: float | None = None) -> str:
    """Words for P(X > Y): better (interval above 1/2 and the test's p-value under ALPHA), worse (below,
    and the same test), or no detectable difference."""
    significant = p_value is not None and p_value < ALPHA
    if significant and interval is not None and interval[0] > 0.5:
        return "better"
    if significant and interval is not None and interval[1] < 0.5:
        return "worse"
    seeds = f"{n_x}" if n_x == n_y else f"{n_x} and {n_y}"
    return f"no detectable difference with {seeds} seed{'s' if max(n_x, n_y) > 1 else ''}"


def compare(x: Sequence[float], y: Sequence[float]) -> Comparison:
    """P(X > Y), its interval, the test's p-value and the verdict in words."""
    interval, p_value = prob_improvement_ci(x, y), mann_whitney_p(x, y)
    return Comparison(prob_improvement(x, y), interval, p_value, verdict(interval, len(x), len(y), p_value))
