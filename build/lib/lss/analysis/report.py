"""The whole analysis in one call: MLflow runs -> Table 3 (both protocols) -> figures -> MLflow.

``run_analysis`` takes any tracking URI and experiment, so the same code serves ``analyze.py``,
``make demo`` and tests that point it at a throw-away SQLite store.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from lss import tracking
from lss.analysis import baseline, figures, protocols, runs, tables
from lss.errors import UserError
from lss.manifest import MODALITIES, T1, T2

VAL_ACCURACY = "val/accuracy"
ANALYSIS_RUN_IDS_TAG = "lss.analysis.run_ids"


@dataclass(frozen=True)
class AnalysisReport:
    """What one analysis produced, for callers that go on (the demo prints where things are)."""

    table: pd.DataFrame
    conclusions: dict[str, str]
    selection: runs.SweepSelection
    files: list[Path]
    analysis_run_id: str | None


def fetch_training_runs(
    tracking_uri: str, experiment_name: str, where: dict[str, object] | None = None
) -> pd.DataFrame:
    """Every training run of the experiment (any status, any sweep), tidied; ``where`` keeps the runs whose
    dotted params equal the given values (``{"model.backbone": "test_resnet"}``)."""
    conditions = [f"tags.`{tracking.KIND_TAG}` = '{tracking.TRAIN_KIND}'"]
    conditions += [f"params.`{key}` = '{value}'" for key, value in (where or {}).items()]
    query = " and ".join(conditions)
    found = tracking.runs_frame(tracking_uri, experiment_name, query)
    if found is None:
        raise UserError(
            f"expected an MLflow experiment {experiment_name!r} at {tracking_uri}, found none; train first, "
            "or set mlflow.tracking_uri= / mlflow.experiment_name= to the store the sweep wrote to."
        )
    return runs.tidy_runs(found)


def select_runs(frame: pd.DataFrame, sweep_id: str | Sequence[str] | None) -> runs.SweepSelection:
    chosen, scope = runs.select_design(frame, sweep_id)
    return runs.resolve_sweep(chosen, scope)


def write_outputs(
    selection: runs.SweepSelection,
    history: pd.DataFrame,
    table: pd.DataFrame,
    conclusions: dict[str, str],
    baseline_comparison: pd.DataFrame,
    alpha: float,
    output_dir: Path,
) -> list[Path]:
    """Every output file into ``output_dir``; no MLflow needed."""
    output_dir.mkdir(parents=True, exist_ok=True)
    runs_csv = output_dir / "runs.csv"
    selection.runs.drop(columns=[c for c in selection.runs.columns if c.startswith("design")]).to_csv(
        runs_csv, index=False
    )
    history.to_csv(output_dir / "val_accuracy_history.csv", index=False)
    return [
        runs_csv,
        output_dir / "val_accuracy_history.csv",
        *tables.write_tables(table, conclusions, output_dir),
        *baseline.write_baseline(baseline_comparison, alpha, output_dir),
        figures.metric_boxplot(selection.runs, T1, output_dir / "fig6_t1_boxplot.png"),
        figures.metric_boxplot(selection.runs, T2, output_dir / "fig7_t2_boxplot.png"),
        figures.modality_comparison(selection.runs, output_dir / "t1_vs_t2_runs.png"),
        figures.validation_accuracy(history, output_dir / "fig5_val_accuracy.png"),
    ]


def log_analysis_run(
    tracking_uri: str, experiment_name: str, output_dir: Path, used: pd.DataFrame, sweep_id: object, alpha: float
) -> str:
    """One ``lss.kind=analysis`` run naming the training runs used, with every output attached."""
    tags = {tracking.KIND_TAG: tracking.ANALYSIS_KIND, ANALYSIS_RUN_IDS_TAG: ",".join(used["run_id"])}
    if sweep_id is not None:
        tags[tracking.SWEEP_TAG] = str(sweep_id)
    params = {
        "alpha": alpha,
        "sweep_id": sweep_id,
        "n_runs": len(used),
        **{f"n_runs.{m}": int((used["modality"] == m).sum()) for m in MODALITIES},
    }
    with tracking.tracked_run(tracking_uri, experiment_name, "analysis", tags, params) as run:
        run.log_artifacts(output_dir)
    return run.run_id


def run_analysis(
    output_dir: Path,
    tracking_uri: str | None = None,
    experiment_name: str = "lss",
    sweep_id: str | Sequence[str] | None = None,
    alpha: float = 0.05,
    log_to_mlflow: bool = True,
    where: dict[str, object] | None = None,
) -> AnalysisReport:
    """Pull one design's runs, print its bookkeeping and Table 3, write and log every output."""
    uri = tracking.resolve_tracking_uri(tracking_uri)
    if isinstance(sweep_id, int):  # Hydra reads sweep_id=17 as an int
        sweep_id = str(sweep_id)
    selection = select_runs(fetch_training_runs(uri, experiment_name, where), sweep_id)
    print(selection.summary())
    table = protocols.table3(selection.runs, alpha)
    conclusions = protocols.conclusions(table, alpha, protocols.caveat(selection.runs))
    history = runs.validation_history(
        tracking.metric_history(uri, list(selection.runs["run_id"]), VAL_ACCURACY), selection.runs
    )
    baseline_comparison = baseline.baseline_table(selection.runs)
    files = write_outputs(selection, history, table, conclusions, baseline_comparison, alpha, output_dir)
    print(tables.render_markdown(table, conclusions))
    print(baseline.render_markdown(baseline_comparison, alpha))
    analysis_run_id = (
        log_analysis_run(uri, experiment_name, output_dir, selection.runs, sweep_id, alpha) if log_to_mlflow else None
    )
    print(
        f"Tables and figures in {output_dir.resolve()}"
        + (f"; logged as MLflow run {analysis_run_id} in {uri}" if analysis_run_id else "")
    )
    return AnalysisReport(table, conclusions, selection, files, analysis_run_id)
