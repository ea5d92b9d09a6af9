"""Power over seeds: how many seeds a side a comparison would need, at the spread seen.

    seeds_needed            seeds a side for a two-sided t-test to detect a difference m at the
                            observed spread (statsmodels' TTestIndPower / TTestPower)
    seeds_for_equivalence   seeds a side for TOST to conclude equivalence within m when the true
                            difference is 0 (Chow, Shao & Wang; Julious 2004, with t quantiles)
    fewest_seeds            the fewest seeds a side at which the exact permutation test can reach a
                            level at all: every look of a --decide run needs at least that many
"""

from __future__ import annotations

import math
import statistics
from typing import Sequence

import numpy as np

from studies.report.stats import _check_margin, _pair

POWER = 0.8  # power that seeds_needed and seeds_for_equivalence plan for


def _spread(a: np.ndarray, b: np.ndarray, paired: bool) -> float:
    """The SD a sample size is planned at: pooled SD of the two sides (n - 1 weights); paired: SD of the
    differences."""
    if paired:
        return float(np.std(a - b, ddof=1))
    pooled = ((len(a) - 1) * np.var(a, ddof=1) + (len(b) - 1) * np.var(b, ddof=1)) / (len(a) + len(b) - 2)
    return float(math.sqrt(pooled))


def _planning_spread(x: Sequence[float], y: Sequence[float], margin: float, alpha: float, power: float,
                     paired: bool) -> float | None:
    """The arguments checked, then the spread a sample size is planned at; None when it cannot plan (a side
    with fewer than 2 values, or no spread)."""
    _check_margin(margin)
    _check_level(alpha, power)
    a, b = _pair(x, y, paired)
    if len(a) < 2 or len(b) < 2:
        return None
    return _spread(a, b, paired) or None


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

    sd = _planning_spread(x, y, margin, alpha, power, paired)
    if sd is None:
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

    sd = _planning_spread(x, y, margin, alpha, power, paired)
    if sd is None:
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


def fewest_seeds(alpha: float, paired: bool = False) -> int:
    """The fewest seeds a side at which the exact two-sided permutation test can reach `alpha` at all: its
    least p-value is 2 / C(2n, n) unpaired, 2 / 2**n paired (every seed on one side of every other)."""
    n = 2
    while (2 / 2 ** n if paired else 2 / math.comb(2 * n, n)) >= alpha:
        n += 1
    return n
