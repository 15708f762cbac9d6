"""Table 3 as the reader sees it: csv (every number), Markdown (stdout, README) and LaTeX.

The display splits the table in two, the paper's columns first (same headers as Table 3),
then the done-right columns; each is followed by its one-sentence conclusion.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import cast

import pandas as pd

from lss.text import markdown_table

PAPER_COLUMNS = {
    "t1_mean": "T1 Mean",
    "t2_mean": "T2 Mean",
    "difference": "Difference",
    "ks_p_t1": "KS p (T1)",
    "ks_p_t2": "KS p (T2)",
    "bartlett_p": "Bartlett p",
    "paper_test": "t-test Type",
    "paper_p": "p-value",
}
GROUP_NORMALITY_COLUMNS = {
    "lilliefors_p_t1": "Lilliefors p (T1)",
    "lilliefors_p_t2": "Lilliefors p (T2)",
    "shapiro_p_t1": "Shapiro p (T1)",
    "shapiro_p_t2": "Shapiro p (T2)",
}
PAIRED_NORMALITY_COLUMNS = {"lilliefors_p_diff": "Lilliefors p (T2 - T1)", "shapiro_p_diff": "Shapiro p (T2 - T1)"}
"""Paired, the corrected t assumes normal per-seed differences, so those are what is checked."""
TEST_COLUMNS = {
    "nb_difference": "Difference",
    "nb_t": "corrected t",
    "nb_df": "df",
    "nb_p": "p",
    "nb_p_holm": "p (Holm)",
    "hedges_g": "Hedges' g",
    "ci": "95% CI",
}
P_VALUE_COLUMNS = {
    "ks_p_t1",
    "ks_p_t2",
    "bartlett_p",
    "paper_p",
    *GROUP_NORMALITY_COLUMNS,
    *PAIRED_NORMALITY_COLUMNS,
    "nb_p",
    "nb_p_holm",
}
UNDEFINED_BY_TEST = {
    "paper_p": "paper_undefined",
    "paper_t": "paper_undefined",
    "nb_p": "nb_undefined",
    "nb_p_holm": "nb_undefined",
    "nb_t": "nb_undefined",
    "ci": "nb_undefined",
}
"""Cells that show ``n/a (<why>)`` when their test is undefined (zero variance)."""


def format_p(p: float) -> str:
    """Three significant digits, ``< 0.001`` below that (the paper wrote ``< 0.05``), ``n/a`` if undefined."""
    if math.isnan(p):
        return "n/a"
    return "< 0.001" if p < 0.001 else f"{p:.3g}"


def _format(column: str, value: object, undefined: str = "") -> str:
    if undefined:
        return f"n/a ({undefined})"
    if isinstance(value, str):
        return value
    number = float(cast(float, value))
    if column in P_VALUE_COLUMNS:
        return format_p(number)
    if column == "nb_df":
        return f"{number:.4g}"  # 19 for paired runs, 17.78 for a Welch-Satterthwaite df
    return f"{number:.2f}" if column in {"nb_t", "hedges_g"} else f"{number:.4f}"


def _view(table: pd.DataFrame, columns: dict[str, str]) -> pd.DataFrame:
    """Formatted strings under display headers; the CI is folded into one ``[low, high]`` cell."""
    table = table.assign(ci=[f"[{low:.4f}, {high:.4f}]" for low, high in zip(table["ci_low"], table["ci_high"])])
    no_reason = pd.Series("", index=table.index)
    view = pd.DataFrame(
        {
            header: [
                _format(column, value, why)
                for value, why in zip(table[column], table.get(UNDEFINED_BY_TEST.get(column, ""), no_reason))
            ]
            for column, header in columns.items()
        },
        index=table.index,
    )
    view.index.name = "Metrics"
    return view


def paper_view(table: pd.DataFrame) -> pd.DataFrame:
    return _view(table, PAPER_COLUMNS)


def corrected_view(table: pd.DataFrame) -> pd.DataFrame:
    paired = str(table["pairing"].iloc[0]).startswith("paired")
    return _view(table, (PAIRED_NORMALITY_COLUMNS if paired else GROUP_NORMALITY_COLUMNS) | TEST_COLUMNS)


def view_markdown(view: pd.DataFrame) -> str:
    """A GitHub pipe table of a view (pandas' ``to_markdown`` needs tabulate, which lss does not ship)."""
    rows = [[str(index), *row] for index, row in zip(view.index, view.to_numpy().tolist())]
    return markdown_table([view.index.name or "", *view.columns], rows)


def render_markdown(table: pd.DataFrame, conclusions: dict[str, str]) -> str:
    return (
        "\n\n".join(
            [
                "## Table 3 (paper protocol, §4)",
                view_markdown(paper_view(table)),
                conclusions["paper"],
                f"## Table 3, done right ({table['pairing'].iloc[0]})",
                view_markdown(corrected_view(table)),
                conclusions["corrected"],
            ]
        )
        + "\n"
    )


def render_latex(table: pd.DataFrame, conclusions: dict[str, str]) -> str:
    """Two ``tabular`` blocks ready to ``\\input``; the conclusions follow as plain text."""
    blocks = []
    for caption, view, sentence in (
        ("Table 3 (paper protocol)", paper_view(table), conclusions["paper"]),
        ("Table 3, done right", corrected_view(table), conclusions["corrected"]),
    ):
        styler = view.reset_index().style.hide(axis="index").format(escape="latex").format_index(escape="latex", axis=1)
        latex = styler.to_latex(hrules=True, column_format="l" + "r" * len(view.columns))
        blocks.append(f"% {caption}\n{latex.replace('< 0.001', '$<$ 0.001')}% {sentence}\n")
    return "\n".join(blocks)


def write_tables(table: pd.DataFrame, conclusions: dict[str, str], output_dir: Path) -> list[Path]:
    """``table3.csv`` (all columns, full precision), ``table3.md`` and ``table3.tex``."""
    paths = [output_dir / name for name in ("table3.csv", "table3.md", "table3.tex")]
    table.to_csv(paths[0])
    paths[1].write_text(render_markdown(table, conclusions))
    paths[2].write_text(render_latex(table, conclusions))
    return paths
