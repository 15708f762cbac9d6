"""Pure statistics behind Table 3: assumption checks, t-tests, effect size, multiplicity.

Every two-sample function takes ``(t1, t2)`` and reports the difference as ``t2 - t1`` (the
sign convention of the paper's Table 3, "Difference" = T2 mean - T1 mean). Nothing here knows
MLflow or DataFrames, so each function can be checked against a textbook value.

Degenerate data: a t-test whose standard error is zero (every run scoring 1.0, or equal per-seed
differences) is undefined, not certain: t, p and the CI are NaN and ``undefined`` says why, so
the tables print ``n/a (zero variance)`` and the verdict leaves that metric out. A constant
sample fails a normality check (p = 0): it is not normal with a positive variance, which is what
the paper's KS test presumes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import special, stats
from statsmodels.stats.diagnostic import lilliefors
from statsmodels.stats.multitest import multipletests

MIN_RUNS = 3
"""Fewest runs per group: Shapiro-Wilk and a sample variance need at least three values."""

Sample = Sequence[float] | np.ndarray


@dataclass(frozen=True)
class TTest:
    """A t-test of ``mean(t2) - mean(t1)``: statistic, degrees of freedom, two-sided p, 95% CI."""

    name: str
    difference: float
    standard_error: float
    t: float
    df: float
    p: float
    ci_low: float
    ci_high: float
    undefined: str = ""
    """Why the test has no value ("zero variance"), or empty when it has one."""


def as_sample(values: Sample, label: str = "sample") -> np.ndarray:
    """Check a group has enough finite values: fewer than MIN_RUNS is an error, never a NaN table."""
    sample = np.asarray(values, dtype=float)
    if sample.ndim != 1 or len(sample) < MIN_RUNS:
        raise ValueError(
            f"{label}: expected at least {MIN_RUNS} runs, found {sample.size}; "
            "run more seeds (e.g. seed=range(0,20)) before comparing modalities."
        )
    if not np.all(np.isfinite(sample)):
        raise ValueError(f"{label}: expected finite metric values, found {sample.tolist()}.")
    return sample


ROUNDING = 1e-12
"""Spreads this small relative to the values are floating-point noise (0.9 - 0.8 != 0.95 - 0.85), not variance."""


def _is_constant(sample: np.ndarray) -> bool:
    return bool(np.ptp(sample) <= ROUNDING * max(1.0, float(np.abs(sample).max())))


ZERO_VARIANCE = "zero variance"


def _t_test(name: str, difference: float, variance_of_difference: float, df: float) -> TTest:
    """Shared tail: t = difference / SE, two-sided p from Student's t(df), 95% CI = diff +/- t* SE."""
    standard_error = math.sqrt(variance_of_difference)
    if standard_error <= ROUNDING * max(1.0, abs(difference)):
        return TTest(name, difference, 0.0, math.nan, df, math.nan, math.nan, math.nan, ZERO_VARIANCE)
    t = difference / standard_error
    p = float(2.0 * stats.t.sf(abs(t), df))
    half_width = float(stats.t.ppf(0.975, df)) * standard_error
    return TTest(name, difference, standard_error, t, df, p, difference - half_width, difference + half_width)


def _welch_satterthwaite_df(var_1: float, var_2: float, df_1: int, df_2: int) -> float:
    """Welch-Satterthwaite df for the sum of two variance components; both zero -> df_1 + df_2."""
    if var_1 + var_2 == 0.0:
        return float(df_1 + df_2)
    return (var_1 + var_2) ** 2 / (var_1**2 / df_1 + var_2**2 / df_2)


def student_t(t1: Sample, t2: Sample) -> TTest:
    """Student's two-sample t-test with pooled variance (the paper's "t-test" in Table 3)."""
    a, b = as_sample(t1, "T1"), as_sample(t2, "T2")
    df = len(a) + len(b) - 2
    pooled = ((len(a) - 1) * a.var(ddof=1) + (len(b) - 1) * b.var(ddof=1)) / df
    return _t_test("Student's t-test", b.mean() - a.mean(), pooled * (1 / len(a) + 1 / len(b)), float(df))


def welch_t(t1: Sample, t2: Sample) -> TTest:
    """Welch's unequal-variance t-test (the paper's fallback when KS or Bartlett fails)."""
    a, b = as_sample(t1, "T1"), as_sample(t2, "T2")
    var_a, var_b = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    return _t_test(
        "Welch's t-test",
        b.mean() - a.mean(),
        var_a + var_b,
        _welch_satterthwaite_df(var_a, var_b, len(a) - 1, len(b) - 1),
    )


def _paired_differences(t1: Sample, t2: Sample) -> np.ndarray:
    a, b = np.asarray(t1, dtype=float), np.asarray(t2, dtype=float)
    if a.shape != b.shape:
        raise ValueError(
            f"paired runs: expected one T2 value per T1 value, found {a.size} and {b.size}; pair runs by seed first."
        )
    return as_sample(b - a, "T2 - T1 pairs")


def corrected_resampled_t(t1: Sample, t2: Sample, test_train_ratio: tuple[float, float], paired: bool) -> TTest:
    """Nadeau & Bengio (2003) corrected resampled t-test for J repeated random train/test splits.

    The repeats share most of their training data, so the naive 1/J variance factor of the mean
    is replaced by (1/J + n_test/n_train) (Nadeau & Bengio, Machine Learning 52:239-281, 2003).

    * ``paired=True`` (runs of both modalities share the seed's patient partition): on
      d_j = T2_j - T1_j, t = mean(d) / sqrt((1/J + r) s_d^2) with df = J - 1, where r is the
      mean of the two modalities' n_test/n_train.
    * ``paired=False`` (unpaired analogue, independent splits per modality): each modality's
      mean gets the corrected variance V_k = (1/J_k + r_k) s_k^2; t = (mean_2 - mean_1) /
      sqrt(V_1 + V_2) with Welch-Satterthwaite df = (V_1 + V_2)^2 / (V_1^2/(J_1-1) + V_2^2/(J_2-1)).
    """
    ratio_1, ratio_2 = test_train_ratio
    if paired:
        d = _paired_differences(t1, t2)
        ratio = (ratio_1 + ratio_2) / 2
        return _t_test(
            "corrected resampled t (paired by seed)", d.mean(), (1 / len(d) + ratio) * d.var(ddof=1), float(len(d) - 1)
        )
    a, b = as_sample(t1, "T1"), as_sample(t2, "T2")
    var_a = (1 / len(a) + ratio_1) * a.var(ddof=1)
    var_b = (1 / len(b) + ratio_2) * b.var(ddof=1)
    return _t_test(
        "corrected resampled t (unpaired analogue)",
        b.mean() - a.mean(),
        var_a + var_b,
        _welch_satterthwaite_df(var_a, var_b, len(a) - 1, len(b) - 1),
    )


def ks_normality_p(values: Sample) -> float:
    """The paper's KS check (§4, ref. 22): KS against N(sample mean, sample sd).

    Reproduced as published; estimating the parameters from the same sample makes this test
    far too lenient, which is why the done-right protocol uses Lilliefors instead.
    """
    sample = as_sample(values)
    if _is_constant(sample):
        return 0.0
    return float(stats.kstest(sample, "norm", args=(sample.mean(), sample.std(ddof=1))).pvalue)


LILLIEFORS_MIN_RUNS = 4


def lilliefors_p(values: Sample) -> float:
    """Lilliefors' KS normality test, valid when mean and sd are estimated from the sample.

    Its tables start at n = 4; with 3 runs the test is undefined and NaN says so (shown as ``n/a``).
    Small p-values come from Dallal & Wilkinson's approximation rather than the table's 0.001 floor.
    """
    sample = as_sample(values)
    if len(sample) < LILLIEFORS_MIN_RUNS:
        return float("nan")
    if _is_constant(sample):
        return 0.0
    return float(lilliefors(sample, dist="norm", pvalmethod="approx")[1])


def shapiro_p(values: Sample) -> float:
    """Shapiro-Wilk normality test, the most powerful common check for n around 20."""
    sample = as_sample(values)
    if _is_constant(sample):
        return 0.0
    return float(stats.shapiro(sample).pvalue)


def bartlett_p(t1: Sample, t2: Sample) -> float:
    """Bartlett's test for equal variances (§4, ref. 23); two constant groups have equal variances."""
    a, b = as_sample(t1, "T1"), as_sample(t2, "T2")
    if _is_constant(a) or _is_constant(b):
        return 1.0 if _is_constant(a) and _is_constant(b) else 0.0
    return float(stats.bartlett(a, b).pvalue)


def hedges_g(t1: Sample, t2: Sample) -> float:
    """Hedges' g of T2 over T1: Cohen's d on the pooled sd times the exact small-sample factor.

    J(m) = Gamma(m/2) / (sqrt(m/2) Gamma((m-1)/2)) with m = n1 + n2 - 2 (Hedges 1981). The
    pooled between-run sd is used for paired runs too, so g reads the same in both protocols.
    """
    a, b = as_sample(t1, "T1"), as_sample(t2, "T2")
    m = len(a) + len(b) - 2
    pooled_sd = math.sqrt(((len(a) - 1) * a.var(ddof=1) + (len(b) - 1) * b.var(ddof=1)) / m)
    difference = b.mean() - a.mean()
    if pooled_sd <= ROUNDING * max(1.0, abs(difference)):
        return math.nan  # no spread to measure the difference against: undefined
    correction = math.exp(special.gammaln(m / 2) - 0.5 * math.log(m / 2) - special.gammaln((m - 1) / 2))
    return correction * difference / pooled_sd


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm step-down adjusted p-values (family: the metrics of Table 3 whose test is defined; NaN stays NaN)."""
    p = np.asarray(p_values, dtype=float)
    adjusted = np.full_like(p, np.nan)
    defined = ~np.isnan(p)
    if defined.any():
        adjusted[defined] = multipletests(p[defined], method="holm")[1]
    return adjusted
