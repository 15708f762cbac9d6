"""The whole analysis in one call: MLflow runs -> Table 3 (both protocols) -> figures -> MLflow.

``run_analysis`` takes any tracking URI and experiment, so the same code serves ``analyze.py``,
``make demo`` and tests that point it at a throw-away SQLite store.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from lss.analysis import figures, protocols, runs, tables
from lss.tracking import resolve_tracking_uri


@dataclass(frozen=True)
class AnalysisReport:
    """What one analysis produced, for callers that go on (the demo prints where things are)."""

    table: pd.DataFrame
    conclusions: dict[str, str]
    selection: runs.SweepSelection
    files: list[Path]
    analysis_run_id: str | None


def write_outputs(selection: runs.SweepSelection, history: pd.DataFrame, table: pd.DataFrame,
                  conclusions: dict[str, str], output_dir: Path) -> list[Path]:
    """Every file of issue 4 §2 into ``output_dir``; no MLflow needed."""
    output_dir.mkdir(parents=True, exist_ok=True)
    runs_csv = output_dir / "runs.csv"
    selection.runs.to_csv(runs_csv, index=False)
    history.to_csv(output_dir / "val_accuracy_history.csv", index=False)
    return [runs_csv, output_dir / "val_accuracy_history.csv",
            *tables.write_tables(table, conclusions, output_dir),
            figures.metric_boxplot(selection.runs, "T1", output_dir / "fig6_t1_boxplot.png"),
            figures.metric_boxplot(selection.runs, "T2", output_dir / "fig7_t2_boxplot.png"),
            figures.modality_comparison(selection.runs, output_dir / "t1_vs_t2_runs.png"),
            figures.validation_accuracy(history, output_dir / "fig5_val_accuracy.png")]


def run_analysis(output_dir: Path, tracking_uri: str | None = None,
                 experiment_name: str = "lss", sweep_id: str | None = None,
                 alpha: float = 0.05, log_to_mlflow: bool = True) -> AnalysisReport:
    """Pull the sweep, print its bookkeeping and Table 3, write and log every output."""
    uri = resolve_tracking_uri(tracking_uri)
    sweep_id = None if sweep_id is None else str(sweep_id)  # Hydra reads sweep_id=17 as an int
    selection = runs.resolve_sweep(runs.fetch_training_runs(uri, experiment_name, sweep_id))
    print(selection.summary())
    table = protocols.table3(selection.runs, alpha)
    conclusions = protocols.conclusions(table, alpha)
    files = write_outputs(selection, runs.validation_history(uri, selection.runs), table,
                          conclusions, output_dir)
    print(tables.render_markdown(table, conclusions))
    analysis_run_id = (runs.log_analysis_run(uri, experiment_name, output_dir, selection.runs,
                                             sweep_id, alpha) if log_to_mlflow else None)
    print(f"Tables and figures in {output_dir.resolve()}"
          + (f"; logged as MLflow run {analysis_run_id} in {uri}" if analysis_run_id else ""))
    return AnalysisReport(table, conclusions, selection, files, analysis_run_id)
