"""studies.report.stats against values computed another way: scipy's Mann-Whitney U, trimmed mean and
bootstrap, the exact bootstrap distribution enumerated over every resample, and published Wilson
intervals; the permutation tests against every split (sign flip) enumerated and scipy's exact
Mann-Whitney and Wilcoxon tests; TOST against Welch's t by hand and scipy's t-tests on shifted data;
sample sizes against Cohen's table, the noncentral t and TOST's power integrated over the sample SD;
alpha spending against its closed form; decide on hand-made seeds, branch by branch."""

import itertools

import numpy as np
import pytest
import scipy.integrate
import scipy.stats

from studies.report import stats, verdicts

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
    assert verdicts.verdict((0.6, 1.0), 3, 3, 0.01) == "better"
    assert verdicts.verdict((0.0, 0.45), 3, 3, 0.01) == "worse"
    assert verdicts.verdict((0.3, 0.9), 3, 3, 0.01) == "no detectable difference with 3 seeds"
    assert verdicts.verdict((0.6, 1.0), 3, 3, 0.10) == "no detectable difference with 3 seeds"
    assert verdicts.verdict((0.6, 1.0), 3, 3) == "no detectable difference with 3 seeds"
    assert verdicts.verdict((0.5, 0.9), 2, 3, 0.01) == "no detectable difference with 2 and 3 seeds"
    assert verdicts.verdict(None, 1, 1) == "no detectable difference with 1 seed"


def test_mann_whitney_p_matches_the_exact_distribution():
    """Every x above every y: the exact two-sided p-value is 2 / C(n + m, n) (one of C(n + m, n)
    equally likely rank splits is that extreme, either way)."""
    from math import comb
    for n, m in [(2, 2), (3, 3), (4, 4), (5, 3)]:
        high, low = [1.0 + i for i in range(n)], [-1.0 - j for j in range(m)]
        assert verdicts.mann_whitney_p(high, low) == pytest.approx(2 / comb(n + m, n))
    assert verdicts.mann_whitney_p(X, Y) == pytest.approx(scipy.stats.mannwhitneyu(X, Y).pvalue)
    assert verdicts.mann_whitney_p([0.5, 0.5], [0.5, 0.5]) == 1.0
    assert verdicts.mann_whitney_p([0.9], [0.1, 0.2]) is None


def test_compare_clearly_separated_and_overlapping_settings():
    high, low = [0.8, 0.85, 0.9, 0.95], [0.1, 0.2, 0.15, 0.05]
    assert verdicts.compare(high, low) == verdicts.Comparison(1.0, (1.0, 1.0), pytest.approx(2 / 70), "better")
    assert verdicts.compare(low, high).verdict == "worse"
    mixed = verdicts.compare(X, Y)
    assert mixed.verdict == "no detectable difference with 5 and 4 seeds"
    assert mixed.ci[0] < 0.5 < mixed.ci[1]
    assert verdicts.compare([0.9], [0.1]) == verdicts.Comparison(1.0, None, None, "no detectable difference with 1 seed")


def test_two_seeds_a_side_never_give_a_verdict():
    """The bootstrap interval is [1, 1] when both seeds beat both (a chance of 1 in 3 with no real
    difference); the exact test's p-value is 1/3, so the verdict stays open."""
    comparison = verdicts.compare([0.30, 0.25], [0.10, 0.05])
    assert comparison.ci == (1.0, 1.0) and comparison.p_value == pytest.approx(1 / 3)
    assert comparison.verdict == "no detectable difference with 2 seeds"


def test_non_finite_values_are_refused():
    with pytest.raises(ValueError, match="finite"):
        stats.summarize([0.1, float("nan")])


# permutation_p: exact, tie-aware; against enumeration by hand and scipy's exact tests


def enumerated_two_sided_p(x, y, statistic):
    """Twice the smaller one-sided share of the C(n + m, n) splits of the pooled values whose statistic is at
    least (at most) the observed one, at most 1."""
    pooled, n = list(x) + list(y), len(x)
    observed, null = statistic(x, y), []
    for chosen in itertools.combinations(range(len(pooled)), n):
        rest = [v for i, v in enumerate(pooled) if i not in chosen]
        null.append(statistic([pooled[i] for i in chosen], rest))
    null = np.array(null)
    return min(1.0, 2 * min(np.mean(null >= observed - 1e-12), np.mean(null <= observed + 1e-12)))


def test_permutation_p_of_four_tied_seeds_above_four_is_two_in_seventy():
    tied, below = [1.0, 1.0, 1.0, 1.0], [0.1, 0.2, 0.3, 0.4]
    assert verdicts.permutation_p(tied, below) == pytest.approx(2 / 70, abs=1e-15)
    assert verdicts.permutation_p(below, tied) == pytest.approx(2 / 70, abs=1e-15)
    # scipy's Mann-Whitney falls back to the normal approximation with ties: the number FINDINGS.md once showed
    assert scipy.stats.mannwhitneyu(tied, below).pvalue == pytest.approx(0.0211, abs=5e-5)
    assert verdicts.permutation_p([1.0, 2.0, 3.0, 4.0], [0.1, 0.2, 0.3, 0.4]) == pytest.approx(2 / 70, abs=1e-15)


def test_permutation_p_of_identical_sides_is_one():
    assert verdicts.permutation_p([0.2, 0.5, 0.9], [0.2, 0.5, 0.9]) == 1.0
    assert verdicts.permutation_p([0.5, 0.5], [0.5, 0.5, 0.5]) == 1.0
    assert verdicts.permutation_p([0.2, 0.5, 0.9, 0.4], [0.2, 0.5, 0.9, 0.4], paired=True) == 1.0


@pytest.mark.parametrize("x, y", [([1, 2, 2, 3, 5], [2, 2, 4, 0]), ([0.3, 0.3, 0.3], [0.3, 0.1, 0.1, 0.5]),
                                  ([4, 4, 5, 6, 6, 6], [1, 4, 6, 2, 2]), (X, Y)])
def test_permutation_p_matches_every_split_enumerated(x, y):
    expected = enumerated_two_sided_p(x, y, stats.prob_improvement)
    assert verdicts.permutation_p(x, y) == pytest.approx(expected, abs=1e-12)


def test_permutation_p_without_ties_is_the_exact_mann_whitney_test():
    rng = np.random.default_rng(3)
    for n, m in [(4, 6), (5, 5), (7, 3)]:
        x, y = rng.normal(size=n), rng.normal(0.8, 1, size=m)
        assert verdicts.permutation_p(x, y) == pytest.approx(
            scipy.stats.mannwhitneyu(x, y, method="exact").pvalue, abs=1e-12)


def test_permutation_p_past_the_exact_cap_is_a_seeded_monte_carlo_estimate():
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=11), rng.normal(1.0, 1, size=11)  # C(22, 11) = 705,432 splits: over EXACT_MAX
    exact = scipy.stats.mannwhitneyu(x, y, method="exact").pvalue
    got = verdicts.permutation_p(x, y)
    assert got == pytest.approx(exact, abs=0.004) and got == verdicts.permutation_p(x, y)


def test_paired_permutation_p_is_the_exact_wilcoxon_signed_rank_test():
    rng = np.random.default_rng(5)
    for n in (5, 6, 8, 10):
        x = rng.normal(size=n)
        y = x - rng.normal(0.7, 1, size=n)
        assert verdicts.permutation_p(x, y, paired=True) == pytest.approx(
            scipy.stats.wilcoxon(x, y, method="exact").pvalue, abs=1e-12)
    # every pair won: 2 of 2^6 sign patterns are as extreme, either way
    assert verdicts.permutation_p([2, 3, 4, 5, 6, 7], [1, 1, 1, 1, 1, 1], paired=True) == pytest.approx(2 / 64)


def test_paired_permutation_p_with_tied_differences_matches_every_sign_flip():
    x, y = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [0.5, 1.5, 3.0, 3.0, 5.5, 4.0]  # |d| 0.5, 0.5, 0, 1, 0.5, 2
    d = np.subtract(x, y)

    def w_plus(diffs):
        return (scipy.stats.rankdata(np.abs(d)) * (np.asarray(diffs) > 0)).sum()

    null = np.array([w_plus(d * signs) for signs in itertools.product([1, -1], repeat=len(d))])
    observed = w_plus(d)
    expected = min(1.0, 2 * min(np.mean(null >= observed), np.mean(null <= observed)))
    assert verdicts.permutation_p(x, y, paired=True) == pytest.approx(expected, abs=1e-12)


def test_paired_sides_must_match():
    with pytest.raises(ValueError, match="same length"):
        verdicts.permutation_p([1, 2, 3], [1, 2], paired=True)


def test_compare_reports_the_exact_tie_aware_p_value():
    assert verdicts.compare([1.0, 1.0, 1.0, 1.0], [0.1, 0.2, 0.3, 0.4]).p_value == pytest.approx(2 / 70)
    assert verdicts.compare([1.0, 1.0, 1.0], [0.1, 0.2, 0.3, 0.4]).p_value == pytest.approx(2 / 35)


# equivalence and non-inferiority: Welch's t by hand and scipy's t-tests on shifted data

WX, WY = [1.0, 2.0, 3.0, 4.0], [2.0, 3.0, 4.0, 5.0, 6.0]


def test_equivalence_p_is_tost_with_welchs_t_by_hand():
    # means 2.5 and 4, variances 5/3 and 5/2: d = -1.5, se^2 = 5/12 + 1/2 = 11/12,
    # Satterthwaite df = (11/12)^2 / ((5/12)^2 / 3 + (1/2)^2 / 4) = 6.98077
    se, df = (11 / 12) ** 0.5, (11 / 12) ** 2 / ((5 / 12) ** 2 / 3 + 0.5 ** 2 / 4)
    assert df == pytest.approx(6.98077, abs=1e-5)
    lower = scipy.stats.t.sf((-1.5 + 2) / se, df)  # H0: d <= -2
    upper = scipy.stats.t.cdf((-1.5 - 2) / se, df)  # H0: d >= 2
    assert lower == pytest.approx(0.3088, abs=1e-4) and upper < lower
    assert verdicts.equivalence_p(WX, WY, 2.0) == pytest.approx(lower, rel=1e-10)
    assert verdicts.noninferiority_p(WX, WY, 2.0) == pytest.approx(lower, rel=1e-10)
    # a wide margin: both halves reject
    assert verdicts.equivalence_p(WX, WY, 6.0) == pytest.approx(
        max(scipy.stats.t.sf(4.5 / se, df), scipy.stats.t.cdf(-7.5 / se, df)), rel=1e-10)


@pytest.mark.parametrize("margin", [0.5, 1.0, 3.0])
def test_equivalence_and_noninferiority_agree_with_scipy_t_tests_on_shifted_data(margin):
    x, y = np.array(X), np.array(Y)
    lower = scipy.stats.ttest_ind(x + margin, y, equal_var=False, alternative="greater").pvalue
    upper = scipy.stats.ttest_ind(x - margin, y, equal_var=False, alternative="less").pvalue
    assert verdicts.equivalence_p(x, y, margin) == pytest.approx(max(lower, upper), rel=1e-9)
    assert verdicts.noninferiority_p(x, y, margin) == pytest.approx(lower, rel=1e-9)
    a, b = np.array(X[:4]), np.array(Y)
    lower = scipy.stats.ttest_rel(a + margin, b, alternative="greater").pvalue
    upper = scipy.stats.ttest_rel(a - margin, b, alternative="less").pvalue
    assert verdicts.equivalence_p(a, b, margin, paired=True) == pytest.approx(max(lower, upper), rel=1e-9)
    assert verdicts.noninferiority_p(a, b, margin, paired=True) == pytest.approx(lower, rel=1e-9)


def test_with_no_spread_the_margin_tests_take_their_limit():
    assert verdicts.equivalence_p([1.0, 1.0, 1.0], [1.0, 1.0], 0.1) == 0.0
    assert verdicts.equivalence_p([1.0, 1.0], [3.0, 3.0], 1.0) == 1.0
    assert verdicts.equivalence_p([1.0, 1.0], [2.0, 2.0], 1.0) == 0.5
    assert verdicts.noninferiority_p([1.0, 1.0], [3.0, 3.0], 1.0) == 1.0
    assert verdicts.noninferiority_p([3.0, 3.0], [1.0, 1.0], 1.0) == 0.0
    assert verdicts.equivalence_p([1.0, 2.0, 3.0], [1.5, 2.5, 3.5], 1.0, paired=True) == 0.0  # every pair -0.5
    with pytest.raises(ValueError, match="margin"):
        verdicts.equivalence_p(X, Y, 0.0)
    with pytest.raises(ValueError, match="2 values"):
        verdicts.noninferiority_p([1.0], Y, 1.0)


# power: Cohen's tables and the noncentral t; TOST power integrated over the sample SD


SD_SQRT2 = ([1.0, 3.0], [0.0, 2.0])  # each side's variance 2: pooled SD sqrt(2)


def two_sided_t_power(n, effect, alpha, paired=False):
    df = n - 1 if paired else 2 * n - 2
    nc = effect * (n ** 0.5 if paired else (n / 2) ** 0.5)
    crit = scipy.stats.t.ppf(1 - alpha / 2, df)
    return scipy.stats.nct.sf(crit, df, nc) + scipy.stats.nct.cdf(-crit, df, nc)


@pytest.mark.parametrize("effect, n", [(0.2, 394), (0.5, 64), (0.8, 26), (3.0, 4)])
def test_seeds_needed_matches_cohens_table(effect, n):
    """Two-sided alpha 0.05, power 0.8: 64 and 26 a side in Cohen (1988), Statistical Power Analysis, table
    2.4.1, and in G*Power; 394 for d = 0.2 in G*Power (Cohen's table, from an approximation, says 393); and
    the noncentral t's power just reaches 0.8 there."""
    x, y = SD_SQRT2
    assert verdicts.seeds_needed(x, y, effect * 2 ** 0.5, 0.05) == n
    assert two_sided_t_power(n, effect, 0.05) >= 0.8 > two_sided_t_power(n - 1, effect, 0.05)


def test_seeds_needed_paired_and_at_a_looks_level():
    # differences 0 and sqrt(2): SD 1; d = 0.5 needs 34 pairs (G*Power's one-sample two-sided t-test)
    assert verdicts.seeds_needed([0.0, 2 ** 0.5], [0.0, 0.0], 0.5, 0.05, paired=True) == 34
    x, y = SD_SQRT2
    n = verdicts.seeds_needed(x, y, 2 ** 0.5, 0.0249)  # d = 1 at the first of looks 6, 10, 16
    assert two_sided_t_power(n, 1.0, 0.0249) >= 0.8 > two_sided_t_power(n - 1, 1.0, 0.0249)
    assert verdicts.seeds_needed(x, y, 100.0, 0.05) == 2  # beyond the solver's reach: the floor
    assert verdicts.seeds_needed(x, y, 20 * 2 ** 0.5, 0.05) == 2  # where statsmodels' power is NaN
    assert verdicts.seeds_needed(x, y, 5 * 2 ** 0.5, 0.05) == 3  # d = 5: power 0.72 with 2 a side
    assert verdicts.seeds_needed([1.0, 1.0], [2.0, 2.0], 0.5, 0.05) is None
    assert verdicts.seeds_needed([1.0], [2.0, 3.0], 0.5, 0.05) is None


def tost_power(n, sigma, margin, alpha, paired=False):
    """Power of the pooled (paired) TOST at a true difference 0: P(|dbar| < margin - t s_e) integrated over the
    sample SD s, s^2 ~ sigma^2 chi2_df / df, independent of dbar ~ N(0, se^2)."""
    se = sigma * ((1 if paired else 2) / n) ** 0.5
    df = n - 1 if paired else 2 * n - 2
    crit = scipy.stats.t.ppf(1 - alpha, df)

    def integrand(u):  # u = s / sigma
        half = margin - crit * u * se
        density = scipy.stats.chi.pdf(u * df ** 0.5, df) * df ** 0.5
        return (2 * scipy.stats.norm.cdf(half / se) - 1) * density if half > 0 else 0.0

    return scipy.integrate.quad(integrand, 0, np.inf, limit=200)[0]


@pytest.mark.parametrize("ratio", [0.5, 1.0, 2.0])
@pytest.mark.parametrize("alpha", [0.05, 0.0249])
@pytest.mark.parametrize("paired", [False, True])
def test_seeds_for_equivalence_is_the_fewest_with_the_power(ratio, alpha, paired):
    x, y, sd = ([0.0, 2 ** 0.5], [0.0, 0.0], 1.0) if paired else (*SD_SQRT2, 2 ** 0.5)
    margin = sd / ratio
    n = verdicts.seeds_for_equivalence(x, y, margin, alpha, paired=paired)
    assert tost_power(n, sd, margin, alpha, paired) >= 0.79
    assert tost_power(n - 1, sd, margin, alpha, paired) < 0.8


def test_seeds_for_equivalence_by_the_normal_formula_and_its_small_sample_correction():
    # 2 (z_0.95 + z_0.9)^2 = 2 (1.6449 + 1.2816)^2 = 17.13 seeds a side when the SD equals the margin
    x, y = SD_SQRT2
    assert verdicts.seeds_for_equivalence(x, y, 2 ** 0.5, 0.05) == 18
    # paired the formula gives 8.56 -> 9 pairs, whose power is 0.72: t quantiles ask for 11
    assert tost_power(9, 1.0, 1.0, 0.05, paired=True) < 0.75
    assert verdicts.seeds_for_equivalence([0.0, 2 ** 0.5], [0.0, 0.0], 1.0, 0.05, paired=True) == 11
    assert verdicts.seeds_for_equivalence([1.0, 1.0], [2.0, 2.0], 0.5, 0.05) is None


# alpha spending over looks


def test_pocock_type_spending_function():
    assert verdicts.spending(0.0) == 0.0 and verdicts.spending(1.0) == pytest.approx(0.05)
    assert verdicts.spending(0.5) == pytest.approx(0.05 * np.log((1 + np.e) / 2))  # 0.0310
    assert verdicts.spending(0.5) == pytest.approx(0.0310, abs=5e-5)
    ts = np.linspace(0, 1, 11)
    spent = [verdicts.spending(t) for t in ts]
    assert all(b > a for a, b in zip(spent, spent[1:]))
    assert spent[5] > 0.025  # front-loaded, as Pocock's boundaries are: more than half spent by half the seeds
    with pytest.raises(ValueError):
        verdicts.spending(1.5)


def test_look_alphas_for_six_ten_and_sixteen_seeds():
    # t = 6/16, 10/16, 1: 0.05 ln(1 + 1.71828 t) = 0.024867, 0.036472, 0.05
    levels = verdicts.look_alphas([6, 10, 16])
    print("look alphas for 6, 10, 16 seeds:", levels)
    assert levels == [pytest.approx(0.024867, abs=1e-6), pytest.approx(0.011605, abs=1e-6),
                      pytest.approx(0.013528, abs=1e-6)]
    assert sum(levels) == pytest.approx(0.05, abs=1e-15)
    assert sum(verdicts.look_alphas([3, 4, 8, 9, 20], alpha=0.01)) == pytest.approx(0.01, abs=1e-15)
    assert verdicts.look_alphas([10]) == [pytest.approx(0.05)]
    for bad in ([], [6, 6], [10, 6], [0, 4]):
        with pytest.raises(ValueError):
            verdicts.look_alphas(bad)


# decide: every branch

FIRST_LOOK = 0.0249  # about look_alphas([6, 10, 16])[0]
HIGH = [0.80, 0.82, 0.85, 0.90, 0.88, 0.86]
LOW = [0.50, 0.52, 0.55, 0.60, 0.58, 0.56]
TIGHT_A = [0.50, 0.51, 0.49, 0.50, 0.51, 0.49]
TIGHT_B = [0.50, 0.50, 0.51, 0.49, 0.50, 0.50]
NOISY_A = [0.30, 0.60, 0.45, 0.20, 0.70, 0.50]
NOISY_B = [0.40, 0.50, 0.35, 0.60, 0.30, 0.55]


def test_decide_better_supported_when_separated():
    d = verdicts.decide(HIGH, LOW, "better", 0.05, FIRST_LOOK)
    assert d.verdict == "supported" and d.p == 1.0
    assert d.permutation_p == pytest.approx(2 / 924)  # one split of C(12, 6) either way
    assert (d.n_x, d.n_y, d.alpha, d.margin, d.paired, d.expect) == (6, 6, FIRST_LOOK, 0.05, False, "better")
    assert d.difference == pytest.approx(0.3)
    welch = scipy.stats.ttest_ind(HIGH, LOW, equal_var=False).confidence_interval(0.95)
    assert d.difference_ci == (pytest.approx(welch.low), pytest.approx(welch.high))
    assert d.seeds_needed == verdicts.seeds_needed(HIGH, LOW, 0.05, FIRST_LOOK)


def test_decide_better_contradicted_when_behind_or_equivalent():
    assert verdicts.decide(LOW, HIGH, "better", 0.05, FIRST_LOOK).verdict == "contradicted"
    tight = verdicts.decide(TIGHT_A, TIGHT_B, "better", 0.05, FIRST_LOOK)
    assert tight.verdict == "contradicted" and tight.equivalence_p < FIRST_LOOK < tight.permutation_p
    # ahead and detected, but by 0.3 within a margin of 1: not a difference that matters
    ahead = verdicts.decide(HIGH, LOW, "better", 1.0, FIRST_LOOK)
    assert ahead.verdict == "contradicted" and ahead.permutation_p < FIRST_LOOK and ahead.equivalence_p < FIRST_LOOK


def test_decide_better_undecided_when_noisy_with_the_seeds_it_would_take():
    d = verdicts.decide(NOISY_A, NOISY_B, "better", 0.05, FIRST_LOOK)
    assert d.verdict == "undecided" and d.permutation_p > FIRST_LOOK and d.equivalence_p > FIRST_LOOK
    assert d.difference_ci[0] < 0 < d.difference_ci[1]
    assert d.seeds_needed == verdicts.seeds_needed(NOISY_A, NOISY_B, 0.05, FIRST_LOOK) and d.seeds_needed > 100


def test_decide_same():
    tight = verdicts.decide(TIGHT_A, TIGHT_B, "same", 0.05, FIRST_LOOK)
    assert tight.verdict == "equivalent" and tight.seeds_needed == verdicts.seeds_for_equivalence(
        TIGHT_A, TIGHT_B, 0.05, FIRST_LOOK)
    assert verdicts.decide(HIGH, LOW, "same", 0.05, FIRST_LOOK).verdict == "different"
    noisy = verdicts.decide(NOISY_A, NOISY_B, "same", 0.05, FIRST_LOOK)
    assert noisy.verdict == "undecided" and noisy.seeds_needed == verdicts.seeds_for_equivalence(
        NOISY_A, NOISY_B, 0.05, FIRST_LOOK)
    both = verdicts.decide(HIGH, LOW, "same", 1.0, FIRST_LOOK)  # a difference detected, smaller than the margin
    assert both.verdict == "equivalent" and both.permutation_p < FIRST_LOOK


def test_decide_not_worse():
    assert verdicts.decide(TIGHT_A, TIGHT_B, "not_worse", 0.05, FIRST_LOOK).verdict == "supported"
    assert verdicts.decide(HIGH, LOW, "not_worse", 0.05, FIRST_LOOK).verdict == "supported"
    assert verdicts.decide(LOW, HIGH, "not_worse", 0.05, FIRST_LOOK).verdict == "contradicted"
    assert verdicts.decide(LOW, HIGH, "not_worse", 1.0, FIRST_LOOK).verdict == "supported"  # behind by under 1
    d = verdicts.decide(NOISY_A, NOISY_B, "not_worse", 0.05, FIRST_LOOK)
    assert d.verdict == "undecided" and d.noninferiority_p == pytest.approx(
        scipy.stats.ttest_ind(np.add(NOISY_A, 0.05), NOISY_B, equal_var=False, alternative="greater").pvalue)


def test_decide_paired():
    # every pair won by 0.1 to 0.3: the signed-rank test's floor 2/64 is under 0.05 but not under 0.0249
    x, y = [0.6, 0.7, 0.65, 0.8, 0.75, 0.9], [0.4, 0.5, 0.55, 0.5, 0.6, 0.65]
    at_05, at_first = verdicts.decide(x, y, "better", 0.05, 0.05, paired=True), \
        verdicts.decide(x, y, "better", 0.05, FIRST_LOOK, paired=True)
    assert at_05.verdict == "supported" and at_first.verdict == "undecided"
    assert at_05.permutation_p == pytest.approx(2 / 64) and at_05.p == 1.0 and at_05.paired
    rel = scipy.stats.ttest_rel(x, y).confidence_interval(0.95)
    assert at_05.difference_ci == (pytest.approx(rel.low), pytest.approx(rel.high))
    assert at_05.seeds_needed == verdicts.seeds_needed(x, y, 0.05, 0.05, paired=True)
    with pytest.raises(ValueError, match="same length"):
        verdicts.decide(x, y[:5], "better", 0.05, 0.05, paired=True)


def test_decide_with_one_value_a_side_is_undecided():
    d = verdicts.decide([0.9], LOW, "better", 0.05, 0.05)
    assert d.verdict == "undecided" and d.p == 1.0 and d.n_x == 1
    assert (d.permutation_p, d.equivalence_p, d.noninferiority_p, d.difference_ci, d.seeds_needed) == (None,) * 5
    with pytest.raises(ValueError, match="expect"):
        verdicts.decide(HIGH, LOW, "worse", 0.05, 0.05)


def test_fewest_seeds_is_where_the_exact_test_can_first_reach_the_level():
    assert verdicts.fewest_seeds(0.05) == 4 and verdicts.fewest_seeds(0.0249) == 5  # 2/70 = 0.029, 2/252 = 0.008
    assert verdicts.fewest_seeds(0.0249, paired=True) == 7  # 2/64 = 0.031, 2/128 = 0.016
    assert verdicts.permutation_p([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]) == pytest.approx(2 / 252)
