"""Model against the centre rule: does the network beat the answer a user tries first?

Every run scores the centre rule (the stack's centre slice and its neighbours) on exactly its own
test slices, so model and baseline pair within each run: per metric and modality, the difference
model - centre over the runs, tested with the corrected resampled t (paired: both sides share the
run's split), Holm-adjusted over the metrics of that modality.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from lss.analysis import stats
from lss.analysis.protocols import split_ratios
from lss.analysis.schema import BASELINE_COMPARISONS, LOWER_IS_BETTER
from lss.analysis.tables import format_p
from lss.manifest import MODALITIES
from lss.text import markdown_table

COLUMNS = [
    "modality",
    "metric",
    "n_runs",
    "model_mean",
    "centre_mean",
    "difference",
    "t",
    "df",
    "p",
    "p_holm",
    "ci_low",
    "ci_high",
    "undefined",
    "better",
]


def baseline_table(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per (modality, model metric) whose model and centre values every run of the modality logged."""
    rows = []
    ratios = dict(zip(MODALITIES, split_ratios(runs)))
    for modality in MODALITIES:
        mine = runs[runs["modality"] == modality]
        block = []
        for model_metric, (centre_metric, label) in BASELINE_COMPARISONS.items():
            if not {model_metric, centre_metric} <= set(mine.columns):  # runs of an lss that did not log it
                continue
            pairs = mine[[model_metric, centre_metric]].dropna()
            if len(pairs) < stats.MIN_RUNS or len(pairs) < len(mine):
                continue
            model, centre = pairs[model_metric].to_numpy(float), pairs[centre_metric].to_numpy(float)
            ratio = ratios[modality]
            test = stats.corrected_resampled_t(centre, model, (ratio, ratio), paired=True)
            sign = -1 if model_metric in LOWER_IS_BETTER else 1
            better = "" if test.undefined else ("model" if sign * test.difference > 0 else "centre rule")
            block.append(
                {
                    "modality": modality,
                    "metric": label,
                    "n_runs": len(pairs),
                    "model_mean": model.mean(),
                    "centre_mean": centre.mean(),
                    "difference": test.difference,
                    "t": test.t,
                    "df": test.df,
                    "p": test.p,
                    "ci_low": test.ci_low,
                    "ci_high": test.ci_high,
                    "undefined": test.undefined,
                    "better": better,
                }
            )
        if block:
            p_holm = stats.holm([row["p"] for row in block])
            rows += [row | {"p_holm": adjusted} for row, adjusted in zip(block, p_holm)]
    return pd.DataFrame(rows, columns=COLUMNS)


def render_markdown(table: pd.DataFrame, alpha: float) -> str:
    """The baseline table with one sentence per modality saying where the model is significantly better or worse."""
    if table.empty:
        return "## Model vs centre rule\n\nNo run logged the centre rule (runs from an older lss?).\n"
    header = [
        "Modality",
        "Metric",
        "runs",
        "model",
        "centre rule",
        "difference",
        "corrected t",
        "p",
        "p (Holm)",
        "95% CI",
    ]
    cells = [
        [
            row.modality,
            row.metric,
            row.n_runs,
            f"{row.model_mean:.4f}",
            f"{row.centre_mean:.4f}",
            f"{row.difference:+.4f}",
            "n/a" if row.undefined else f"{row.t:.2f}",
            f"n/a ({row.undefined})" if row.undefined else format_p(row.p),
            f"n/a ({row.undefined})" if row.undefined else format_p(row.p_holm),
            "n/a" if row.undefined else f"[{row.ci_low:.4f}, {row.ci_high:.4f}]",
        ]
        for row in table.itertuples()
    ]
    sentences = []
    for modality, rows in table.groupby("modality", sort=False):
        significant = rows[(rows["p_holm"] < alpha) & (rows["undefined"] == "")]
        wins = [f"{metric}" for metric in significant.loc[significant["better"] == "model", "metric"]]
        losses = [f"{metric}" for metric in significant.loc[significant["better"] == "centre rule", "metric"]]
        sentences.append(
            f"{modality}: the model is significantly better than the centre rule on "
            f"{', '.join(wins) or 'no metric'} and significantly worse on {', '.join(losses) or 'no metric'} "
            f"(paired corrected resampled t, Holm, alpha = {alpha})."
        )
    return (
        "\n\n".join(
            ["## Model vs centre rule (same test slices, paired by run)", markdown_table(header, cells), *sentences]
        )
        + "\n"
    )


def write_baseline(table: pd.DataFrame, alpha: float, output_dir: Path) -> list[Path]:
    paths = [output_dir / "baseline.csv", output_dir / "baseline.md"]
    table.to_csv(paths[0], index=False)
    paths[1].write_text(render_markdown(table, alpha))
    return paths
