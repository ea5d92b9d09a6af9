"""Verdicts over seeds: exact tests, equivalence margins, power, and error control across looks.

Built on `studies.report.stats` (P(X > Y), intervals), with scipy and statsmodels imported on first
use (they are slow to import):

    permutation_p(x, y)     two-sided exact permutation test, tie-aware: the
                            Mann-Whitney U over every split of the pooled seeds
                            (paired: the Wilcoxon signed-rank statistic over
                            every sign flip); seeded Monte Carlo past EXACT_MAX
    mann_whitney_p(x, y)    scipy's Mann-Whitney U test (normal approximation
                            with ties); kept for comparison, verdicts use
                            permutation_p
    equivalence_p(x, y, m)  TOST: |mean(x) - mean(y)| < m (Welch; paired t)
    noninferiority_p        one-sided: mean(x) > mean(y) - m, TOST's lower half
    seeds_needed, ...       the power side (`studies.report.power`), re-exported
    spending, look_alphas   Lan-DeMets Pocock-type alpha spending: the level each
                            look of "add seeds until decided" is tested at
    decide(x, y, expect)    one claim's verdict at one look: supported /
                            contradicted (or equivalent / different) / undecided
    verdict, compare        the study report's words: "better" when the interval of
                            P(X > Y) lies above 1/2 and the test rejects "no
                            difference" at 5%, "worse" below, else "no detectable
                            difference with n seeds" (which is not "the same": only
                            equivalence_p can say that)

A bootstrap needs at least two values on each side: with one seed the
interval is None and the verdict says no difference is detectable. The test
is there because a percentile bootstrap of P(X > Y) is [1, 1] whenever every
x beats every y, at any n: with 2 seeds a side that happens by chance a third
of the time (either way), and the exact test's smallest p-value there is 1/3.
So 2 seeds a side never give a verdict, 3 a side cannot either (1/10), and 4
a side can (2/70 = 0.0286, ties or not).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from studies.report.power import POWER, _check_level, fewest_seeds, seeds_for_equivalence, seeds_needed  # noqa: F401
from studies.report.stats import (SEED, CONFIDENCE, Interval, _check_margin, _improvement, _pair, _values,
                                  prob_improvement, prob_improvement_ci)

ALPHA = 0.05  # two-sided level of the Mann-Whitney test behind a verdict
EXACT_MAX = 200_000  # permutation tests enumerate every split (sign flip) up to this many, ~1 s at the cap
PERMUTATIONS = 100_000  # Monte Carlo resamples past EXACT_MAX: standard error about 0.0007 at p = 0.05
EXPECTATIONS = ("better", "same", "not_worse")  # what a claim can expect of x against y (see decide)


@dataclass(frozen=True)
class Comparison:
    p: float  # P(X > Y)
    ci: Interval | None  # its 95% bootstrap interval; None when a side has fewer than 2 values
    p_value: float | None  # two-sided exact permutation p-value of U (permutation_p); None when a side has < 2 values
    verdict: str  # better / worse / no detectable difference with n seeds


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


