"""The statistics of Table 3 agree with published textbook values and hand computations.

Reference data: Student's sleep data (Cushny & Peebles 1905, analysed in Student 1908,
"The probable error of a mean", Biometrika 6:1-25), as distributed in R's ``datasets::sleep``.
The reference t, df, p and 95% CI are the printed output of R's documented example
``t.test(extra ~ group, data = sleep)`` (Welch), ``var.equal = TRUE`` (Student) and
``paired = TRUE``; they are typed in here, not computed, and carry R's printed precision.
scipy is used only as a second, tighter cross-check.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from lss.analysis import stats

# R datasets::sleep, extra hours of sleep; group 1 = T1 role, group 2 = T2 role.
SLEEP_DRUG_1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
SLEEP_DRUG_2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]


def test_student_t_matches_r_sleep_example_with_equal_variances():
    # R: t = -1.8608, df = 18, p-value = 0.07919, 95% CI -3.363874 0.203874 (group1 - group2)
    result = stats.student_t(SLEEP_DRUG_1, SLEEP_DRUG_2)
    assert result.t == pytest.approx(1.8608, abs=5e-5)
    assert result.df == 18
    assert result.p == pytest.approx(0.07919, abs=5e-6)
    assert (result.ci_low, result.ci_high) == pytest.approx((-0.203874, 3.363874), abs=5e-7)
    reference = scipy_stats.ttest_ind(SLEEP_DRUG_2, SLEEP_DRUG_1)
    assert result.p == pytest.approx(reference.pvalue, abs=1e-12)


def test_welch_t_matches_r_sleep_default_example():
    # R: t = -1.8608, df = 17.776, p-value = 0.07939, 95% CI -3.3654832 0.2054832
    result = stats.welch_t(SLEEP_DRUG_1, SLEEP_DRUG_2)
    assert result.t == pytest.approx(1.8608, abs=5e-5)
    assert result.df == pytest.approx(17.776, abs=5e-4)
    assert result.p == pytest.approx(0.07939, abs=5e-6)
    assert (result.ci_low, result.ci_high) == pytest.approx((-0.2054832, 3.3654832), abs=5e-8)
    reference = scipy_stats.ttest_ind(SLEEP_DRUG_2, SLEEP_DRUG_1, equal_var=False)
    assert result.df == pytest.approx(reference.df, abs=1e-10)


def test_corrected_resampled_t_without_overlap_is_r_sleep_paired_example():
    # R's paired t.test: t = -4.0621, df = 9, p-value = 0.002833, mean difference -1.58,
    #    95% CI -2.4598858 -0.7001142. With no train/test overlap (ratio 0) the correction vanishes.
    result = stats.corrected_resampled_t(SLEEP_DRUG_1, SLEEP_DRUG_2, (0.0, 0.0), paired=True)
    assert result.difference == pytest.approx(1.58, abs=1e-12)
    assert result.t == pytest.approx(4.0621, abs=5e-5)
    assert result.df == 9
    assert result.p == pytest.approx(0.002833, abs=5e-7)
    assert (result.ci_low, result.ci_high) == pytest.approx((0.7001142, 2.4598858), abs=5e-8)


def _student_t3_two_sided_p(t: float) -> float:
    """Closed-form Student t CDF for 3 df: F(t) = 1/2 + (1/pi)(u/(1+u^2) + atan u), u = t/sqrt 3."""
    u = t / math.sqrt(3)
    return 1 - (2 / math.pi) * (u / (1 + u * u) + math.atan(u))


def test_corrected_resampled_t_paired_by_hand():
    # d = [0.01, 0.03, 0.02, 0.04]: mean 0.025, s^2 = 0.0005/3, J = 4, n_test/n_train = 1/4
    # var = (1/4 + 1/4) * 0.0005/3 = 1/12000, t = 0.025 * sqrt(12000) = sqrt(7.5), df = 3
    t1 = [0.90, 0.90, 0.90, 0.90]
    t2 = [0.91, 0.93, 0.92, 0.94]
    result = stats.corrected_resampled_t(t1, t2, (0.25, 0.25), paired=True)
    assert result.t == pytest.approx(math.sqrt(7.5), abs=1e-10)
    assert result.df == 3
    assert result.p == pytest.approx(_student_t3_two_sided_p(math.sqrt(7.5)), abs=1e-10)
    # the naive paired t on the same data is larger by sqrt((1/4 + 1/4) / (1/4)) = sqrt(2)
    assert stats.corrected_resampled_t(t1, t2, (0.0, 0.0), paired=True).t == pytest.approx(
        math.sqrt(7.5) * math.sqrt(2), abs=1e-10
    )


def test_corrected_resampled_t_unpaired_analogue_by_hand():
    # s1^2 = 0.0004, s2^2 = 0.0001, J = 3, r = 1/4: V1 = 0.0004*7/12, V2 = 0.0001*7/12
    # t = 0.09 / sqrt(0.0005*7/12); df = (5c)^2 / ((4c)^2/2 + c^2/2) = 50/17
    result = stats.corrected_resampled_t([0.80, 0.82, 0.84], [0.90, 0.91, 0.92], (0.25, 0.25), paired=False)
    assert result.difference == pytest.approx(0.09, abs=1e-12)
    assert result.t == pytest.approx(0.09 / math.sqrt(0.0005 * 7 / 12), abs=1e-10)
    assert result.df == pytest.approx(50 / 17, abs=1e-10)
    assert "unpaired" in result.name


def test_hedges_g_by_hand():
    # s_pooled = 1, d = 2, m = 4: J = Gamma(2) / (sqrt(2) Gamma(3/2)) = sqrt(2/pi)
    assert stats.hedges_g([1, 2, 3], [3, 4, 5]) == pytest.approx(2 * math.sqrt(2 / math.pi), abs=1e-12)


def test_holm_by_hand():
    # sorted 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 -> max(0.04, 0.06) = 0.06
    np.testing.assert_allclose(stats.holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02], atol=1e-15)


def _normal_cdf(x: float, mean: float, sd: float) -> float:
    return 0.5 * (1 + math.erf((x - mean) / (sd * math.sqrt(2))))


def _ks_distance(sample: np.ndarray, cdf) -> float:
    """D = max_i max(i/n - F(x_(i)), F(x_(i)) - (i-1)/n), from the definition."""
    ordered, n = np.sort(sample), len(sample)
    return max(max((i + 1) / n - cdf(x), cdf(x) - i / n) for i, x in enumerate(ordered))


def test_the_papers_ks_check_against_a_value_worked_out_independently():
    """KS against N(sample mean, sample sd) taken as fully specified (the paper's use): the p-value is
    P(D_n >= d) for n uniforms, estimated here by simulation with a fixed seed, not by scipy."""
    sample = np.array([0.88, 0.90, 0.91, 0.89, 0.93, 0.90, 0.92])
    mean, sd = sample.mean(), sample.std(ddof=1)
    d = _ks_distance(sample, lambda x: _normal_cdf(x, mean, sd))
    uniforms = np.sort(np.random.default_rng(0).random((200_000, len(sample))), axis=1)
    steps = np.arange(1, len(sample) + 1) / len(sample)
    simulated = np.maximum((steps - uniforms).max(axis=1), (uniforms - (steps - 1 / len(sample))).max(axis=1))
    assert stats.ks_normality_p(sample) == pytest.approx(float((simulated >= d - 1e-12).mean()), abs=0.005)


def test_shapiro_wilk_matches_the_published_example_of_shapiro_and_wilk_1965():
    """Biometrika 52:591-611, weights (lb) of 11 men: W = 0.79, significant at the 1% level."""
    weights = [148, 154, 158, 160, 161, 162, 166, 170, 182, 195, 236]
    assert scipy_stats.shapiro(weights).statistic == pytest.approx(0.79, abs=0.005)
    assert stats.shapiro_p(weights) < 0.01


def test_bartlett_matches_its_formula():
    """T = ((N-k) ln s_p^2 - sum (n_i-1) ln s_i^2) / (1 + (sum 1/(n_i-1) - 1/(N-k)) / (3(k-1))); k = 2 so
    p = P(chi2_1 >= T) = erfc(sqrt(T/2))."""
    a, b = np.array(SLEEP_DRUG_1), np.array(SLEEP_DRUG_2) * 1.7
    n_a, n_b = len(a), len(b)
    pooled = ((n_a - 1) * a.var(ddof=1) + (n_b - 1) * b.var(ddof=1)) / (n_a + n_b - 2)
    numerator = (
        (n_a + n_b - 2) * math.log(pooled) - (n_a - 1) * math.log(a.var(ddof=1)) - (n_b - 1) * math.log(b.var(ddof=1))
    )
    t = numerator / (1 + (1 / (n_a - 1) + 1 / (n_b - 1) - 1 / (n_a + n_b - 2)) / 3)
    assert stats.bartlett_p(a, b) == pytest.approx(math.erfc(math.sqrt(t / 2)), abs=1e-12)


def test_lilliefors_matches_dallal_and_wilkinsons_approximation_below_p_0_1():
    """D from the definition with estimated mean and sd; p = exp(-7.01256 D^2 (n + 2.78019) + 2.99587 D
    sqrt(n + 2.78019) - 0.122119 + 0.974598 / sqrt(n) + 1.67997 / n) (Dallal & Wilkinson 1986), not floored at 0.001."""
    sample = np.array([0.90, 0.91, 0.90, 0.92, 0.90, 0.91, 0.90, 0.99, 0.90, 0.90, 0.90, 0.92, 0.90, 0.90, 0.91])
    n, d = len(sample), _ks_distance(sample, lambda x: _normal_cdf(x, sample.mean(), sample.std(ddof=1)))
    expected = math.exp(
        -7.01256 * d**2 * (n + 2.78019)
        + 2.99587 * d * math.sqrt(n + 2.78019)
        - 0.122119
        + 0.974598 / math.sqrt(n)
        + 1.67997 / n
    )
    assert expected < 0.001
    assert stats.lilliefors_p(sample) == pytest.approx(expected, rel=1e-6)


def test_fewer_than_three_runs_is_a_clear_error():
    with pytest.raises(ValueError, match="at least 3 runs, found 2"):
        stats.welch_t([0.9, 0.91], [0.92, 0.93, 0.94])
    with pytest.raises(ValueError, match="at least 3 runs"):
        stats.shapiro_p([0.9, 0.91])


def test_a_t_test_with_zero_variance_is_undefined_not_certain():
    perfect, also_perfect, worse = [1.0, 1.0, 1.0], [1.0, 1.0, 1.0], [0.9, 0.9, 0.9]
    for result in (
        stats.welch_t(perfect, also_perfect),
        stats.corrected_resampled_t(perfect, also_perfect, (0.0, 0.0), paired=True),
        stats.student_t(worse, perfect),
        stats.corrected_resampled_t([0.8, 0.85, 0.9], [0.9, 0.95, 1.0], (0.0, 0.0), paired=True),
        stats.corrected_resampled_t(perfect, also_perfect, (0.25, 0.25), paired=False),
    ):
        assert result.undefined == "zero variance"
        assert all(math.isnan(value) for value in (result.t, result.p, result.ci_low, result.ci_high))
    assert math.isnan(stats.hedges_g(worse, perfect))
    assert stats.ks_normality_p(perfect) == 0.0 and stats.shapiro_p(perfect) == 0.0
    assert stats.bartlett_p(perfect, also_perfect) == 1.0
    assert stats.bartlett_p(perfect, [0.9, 0.95, 1.0]) == 0.0
    np.testing.assert_allclose(stats.holm([0.01, float("nan"), 0.04]), [0.02, float("nan"), 0.04])


def test_lilliefors_is_undefined_below_four_runs_and_shown_as_na() -> None:
    """statsmodels' Lilliefors tables start at n=4; three runs (the minimum) must not crash the analysis."""
    import math

    from lss.analysis.stats import lilliefors_p
    from lss.analysis.tables import format_p

    assert math.isnan(lilliefors_p([0.90, 0.91, 0.93]))
    assert format_p(lilliefors_p([0.90, 0.91, 0.93])) == "n/a"
    assert 0.0 <= lilliefors_p([0.90, 0.91, 0.93, 0.95]) <= 1.0
