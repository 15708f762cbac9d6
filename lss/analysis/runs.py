"""Training runs out of MLflow, into one tidy row per (modality, seed), and the analysis run back in.

Sweeps are messy: jobs fail, get killed, are re-run. Every run pulled is accounted for in a
``SweepSelection`` — used, excluded (with the reason), or superseded by a newer duplicate — so
Table 3 never silently rests on a different set of runs than the reader thinks.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from mlflow.entities import Run

from lss.analysis import stats
from lss.analysis.schema import METRICS, MODALITIES
from lss.tracking import JOB_TAG, KIND_TAG, SWEEP_TAG, client_for, tracked_run

TRAIN_KIND = "train"
ANALYSIS_KIND = "analysis"
ANALYSIS_RUN_IDS_TAG = "lss.analysis.run_ids"
VAL_ACCURACY = "val/accuracy"
RUN_COLUMNS = ["run_id", "status", "start_time", "sweep_id", "job_num", "modality", "seed",
               "model", "split_by", "partition_id", "n_train", "n_val", "n_test", *METRICS]


def _tidy_run(run: Run) -> dict[str, object]:
    """One run as a flat record; absent params/metrics (a run that died early) become NA."""
    params, metrics, tags = run.data.params, run.data.metrics, run.data.tags
    return {"run_id": run.info.run_id, "status": run.info.status,
            "start_time": pd.Timestamp(run.info.start_time, unit="ms", tz="UTC"),
            "sweep_id": tags.get(SWEEP_TAG), "job_num": tags.get(JOB_TAG),
            "modality": params.get("modality"), "seed": params.get("seed"),
            "model": params.get("model.name"), "split_by": params.get("data.split_by"),
            "partition_id": params.get("split.partition_id"),
            "n_train": params.get("split.n_train"), "n_val": params.get("split.n_val"),
            "n_test": params.get("split.n_test"),
            **{name: metrics.get(f"test/{name}") for name in METRICS}}


def fetch_training_runs(tracking_uri: str, experiment_name: str,
                        sweep_id: str | None = None) -> pd.DataFrame:
    """All training runs of the experiment (every status), optionally one sweep's, as a frame."""
    client = client_for(tracking_uri)
    experiment = client.get_experiment_by_name(experiment_name)
    if experiment is None:
        raise ValueError(f"expected an MLflow experiment {experiment_name!r} at {tracking_uri}, "
                         "found none; train first, or set mlflow.tracking_uri= / "
                         "mlflow.experiment_name= to the store the sweep wrote to.")
    query = f"tags.`{KIND_TAG}` = '{TRAIN_KIND}'"
    if sweep_id is not None:
        query += f" and tags.`{SWEEP_TAG}` = '{sweep_id}'"
    runs, page_token = [], None
    while True:
        page = client.search_runs([experiment.experiment_id], query, max_results=1000,
                                  page_token=page_token)
        runs.extend(page)
        page_token = page.token
        if not page_token:
            break
    frame = pd.DataFrame([_tidy_run(run) for run in runs], columns=RUN_COLUMNS)
    for column in ("seed", "n_train", "n_val", "n_test"):
        frame[column] = pd.to_numeric(frame[column]).astype("Int64")
    for column in METRICS:
        frame[column] = pd.to_numeric(frame[column]).astype(float)
    return frame


@dataclass(frozen=True)
class SweepSelection:
    """Which pulled runs Table 3 uses, and what happened to the others."""

    runs: pd.DataFrame
    excluded: pd.DataFrame
    superseded: pd.DataFrame
    missing_seeds: dict[str, list[int]]

    def summary(self) -> str:
        """The sweep bookkeeping printed before Table 3 (issue 4 §3)."""
        counts = self.runs["modality"].value_counts()
        lines = ["Runs used per modality: "
                 + ", ".join(f"{m} = {int(counts.get(m, 0))}" for m in MODALITIES)]
        lines += [f"Excluded {row.run_id} ({row.modality} seed {row.seed}): {row.reason}"
                  for row in self.excluded.itertuples()]
        lines += [f"Duplicate {row.modality} seed {row.seed}: kept newest FINISHED run "
                  f"{row.kept_run_id}, ignored {row.run_id}" for row in self.superseded.itertuples()]
        lines += [f"Missing seeds for {m}: {seeds}" for m, seeds in self.missing_seeds.items()
                  if seeds]
        return "\n".join(lines)


def _exclusion_reason(run: pd.Series) -> str | None:
    if run["status"] != "FINISHED":
        return f"status {run['status']}"
    if run["modality"] not in MODALITIES:
        return f"modality {run['modality']!r} is not one of {MODALITIES}"
    if pd.isna(run["seed"]):
        return "no seed param"
    absent = [f"test/{name}" for name in METRICS if pd.isna(run[name])]
    return f"FINISHED without {', '.join(absent)}" if absent else None


def resolve_sweep(frame: pd.DataFrame) -> SweepSelection:
    """Keep the newest FINISHED run per (modality, seed); account for every other run.

    Missing seeds are those seen in any pulled run (of either modality, any status) that have
    no usable run for a modality. Fewer than ``stats.MIN_RUNS`` usable runs in a modality is an
    error naming what was excluded, never a table of NaN.
    """
    reasons = frame.apply(_exclusion_reason, axis=1) if len(frame) else pd.Series(dtype=object)
    excluded = frame[reasons.notna()].assign(reason=reasons[reasons.notna()])
    usable = frame[reasons.isna()].sort_values("start_time", ascending=False)
    newest = ~usable.duplicated(["modality", "seed"], keep="first")
    runs = usable[newest].sort_values(["modality", "seed"]).reset_index(drop=True)
    kept = runs.set_index(["modality", "seed"])["run_id"].rename("kept_run_id")
    superseded = usable[~newest].join(kept, on=["modality", "seed"])
    all_seeds = set(frame["seed"].dropna().astype(int))
    missing = {m: sorted(all_seeds - set(runs.loc[runs["modality"] == m, "seed"].astype(int)))
               for m in MODALITIES}
    selection = SweepSelection(runs, excluded.reset_index(drop=True),
                               superseded.reset_index(drop=True), missing)
    counts = runs["modality"].value_counts()
    short = [m for m in MODALITIES if counts.get(m, 0) < stats.MIN_RUNS]
    if short:
        raise ValueError(f"expected at least {stats.MIN_RUNS} FINISHED runs per modality, found "
                         f"too few for {short}.\n{selection.summary()}\nRe-run the missing seeds "
                         "or pick another sweep with sweep_id=.")
    return selection


def validation_history(tracking_uri: str, runs: pd.DataFrame) -> pd.DataFrame:
    """Per-epoch ``val/accuracy`` of each used run (step = epoch), for Fig. 5."""
    client = client_for(tracking_uri)
    records = [{"run_id": run.run_id, "modality": run.modality, "seed": run.seed,
                "epoch": point.step, "val_accuracy": point.value}
               for run in runs.itertuples()
               for point in client.get_metric_history(run.run_id, VAL_ACCURACY)]
    return pd.DataFrame(records, columns=["run_id", "modality", "seed", "epoch", "val_accuracy"])


def log_analysis_run(tracking_uri: str, experiment_name: str, output_dir: Path,
                     runs: pd.DataFrame, sweep_id: str | None, alpha: float) -> str:
    """One ``lss.kind=analysis`` run naming the training runs used, with every output attached."""
    tags = {KIND_TAG: ANALYSIS_KIND, ANALYSIS_RUN_IDS_TAG: ",".join(runs["run_id"])}
    if sweep_id is not None:
        tags[SWEEP_TAG] = sweep_id
    params = {"alpha": alpha, "sweep_id": sweep_id, "n_runs": len(runs),
              **{f"n_runs.{m}": int((runs["modality"] == m).sum()) for m in MODALITIES}}
    with tracked_run(tracking_uri, experiment_name, "analysis", tags, params) as run_id:
        client_for(tracking_uri).log_artifacts(run_id, str(output_dir))
    return run_id
