"""studies.stats against values computed another way: scipy's Mann-Whitney U, trimmed mean and
bootstrap, the exact bootstrap distribution enumerated over every resample, and published Wilson
intervals."""

import itertools

import numpy as np
import pytest
import scipy.stats

from studies import stats

X = [0.12, 0.30, 0.31, 0.55, 0.90]
Y = [0.05, 0.30, 0.33, 0.41]


def exact_quantiles(values, weights=None, levels=(0.02, 0.03, 0.97, 0.98)):
    """Quantiles of a discrete distribution: the smallest value whose cumulative weight reaches each level."""
    order = np.argsort(values)
    values = np.asarray(values)[order]
    cum = np.cumsum(np.ones(len(values)) if weights is None else np.asarray(weights, dtype=float)[order])
    cum /= cum[-1]
    return [values[np.searchsorted(cum, level - 1e-12)] for level in levels]


def test_bootstrap_interval_of_the_mean_lies_at_the_exact_bootstrap_percentiles():
    """All 5^5 equally likely resamples of X: the Monte Carlo 2.5th percentile must fall between the exact
    2nd and 3rd, the 97.5th between the 97th and 98th."""
    means = [np.mean(r) for r in itertools.product(X, repeat=len(X))]
    q02, q03, q97, q98 = exact_quantiles(means)
    low, high = stats.bootstrap_ci(X)
    assert q02 <= low <= q03 and q97 <= high <= q98


def test_bootstrap_interval_of_the_mean_agrees_with_scipy():
    reference = scipy.stats.bootstrap((np.array(X),), np.mean, confidence_level=0.95, n_resamples=50_000,
                                      method="percentile", random_state=np.random.default_rng(7))
    low, high = stats.bootstrap_ci(X)
    assert low == pytest.approx(reference.confidence_interval.low, abs=0.015)
    assert high == pytest.approx(reference.confidence_interval.high, abs=0.015)


def test_two_seeds_give_the_extremes_and_one_seed_no_interval():
    # resample means of (a, b): a with 1/4, (a+b)/2 with 1/2, b with 1/4: percentiles 2.5 and 97.5 are a and b
    assert stats.bootstrap_ci([0.2, 0.6]) == (0.2, 0.6)
    assert stats.bootstrap_ci([0.2]) is None
    summary = stats.summarize([0.2])
    assert (summary.n, summary.mean, summary.ci, summary.iqm) == (1, 0.2, None, None)


def test_the_bootstrap_is_seeded():
    assert stats.bootstrap_ci(X) == stats.bootstrap_ci(list(X))
    assert stats.prob_improvement_ci(X, Y) == stats.prob_improvement_ci(X, Y)


@pytest.mark.parametrize("n", range(4, 10))
def test_iqm_equals_scipy_trim_mean(n):
    values = np.random.default_rng(n).normal(size=n)
    assert stats.iqm(values) == pytest.approx(scipy.stats.trim_mean(values, 0.25), rel=1e-12)


def test_iqm_by_hand_and_none_below_four():
    assert stats.iqm([10.0, 1.0, 3.0, 2.0]) == 2.5  # middle two of 1, 2, 3, 10
    assert stats.iqm([0, 1, 2, 3, 4, 100, 6, 7]) == pytest.approx((2 + 3 + 4 + 6) / 4)
    assert stats.iqm([1.0, 2.0, 3.0]) is None
    summary = stats.summarize([1.0, 2.0, 3.0, 10.0])
    assert summary.iqm == 2.5 and summary.mean == 4.0 and summary.n == 4


@pytest.mark.parametrize("x, y", [(X, Y), ([1, 1, 2], [1, 2, 2, 2]), ([0.5], [0.1, 0.9]), ([3, 4], [1, 2])])
def test_probability_of_improvement_is_mann_whitney_u_over_nm(x, y):
    u = scipy.stats.mannwhitneyu(x, y, alternative="two-sided").statistic  # U of the first sample, ties as 1/2
    assert stats.prob_improvement(x, y) == pytest.approx(u / (len(x) * len(y)), abs=1e-15)


def test_probability_of_improvement_by_hand():
    # pairs (x, y): 1>0, 1=1 (1/2), 2>0, 2>1 -> 3.5 of 4
    assert stats.prob_improvement([1, 2], [0, 1]) == 0.875
    assert stats.prob_improvement([0, 1], [1, 2]) == 0.125


def test_probability_of_improvement_interval_lies_at_the_exact_bootstrap_percentiles():
    """Every pair of resamples of x (4^4) and y (3^3), equally likely, enumerated by their counts."""
    def resample_counts(values):
        out = {}
        for r in itertools.product(values, repeat=len(values)):
            key = tuple(sorted(r))
            out[key] = out.get(key, 0) + 1
        return out

    x, y = X[:4], Y[:3]
    xs, ys = resample_counts(x), resample_counts(y)
    values, weights = [], []
    for (rx, cx), (ry, cy) in itertools.product(xs.items(), ys.items()):
        u = scipy.stats.mannwhitneyu(rx, ry, alternative="two-sided").statistic
        values.append(u / (len(rx) * len(ry)))
        weights.append(cx * cy)
    q02, q03, q97, q98 = exact_quantiles(values, weights)
    low, high = stats.prob_improvement_ci(x, y)
    assert q02 <= low <= q03 and q97 <= high <= q98


@pytest.mark.parametrize("k, n, low, high", [
    (0, 10, 0.0, 0.2775), (5, 10, 0.2366, 0.7634), (10, 10, 0.7225, 1.0), (1, 4, 0.0456, 0.6994), (2, 2, 0.3424, 1.0),
])
def test_wilson_interval_matches_published_values(k, n, low, high):
    got = stats.wilson(k, n)
    assert got == (pytest.approx(low, abs=5e-5), pytest.approx(high, abs=5e-5))


def test_wilson_refuses_impossible_counts():
    with pytest.raises(ValueError):
        stats.wilson(3, 2)
    with pytest.raises(ValueError):
        stats.wilson(0, 0)


def test_verdicts_follow_the_interval_and_the_test():
    assert stats.verdict((0.6, 1.0), 3, 3, 0.01) == "better"
    assert stats.verdict((0.0, 0.45), 3, 3, 0.01) == "worse"
    assert stats.verdict((0.3, 0.9), 3, 3, 0.01) == "no detectable difference with 3 seeds"
    assert stats.verdict((0.6, 1.0), 3, 3, 0.10) == "no detectable difference with 3 seeds"
    assert stats.verdict((0.6, 1.0), 3, 3) == "no detectable difference with 3 seeds"
    assert stats.verdict((0.5, 0.9), 2, 3, 0.01) == "no detectable difference with 2 and 3 seeds"
    assert stats.verdict(None, 1, 1) == "no detectable difference with 1 seed"


def test_mann_whitney_p_matches_the_exact_distribution():
    """Every x above every y: the exact two-sided p-value is 2 / C(n + m, n) (one of C(n + m, n)
    equally likely rank splits is that extreme, either way)."""
    from math import comb
    for n, m in [(2, 2), (3, 3), (4, 4), (5, 3)]:
        high, low = [1.0 + i for i in range(n)], [-1.0 - j for j in range(m)]
        assert stats.mann_whitney_p(high, low) == pytest.approx(2 / comb(n + m, n))
    assert stats.mann_whitney_p(X, Y) == pytest.approx(scipy.stats.mannwhitneyu(X, Y).pvalue)
    assert stats.mann_whitney_p([0.5, 0.5], [0.5, 0.5]) == 1.0
    assert stats.mann_whitney_p([0.9], [0.1, 0.2]) is None


def test_compare_clearly_separated_and_overlapping_settings():
    high, low = [0.8, 0.85, 0.9, 0.95], [0.1, 0.2, 0.15, 0.05]
    assert stats.compare(high, low) == stats.Comparison(1.0, (1.0, 1.0), pytest.approx(2 / 70), "better")
    assert stats.compare(low, high).verdict == "worse"
    mixed = stats.compare(X, Y)
    assert mixed.verdict == "no detectable difference with 5 and 4 seeds"
    assert mixed.ci[0] < 0.5 < mixed.ci[1]
    assert stats.compare([0.9], [0.1]) == stats.Comparison(1.0, None, None, "no detectable difference with 1 seed")


def test_two_seeds_a_side_never_give_a_verdict():
    """The bootstrap interval is [1, 1] when both seeds beat both (a chance of 1 in 3 with no real
    difference); the exact test's p-value is 1/3, so the verdict stays open."""
    comparison = stats.compare([0.30, 0.25], [0.10, 0.05])
    assert comparison.ci == (1.0, 1.0) and comparison.p_value == pytest.approx(1 / 3)
    assert comparison.verdict == "no detectable difference with 2 seeds"


def test_non_finite_values_are_refused():
    with pytest.raises(ValueError, match="finite"):
        stats.summarize([0.1, float("nan")])
