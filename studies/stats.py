"""Statistics over seeds for study reports and claim verdicts: interval estimates, tests, equivalence
margins, power and error control across looks, not single runs.

Pure functions of small arrays of per-seed values, higher values better (negate both sides of a
lower-is-better metric). Descriptive part, after rliable (Agarwal et al. 2021, "Deep Reinforcement
Learning at the Edge of the Statistical Precipice", NeurIPS), numpy only:

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

Tests (scipy and statsmodels, imported on first use: they are slow to import):

    permutation_p(x, y)     two-sided exact permutation test, tie-aware: the
                            Mann-Whitney U over every split of the pooled seeds
                            (paired: the Wilcoxon signed-rank statistic over
                            every sign flip); seeded Monte Carlo past EXACT_MAX
    mann_whitney_p(x, y)    scipy's Mann-Whitney U test (normal approximation
                            with ties); kept for comparison, the report uses
                            permutation_p
    equivalence_p(x, y, m)  TOST: |mean(x) - mean(y)| < m (Welch; paired t)
    noninferiority_p        one-sided: mean(x) > mean(y) - m, TOST's lower half
    seeds_needed            seeds a side for a two-sided t-test to detect a
                            difference m at the observed spread
    seeds_for_equivalence   seeds a side for TOST to conclude equivalence within
                            m when the true difference is 0
    spending, look_alphas   Lan-DeMets Pocock-type alpha spending: the level each
                            look of "add seeds until decided" is tested at
    decide(x, y, expect)    one claim's verdict at one look: supported /
                            contradicted (or equivalent / different) / undecided

    verdict(interval, ...)  the report's words: "better" when the interval lies
                            above 1/2 and the test rejects "no difference" at 5%,
                            "worse" when it lies below and the test rejects, else
                            "no detectable difference with n seeds" (which is not
                            "the same": only equivalence_p can say that)

A bootstrap needs at least two values on each side: with one seed the
interval is None and the verdict says no difference is detectable. The test
is there because a percentile bootstrap of P(X > Y) is [1, 1] whenever every
x beats every y, at any n: with 2 seeds a side that happens by chance a third
of the time (either way), and the exact test's smallest p-value there is 1/3.
So 2 seeds a side never give a verdict, 3 a side cannot either (1/10), and 4
a side can (2/70 = 0.0286, ties or not).
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
EXACT_MAX = 200_000  # permutation tests enumerate every split (sign flip) up to this many, ~1 s at the cap
PERMUTATIONS = 100_000  # Monte Carlo resamples past EXACT_MAX: standard error about 0.0007 at p = 0.05
POWER = 0.8  # power that seeds_needed and seeds_for_equivalence plan for
EXPECTATIONS = ("better", "same", "not_worse")  # what a claim can expect of x against y (see decide)

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
    p_value: float | None  # two-sided exact permutation p-value of U (permutation_p); None when a side has < 2 values
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
    """P(X > Y), its interval, the exact tie-aware permutation p-value of U (`permutation_p`; None when a side
    has fewer than 2 values) and the verdict in words."""
    interval = prob_improvement_ci(x, y)
    p_value = permutation_p(x, y) if len(_values(x)) >= 2 and len(_values(y)) >= 2 else None
    return Comparison(prob_improvement(x, y), interval, p_value, verdict(interval, len(x), len(y), p_value))


# Tests with ties, equivalence margins, power and looks.


def _last_axis(a: np.ndarray, axis: int) -> np.ndarray:
    return np.moveaxis(np.asarray(a), axis, -1)


def _u_over_nm(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    """P(X > Y) along `axis` (scipy's vectorized statistic signature)."""
    return _improvement(_last_axis(x, axis), _last_axis(y, axis))


def _signed_rank_plus(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    """Wilcoxon's W+ of the pairs x_i - y_i along `axis`: the sum of the midranks of |x_i - y_i| over the
    positive differences (zeros ranked with the rest and counted in neither sum, Pratt's convention)."""
    from scipy.stats import rankdata

    d = _last_axis(x, axis) - _last_axis(y, axis)
    return (rankdata(np.abs(d), axis=-1) * (d > 0)).sum(axis=-1)


def _pair(x: Sequence[float], y: Sequence[float], paired: bool) -> tuple[np.ndarray, np.ndarray]:
    a, b = _values(x), _values(y)
    if len(a) == 0 or len(b) == 0:
        raise ValueError("a test needs values on both sides")
    if paired and len(a) != len(b):
        raise ValueError(f"paired sides must have the same length, got {len(a)} and {len(b)}")
    return a, b


def _direction(a: np.ndarray, b: np.ndarray, paired: bool) -> float:
    """Which way the permutation test's statistic points, as a P(X > Y)-like number: above 1/2 when x is ahead.
    Unpaired: P(X > Y) itself. Paired: W+ / (W+ + W-) of the signed ranks (1/2 when every pair ties)."""
    if not paired:
        return float(_improvement(a, b))
    plus, minus = float(_signed_rank_plus(a, b)), float(_signed_rank_plus(b, a))
    return 0.5 if plus + minus == 0 else plus / (plus + minus)


def permutation_p(x: Sequence[float], y: Sequence[float], paired: bool = False) -> float:
    """Two-sided permutation p-value of "x and y come from the same distribution", exact and tie-aware.

    Unpaired: the statistic is P(X > Y) (the Mann-Whitney U over n m, ties 1/2), recomputed over every split
    of the pooled n + m values into n and m (scipy.stats.permutation_test, permutation_type="independent").
    Ties stay tied in every split, so the null distribution is the exact one for these values, where scipy's
    mannwhitneyu falls back to a normal approximation (4 tied values above 4 others: 2/70 = 0.0286, not 0.0211).

    Paired (x_i and y_i measured on the same trial or seed, in the same order): the statistic is the Wilcoxon
    signed-rank W+ of x_i - y_i, recomputed over every swap of x_i with y_i (permutation_type="samples"), i.e.
    every sign flip of the differences: the exact signed-rank test, with midranks for tied |differences|, zero
    differences unaffected by a flip. The signed rank rather than the mean difference: one collapsed seed's
    huge difference weighs one rank, not the whole mean, as U does for the unpaired test. Its smallest
    two-sided p-value is 2 / 2^n: 0.125 with 4 pairs, 0.0625 with 5, 0.03125 with 6.

    Two-sided as scipy defines it: twice the smaller one-sided p-value, at most 1. Exact while the number of
    splits (C(n + m, n); paired 2^n) is at most EXACT_MAX; past it, PERMUTATIONS seeded random splits, p =
    (k + 1) / (PERMUTATIONS + 1), so the same inputs give the same p-value.
    """
    from scipy.stats import permutation_test

    a, b = _pair(x, y, paired)
    count = 2 ** len(a) if paired else math.comb(len(a) + len(b), len(a))
    result = permutation_test((a, b), _signed_rank_plus if paired else _u_over_nm,
                              permutation_type="samples" if paired else "independent", vectorized=True,
                              n_resamples=np.inf if count <= EXACT_MAX else PERMUTATIONS, batch=10_000,
                              alternative="two-sided", rng=np.random.default_rng(SEED))
    return float(result.pvalue)


def _no_spread(a: np.ndarray, b: np.ndarray, paired: bool) -> bool:
    """True when the t statistic's standard error is 0: every difference equal (paired), or each side constant."""
    return bool(np.ptp(a - b) == 0) if paired else bool(np.ptp(a) == 0 and np.ptp(b) == 0)


def _limit_p(distance: float) -> float:
    """A one-sided t-test's p-value as the standard error goes to 0: 0 when the estimate lies strictly inside
    the alternative (distance > 0), 1/2 on the boundary, 1 outside."""
    return 0.0 if distance > 0 else 0.5 if distance == 0 else 1.0


def _check_margin(margin: float) -> None:
    if not margin > 0 or not math.isfinite(margin):
        raise ValueError(f"a margin must be a positive number, got {margin}")


def _two_each(a: np.ndarray, b: np.ndarray) -> None:
    if len(a) < 2 or len(b) < 2:
        raise ValueError(f"a t-test needs at least 2 values a side, got {len(a)} and {len(b)}")


def equivalence_p(x: Sequence[float], y: Sequence[float], margin: float, paired: bool = False) -> float:
    """TOST p-value of equivalence, -margin < mean(x) - mean(y) < margin: the larger of the two one-sided
    t-tests' p-values (statsmodels.stats.weightstats.ttost_ind with usevar="unequal", Welch's t with
    Satterthwaite degrees of freedom; paired: ttost_paired, the one-sample t of the differences). Under
    alpha, the difference is smaller than the margin at level alpha (the 1 - 2 alpha interval of the
    difference lies inside +-margin).

    With no spread at all (each side constant; paired: every difference equal) the t statistics are infinite
    and statsmodels returns NaN; the p-value is then its limit as the spread goes to 0: 0 when the observed
    difference lies strictly inside +-margin, 1/2 on the margin, 1 outside. Needs 2 values a side."""
    from statsmodels.stats.weightstats import ttost_ind, ttost_paired

    _check_margin(margin)
    a, b = _pair(x, y, paired)
    _two_each(a, b)
    if _no_spread(a, b, paired):
        return _limit_p(margin - abs(float(a.mean() - b.mean())))
    if paired:
        return float(ttost_paired(a, b, -margin, margin)[0])
    return float(ttost_ind(a, b, -margin, margin, usevar="unequal")[0])


def noninferiority_p(x: Sequence[float], y: Sequence[float], margin: float, paired: bool = False) -> float:
    """One-sided t-test p-value of non-inferiority, mean(x) > mean(y) - margin (x not worse than y by the
    margin or more): TOST's lower half. statsmodels.stats.weightstats.ttest_ind(alternative="larger",
    usevar="unequal", value=-margin), Welch; paired: DescrStatsW(x - y).ttest_mean(-margin, "larger").
    With no spread, the limit as in equivalence_p: 0 when mean(x) - mean(y) > -margin, 1/2 at it, 1 below.
    Needs 2 values a side."""
    from statsmodels.stats.weightstats import DescrStatsW, ttest_ind

    _check_margin(margin)
    a, b = _pair(x, y, paired)
    _two_each(a, b)
    if _no_spread(a, b, paired):
        return _limit_p(float(a.mean() - b.mean()) + margin)
    if paired:
        return float(DescrStatsW(a - b).ttest_mean(-margin, alternative="larger")[1])
    return float(ttest_ind(a, b, alternative="larger", usevar="unequal", value=-margin)[1])


def _spread(a: np.ndarray, b: np.ndarray, paired: bool) -> float:
    """The SD a sample size is planned at: pooled SD of the two sides (n - 1 weights); paired: SD of the
    differences."""
    if paired:
        return float(np.std(a - b, ddof=1))
    pooled = ((len(a) - 1) * np.var(a, ddof=1) + (len(b) - 1) * np.var(b, ddof=1)) / (len(a) + len(b) - 2)
    return float(math.sqrt(pooled))


def _check_level(alpha: float, power: float) -> None:
    if not 0 < alpha < 1 or not 0 < power < 1:
        raise ValueError(f"alpha and power must lie in (0, 1), got {alpha} and {power}")


def seeds_needed(x: Sequence[float], y: Sequence[float], margin: float, alpha: float, power: float = POWER,
                 paired: bool = False) -> int | None:
    """Seeds a side (paired: pairs) for a two-sided t-test at `alpha` to detect a true difference of `margin`
    with probability `power`, at the observed spread (pooled SD of x and y; paired: SD of the differences):
    the smallest n >= 2 whose power by statsmodels.stats.power.TTestIndPower().power (equal sides; paired:
    TTestPower), the noncentral t, reaches `power`, found by doubling and bisection (the power grows with n;
    TTestIndPower().solve_power gives the same number rounded up, but fails to converge at large effects;
    where statsmodels' power is NaN, at a very large noncentrality such as d = 20 with 2 seeds, scipy's
    noncentral t gives its upper tail, a lower bound that misses under 1e-20 there). Cohen's d = 0.5 at
    alpha 0.05 and power 0.8 gives 64 a side. None when the spread is 0 or a side has fewer than 2 values."""
    from scipy.stats import nct, t as student
    from statsmodels.stats.power import TTestIndPower, TTestPower

    _check_margin(margin)
    _check_level(alpha, power)
    a, b = _pair(x, y, paired)
    if len(a) < 2 or len(b) < 2:
        return None
    sd = _spread(a, b, paired)
    if sd == 0:
        return None
    analysis, effect = (TTestPower() if paired else TTestIndPower()), margin / sd

    def enough(n: int) -> bool:
        reached = analysis.power(effect, n, alpha, alternative="two-sided")
        if math.isnan(reached):
            df, shift = (n - 1, effect * math.sqrt(n)) if paired else (2 * n - 2, effect * math.sqrt(n / 2))
            critical = student.ppf(1 - alpha / 2, df)
            reached = nct.sf(critical, df, shift)
        return reached >= power

    low, high = 1, 2  # enough(high) once the doubling stops; never enough(low) past n = 2
    while not enough(high):
        low, high = high, 2 * high
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if enough(middle) else (middle, high)
    return high


def seeds_for_equivalence(x: Sequence[float], y: Sequence[float], margin: float, alpha: float,
                          power: float = POWER, paired: bool = False) -> int | None:
    """Seeds a side (paired: pairs) for TOST at `alpha` to conclude equivalence within +-margin with
    probability `power` when the true difference is 0, at the observed spread sigma (as seeds_needed).

    The normal approximation, n = 2 (z_{1-alpha} + z_{1-beta/2})^2 sigma^2 / margin^2 per side (paired:
    without the 2), beta = 1 - power, falls short at a handful of seeds (the t distribution's heavier tails:
    9 pairs where 11 are needed), so the z quantiles are replaced by t quantiles at the degrees of freedom
    of the n sought (2n - 2; paired n - 1) and the smallest n >= 2 with n >= 2 (t_{1-alpha} + t_{1-beta/2})^2
    sigma^2 / margin^2 is returned: the iteration of Julious (2004), "Sample sizes for clinical trials with
    Normal data", Statistics in Medicine 23:1921-1986, equivalence trials; also Chow, Shao & Wang, "Sample
    Size Calculations in Clinical Research" (2nd ed., 2008), ch. 3 (statsmodels has no TOST power for means).
    None when the spread is 0 or a side has fewer than 2 values."""
    from scipy.stats import t as student

    _check_margin(margin)
    _check_level(alpha, power)
    a, b = _pair(x, y, paired)
    if len(a) < 2 or len(b) < 2:
        return None
    sd = _spread(a, b, paired)
    if sd == 0:
        return None
    sides = 1 if paired else 2

    def required(df: float) -> float:
        quantiles = (student.ppf(1 - alpha, df) if df else statistics.NormalDist().inv_cdf(1 - alpha)) + \
            (student.ppf(1 - (1 - power) / 2, df) if df else statistics.NormalDist().inv_cdf(1 - (1 - power) / 2))
        return sides * quantiles ** 2 * sd ** 2 / margin ** 2

    n = max(2, math.ceil(required(0) - 1e-9))  # the normal approximation: a lower bound
    while n < required(n - 1 if paired else 2 * n - 2) - 1e-9:
        n += 1
    return n


def spending(t: float, alpha: float = ALPHA) -> float:
    """Lan-DeMets Pocock-type alpha-spending function, alpha ln(1 + (e - 1) t): the error allowed to be spent by
    information fraction t in [0, 1] (Lan & DeMets 1983, Biometrika 70:659-663); 0 at t = 0, alpha at t = 1."""
    if not 0 <= t <= 1:
        raise ValueError(f"an information fraction lies in [0, 1], got {t}")
    return alpha * math.log(1 + (math.e - 1) * t)


def look_alphas(looks: Sequence[int], alpha: float = ALPHA) -> list[float]:
    """The level each look of "add seeds until decided" is tested at: spending(t_k) - spending(t_{k-1}), with
    t_k = looks[k] / looks[-1] (seeds a side at look k over the cap, the last look) and t_{-1} = 0.

    The levels sum to alpha, so by the union bound the chance of any false decision over all looks is at most
    alpha, whatever the correlation between looks. That is conservative: a group-sequential boundary that
    uses the looks' correlation (the seeds of look k are among those of look k + 1) could test each look at
    a higher level for the same overall alpha."""
    if not looks or any(n < 1 for n in looks) or any(b <= a for a, b in zip(looks, looks[1:])):
        raise ValueError(f"looks must be increasing positive seed counts, got {list(looks)}")
    spent = [spending(n / looks[-1], alpha) for n in looks]
    return [s - prev for s, prev in zip(spent, [0.0] + spent[:-1])]


@dataclass(frozen=True)
class Decision:
    """One comparison of x against y at one look, tested at level `alpha` (see decide)."""

    verdict: str  # better / not_worse: supported, contradicted, undecided; same: equivalent, different, undecided
    expect: str  # what the claim expects of x against y: better, same or not_worse
    p: float  # P(X > Y), ties 1/2 (paired: the share of pairs in which x beats y, ties 1/2)
    permutation_p: float | None  # two-sided exact permutation p-value (permutation_p); None with < 2 values a side
    equivalence_p: float | None  # TOST p-value of |mean(x) - mean(y)| < margin; None with < 2 values a side
    noninferiority_p: float | None  # p-value of mean(x) > mean(y) - margin; None with < 2 values a side
    difference: float  # mean(x) - mean(y) (paired: the mean difference, the same number)
    difference_ci: Interval | None  # its 95% t interval (Welch; paired: of the differences); None with < 2 a side
    n_x: int
    n_y: int
    alpha: float
    margin: float
    seeds_needed: int | None  # seeds a side to settle it at the observed spread (see decide); None: no spread
    paired: bool


def _difference_ci(a: np.ndarray, b: np.ndarray, paired: bool) -> Interval:
    """95% t interval of mean(x) - mean(y): statsmodels' Welch interval (CompareMeans.tconfint_diff,
    usevar="unequal"), paired the one-sample interval of the differences (DescrStatsW.tconfint_mean);
    a point when there is no spread."""
    from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

    if _no_spread(a, b, paired):
        d = float(a.mean() - b.mean())
        return d, d
    alpha = 1 - CONFIDENCE
    if paired:
        low, high = DescrStatsW(a - b).tconfint_mean(alpha)
    else:
        low, high = CompareMeans.from_data(a, b).tconfint_diff(alpha, usevar="unequal")
    return float(low), float(high)


def decide(x: Sequence[float], y: Sequence[float], expect: str, margin: float, alpha: float,
           paired: bool = False) -> Decision:
    """The verdict on one comparison at one look, every test at level `alpha` (one look's level from
    look_alphas when seeds are added until decided). `margin` is the smallest difference of means that
    matters; "ahead" and "behind" are the direction of the permutation test's statistic (P(X > Y) above or
    below 1/2; paired, W+ above or below W-, which can disagree with Decision.p, the share of pairs won).

    better     (x beats y) supported when permutation_p < alpha and x is ahead; contradicted when
               permutation_p < alpha and x is behind, or when equivalence_p < alpha (x does not beat y by a
               margin that matters, even where a smaller difference is detected); else undecided.
    same       equivalent when equivalence_p < alpha, even where a difference smaller than the margin is
               detected too (permutation_p < alpha: both p-values are kept); different when only
               permutation_p < alpha; else undecided.
    not_worse  (x is not worse than y by the margin) supported when noninferiority_p < alpha, even where x is
               detectably but less than the margin behind; contradicted when permutation_p < alpha and x is
               behind; else undecided.

    seeds_needed: seeds a side for a two-sided t-test at alpha to detect the margin at the observed spread
    (seeds_needed); for "same", for TOST to conclude equivalence when there is no difference
    (seeds_for_equivalence). With fewer than 2 values on a side the verdict is undecided and the p-values,
    the interval and seeds_needed are None."""
    if expect not in EXPECTATIONS:
        raise ValueError(f"expect must be one of {EXPECTATIONS}, got {expect!r}")
    _check_margin(margin)
    _check_level(alpha, POWER)
    a, b = _pair(x, y, paired)
    p = float(np.mean((a > b) + 0.5 * (a == b))) if paired else prob_improvement(a, b)
    difference = float(a.mean() - b.mean())
    common = dict(expect=expect, p=p, difference=difference, n_x=len(a), n_y=len(b), alpha=alpha, margin=margin,
                  paired=paired)
    if len(a) < 2 or len(b) < 2:
        return Decision("undecided", permutation_p=None, equivalence_p=None, noninferiority_p=None,
                        difference_ci=None, seeds_needed=None, **common)
    perm, equiv, noninf = permutation_p(a, b, paired), equivalence_p(a, b, margin, paired), \
        noninferiority_p(a, b, margin, paired)
    direction = _direction(a, b, paired)
    ahead, behind = direction > 0.5, direction < 0.5
    detected = perm < alpha
    if expect == "better":
        verdict = ("contradicted" if equiv < alpha or (detected and behind) else
                   "supported" if detected and ahead else "undecided")
    elif expect == "same":
        verdict = "equivalent" if equiv < alpha else "different" if detected else "undecided"
    else:
        verdict = "supported" if noninf < alpha else "contradicted" if detected and behind else "undecided"
    needed = (seeds_for_equivalence if expect == "same" else seeds_needed)(a, b, margin, alpha, paired=paired)
    return Decision(verdict, permutation_p=perm, equivalence_p=equiv, noninferiority_p=noninf,
                    difference_ci=_difference_ci(a, b, paired), seeds_needed=needed, **common)


def fewest_seeds(alpha: float, paired: bool = False) -> int:
    """The fewest seeds a side at which the exact two-sided permutation test can reach `alpha` at all: its
    least p-value is 2 / C(2n, n) unpaired, 2 / 2**n paired (every seed on one side of every other)."""
    n = 2
    while (2 / 2 ** n if paired else 2 / math.comb(2 * n, n)) >= alpha:
        n += 1
    return n
