"""Table 3 twice: the paper's protocol (§4) and the protocol the data call for.

Input is the tidy runs frame (one row per training run): ``run_id``, ``modality``, ``seed``,
``split_by``, ``partition_id``, ``n_train``, ``n_test`` and one column per metric in
``schema.METRICS``. Output is one row per metric, columns in snake_case (see ``table3``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from lss.analysis import stats
from lss.analysis.schema import METRICS
from lss.manifest import MODALITIES, T1, T2


@dataclass(frozen=True)
class Pairing:
    """Whether T1 and T2 runs can be compared seed by seed, and why (printed in the report)."""

    paired: bool
    seeds: tuple[int, ...]
    reason: str


def pairing_by_seed(runs: pd.DataFrame) -> Pairing:
    """Pair runs only when both modalities of a seed tested on the same patients.

    That holds when every run split by patient (``data.split_by=patient``) and the T1
    and T2 runs of each seed report the same ``partition_id``; otherwise the two test sets are
    unrelated draws and the comparison must be unpaired.
    """
    if not (runs["split_by"] == "patient").all():
        return Pairing(False, (), "unpaired analogue: runs split by image, so T1 and T2 test sets are unrelated")
    by_modality = {m: runs[runs["modality"] == m].set_index("seed")["partition_id"] for m in MODALITIES}
    common = sorted(set(by_modality[T1].index) & set(by_modality[T2].index))
    mismatched = [s for s in common if by_modality[T1][s] != by_modality[T2][s]]
    if mismatched:
        return Pairing(
            False, (), f"unpaired analogue: seeds {mismatched} have different patient partitions for T1 and T2"
        )
    if len(common) < stats.MIN_RUNS:
        return Pairing(False, (), f"unpaired analogue: only {len(common)} seeds ran in both modalities")
    unmatched = sorted(set(runs["seed"]) - set(common))
    note = f"; seeds {unmatched} lack a partner and are left out" if unmatched else ""
    return Pairing(
        True, tuple(int(s) for s in common), f"paired by seed: {len(common)} seeds share a patient partition{note}"
    )


def _groups(runs: pd.DataFrame, metric: str, seeds: tuple[int, ...] = ()) -> list[np.ndarray]:
    """T1 and T2 values of one metric; with ``seeds`` given, aligned by seed for pairing."""
    groups = []
    for modality in MODALITIES:
        rows = runs[runs["modality"] == modality]
        if seeds:
            rows = rows.set_index("seed").loc[list(seeds)]
        groups.append(stats.as_sample(rows[metric].to_numpy(float), f"{modality} {metric}"))
    return groups


def paper_protocol(runs: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """§4 as published: KS per group and Bartlett; Student's t if both pass, else Welch's t."""
    rows = []
    for metric, label in METRICS.items():
        t1, t2 = _groups(runs, metric)
        ks_t1, ks_t2 = stats.ks_normality_p(t1), stats.ks_normality_p(t2)
        bartlett = stats.bartlett_p(t1, t2)
        assumptions_hold = min(ks_t1, ks_t2, bartlett) >= alpha
        test = stats.student_t(t1, t2) if assumptions_hold else stats.welch_t(t1, t2)
        rows.append(
            {
                "metric": label,
                "t1_n": len(t1),
                "t2_n": len(t2),
                "t1_mean": t1.mean(),
                "t2_mean": t2.mean(),
                "difference": test.difference,
                "ks_p_t1": ks_t1,
                "ks_p_t2": ks_t2,
                "bartlett_p": bartlett,
                "paper_test": test.name,
                "paper_t": test.t,
                "paper_df": test.df,
                "paper_p": test.p,
                "paper_undefined": test.undefined,
            }
        )
    return pd.DataFrame(rows).set_index("metric")


def split_ratios(runs: pd.DataFrame) -> tuple[float, float]:
    """n_test / n_train of each modality (median over its runs): the Nadeau-Bengio correction term."""
    ratios = []
    for modality in MODALITIES:
        rows = runs[runs["modality"] == modality]
        ratios.append(float((rows["n_test"].astype(float) / rows["n_train"].astype(float)).median()))
    return ratios[0], ratios[1]


def corrected_protocol(runs: pd.DataFrame) -> pd.DataFrame:
    """What the 20 repeats support: valid normality checks, Nadeau-Bengio t, g, CI, Holm.

    Paired by seed, every number (normality of T2 - T1, the test, g) uses the same matched runs;
    unpaired, normality is checked per group. Lilliefors and Shapiro-Wilk are diagnostics only:
    the corrected t-test is used whatever they say, since with J = 20 it is robust and a pre-test
    would bias the p-value.
    """
    pairing = pairing_by_seed(runs)
    ratio = split_ratios(runs)
    rows = []
    for metric, label in METRICS.items():
        t1, t2 = _groups(runs, metric, pairing.seeds) if pairing.paired else _groups(runs, metric)
        test = stats.corrected_resampled_t(t1, t2, ratio, paired=pairing.paired)
        differences = t2 - t1
        rows.append(
            {
                "metric": label,
                "pairing": pairing.reason,
                "lilliefors_p_t1": np.nan if pairing.paired else stats.lilliefors_p(t1),
                "lilliefors_p_t2": np.nan if pairing.paired else stats.lilliefors_p(t2),
                "shapiro_p_t1": np.nan if pairing.paired else stats.shapiro_p(t1),
                "shapiro_p_t2": np.nan if pairing.paired else stats.shapiro_p(t2),
                "lilliefors_p_diff": stats.lilliefors_p(differences) if pairing.paired else np.nan,
                "shapiro_p_diff": stats.shapiro_p(differences) if pairing.paired else np.nan,
                "nb_test": test.name,
                "nb_ratio_t1": ratio[0],
                "nb_ratio_t2": ratio[1],
                "nb_difference": test.difference,
                "nb_t": test.t,
                "nb_df": test.df,
                "nb_p": test.p,
                "nb_undefined": test.undefined,
                "hedges_g": stats.hedges_g(t1, t2),
                "ci_low": test.ci_low,
                "ci_high": test.ci_high,
            }
        )
    table = pd.DataFrame(rows).set_index("metric")
    table.insert(table.columns.get_loc("nb_p") + 1, "nb_p_holm", stats.holm(table["nb_p"]))
    return table


def table3(runs: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Both protocols side by side, one row per metric of Eqs. (1)-(4)."""
    return paper_protocol(runs, alpha).join(corrected_protocol(runs))


PAPER_BACKBONE = "inception_resnet_v2"


def caveat(runs: pd.DataFrame) -> str:
    """Why these runs cannot speak to the paper's claim (phantom data, another or untrained backbone), or ""."""
    reasons = []
    if runs["data_source"].fillna("").str.startswith("phantom").any():
        reasons.append("phantom data")
    backbones = sorted(set(runs["model"].dropna()))
    if backbones != [PAPER_BACKBONE]:
        reasons.append(f"{'/'.join(backbones) or 'unknown'} backbone, not the paper's {PAPER_BACKBONE}")
    elif not runs["pretrained"].astype(str).str.lower().eq("true").all():
        reasons.append("trained from scratch, not from ImageNet weights")
    return f"{'; '.join(reasons)}: says nothing about the paper's claim" if reasons else ""


def _conclusion(
    protocol: str, table: pd.DataFrame, difference: str, p_value: str, undefined: str, alpha: float, caveat_text: str
) -> str:
    defined = table[undefined] == ""
    significant = defined & (table[p_value] < alpha)
    better_t2 = list(table.index[significant & (table[difference] > 0)])
    better_t1 = list(table.index[significant & (table[difference] < 0)])
    unclear = list(table.index[defined & ~significant])
    not_tested = [f"{metric} ({table.loc[metric, undefined]})" for metric in table.index[~defined]]
    parts = [
        f"T2 is significantly better than T1 on {', '.join(better_t2)}" if better_t2 else "",
        f"T1 is significantly better than T2 on {', '.join(better_t1)}" if better_t1 else "",
        f"no significant difference on {', '.join(unclear)}" if unclear else "",
        f"n/a on {', '.join(not_tested)}" if not_tested else "",
    ]
    findings = f"{protocol}: {'; '.join(p for p in parts if p)} (alpha = {alpha})"
    if caveat_text:
        return f"{findings}. {caveat_text[0].upper()}{caveat_text[1:]}."
    verdict = "supports" if better_t2 and len(better_t2) == int(defined.sum()) else "does not support"
    return f"{findings}, which {verdict} the paper's claim that T2 is statistically better than T1."


def conclusions(table: pd.DataFrame, alpha: float = 0.05, caveat_text: str = "") -> dict[str, str]:
    """One sentence per protocol stating the conclusion its p-values support (metrics with an
    undefined test are left out of the verdict), with the caveat when the runs cannot speak to the paper."""
    return {
        "paper": _conclusion(
            "Paper protocol (KS + Bartlett, Student's/Welch's t, no multiplicity correction)",
            table,
            "difference",
            "paper_p",
            "paper_undefined",
            alpha,
            caveat_text,
        ),
        "corrected": _conclusion(
            f"Done right ({table['nb_test'].iloc[0]}, Holm-adjusted over the defined tests of {len(table)} metrics)",
            table,
            "nb_difference",
            "nb_p_holm",
            "nb_undefined",
            alpha,
            caveat_text,
        ),
    }
