"""Training runs (MLflow's DataFrame) -> one tidy row per (modality, seed) of one experiment design.

Sweeps are messy: jobs fail, get killed, are re-run, and one experiment may hold several designs
(another backbone, another split). Every run pulled is accounted for in a ``SweepSelection`` —
used, excluded (with the reason), or superseded by a newer duplicate — and runs of different
designs are never mixed in one Table 3.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lss.analysis import stats
from lss.analysis.schema import EXTRA_METRICS, METRICS
from lss.data.splits import LEGACY_SPLIT_SCHEME
from lss.errors import UserError
from lss.manifest import MODALITIES
from lss.tracking import (
    COMMIT_TAG,
    DATA_SOURCE_TAG,
    ENVIRONMENT_TAG_PREFIX,
    JOB_TAG,
    SPLIT_SCHEME_PARAM,
    SWEEP_TAG,
    design_keys,
)

ALL_SWEEPS = "all"
RUN_COLUMNS = [
    "run_id",
    "status",
    "start_time",
    "sweep_id",
    "job_num",
    "modality",
    "seed",
    "model",
    "pretrained",
    "data_source",
    "split_by",
    "split_scheme",
    "partition_id",
    "n_train",
    "n_val",
    "n_test",
    *METRICS,
    *EXTRA_METRICS,
    "commit",
]
RECORD_PREFIX = "env."
"""Tidy columns ``env.<name>``: a run's record (lss.environment), from its ``lss.env.<name>`` tags."""
MLFLOW_COLUMNS = {
    "params.modality": "modality",
    "params.seed": "seed",
    "params.model.backbone": "model",
    "params.model.pretrained": "pretrained",
    f"tags.{DATA_SOURCE_TAG}": "data_source",
    "params.data.split_by": "split_by",
    "params.split.partition_id": "partition_id",
    f"params.{SPLIT_SCHEME_PARAM}": "split_scheme",
    f"tags.{COMMIT_TAG}": "commit",
    "params.split.n_train": "n_train",
    "params.split.n_val": "n_val",
    "params.split.n_test": "n_test",
    f"tags.{SWEEP_TAG}": "sweep_id",
    f"tags.{JOB_TAG}": "job_num",
    **{f"metrics.test/{name}": name for name in (*METRICS, *EXTRA_METRICS)},
}


def tidy_runs(mlflow_runs: pd.DataFrame) -> pd.DataFrame:
    """MLflow's runs DataFrame -> RUN_COLUMNS plus ``design`` (the settings every repeat of a design shares)."""
    frame = mlflow_runs.rename(columns=MLFLOW_COLUMNS).reindex(columns=RUN_COLUMNS)
    frame["split_scheme"] = frame["split_scheme"].fillna(str(LEGACY_SPLIT_SCHEME))  # runs from before it was logged
    tags = f"tags.{ENVIRONMENT_TAG_PREFIX}"
    record = mlflow_runs[sorted(column for column in mlflow_runs.columns if column.startswith(tags))]
    frame = frame.join(record.rename(columns=lambda column: RECORD_PREFIX + column.removeprefix(tags)))
    for column in ("seed", "n_train", "n_val", "n_test"):
        frame[column] = pd.to_numeric(frame[column]).astype("Int64")
    for column in (*METRICS, *EXTRA_METRICS):
        frame[column] = pd.to_numeric(frame[column]).astype(float)
    settings = design_keys(
        [column.removeprefix("params.") for column in mlflow_runs.columns if column.startswith("params.")]
    )
    designs = mlflow_runs.reindex(columns=[f"params.{key}" for key in settings]).fillna("")
    designs.columns = settings
    frame["design"] = designs.astype(str).agg("\x1f".join, axis=1) if settings else ""
    return frame.join(designs.add_prefix("design."))


def differing_settings(runs: pd.DataFrame) -> list[str]:
    """Design settings on which the given runs disagree."""
    columns = [column for column in runs.columns if column.startswith("design.")]
    return [column.removeprefix("design.") for column in columns if runs[column].nunique() > 1]


def refuse_mixed_designs(runs: pd.DataFrame, scope: str) -> None:
    differing = differing_settings(runs)
    if differing:
        raise UserError(
            f"the runs of {scope} mix experiment designs that differ in {', '.join(differing)}; "
            "analyse one design at a time with sweep_id=<one sweep> or +where.<key>=<value>"
        )


def refuse_mixed_split_schemes(runs: pd.DataFrame, scope: str) -> None:
    """Runs of two split schemes tested on unrelated slices: no table may pair or pool them."""
    counts = runs["split_scheme"].value_counts().sort_index()
    if len(counts) > 1:
        found = ", ".join(f"scheme {scheme} ({count} runs)" for scheme, count in counts.items())
        raise UserError(
            f"the runs of {scope} were split by different split schemes ({found}; runs without "
            f"{SPLIT_SCHEME_PARAM} are scheme {LEGACY_SPLIT_SCHEME}), so their test sets are unrelated; analyse one "
            f"scheme at a time with sweep_id=<one sweep> or +where.{SPLIT_SCHEME_PARAM}=<scheme>"
        )


def run_record(runs: pd.DataFrame) -> list[str]:
    """The report's lines on what the runs ran with (lss.environment, commit, split scheme): one line when they
    agree, and a warning naming what differs when they do not."""
    columns = ["split_scheme", "commit", *sorted(c for c in runs.columns if c.startswith(RECORD_PREFIX))]
    values = runs[columns].fillna("unknown").astype(str)
    name = {column: column.removeprefix(RECORD_PREFIX).replace("_", " ") for column in columns}
    same = [f"{name[column]} {values[column].iloc[0]}" for column in columns if values[column].nunique() == 1]
    lines = [f"Run record: {', '.join(same)}"] if same else []
    counts = {column: values[column].value_counts().sort_index() for column in columns}
    differing = [
        f"{name[column]} ({', '.join(f'{value} in {count}' for value, count in counts[column].items())})"
        for column in columns
        if len(counts[column]) > 1
    ]
    if differing:
        lines.append(f"Warning: the compared runs differ in {'; '.join(differing)}")
    return lines


def select_design(frame: pd.DataFrame, sweep_id: str | Sequence[str] | None) -> tuple[pd.DataFrame, str]:
    """The runs one Table 3 may rest on, and a sentence saying which.

    ``None``: the newest sweep, plus runs of the same design from earlier sweeps for the
    (modality, seed) jobs it lacks (those ``resume`` skipped because they had already run).
    ``"all"``, one id or a list: those sweeps, only if every run shares one design.
    """
    if frame.empty:
        return frame, "no training runs"
    if sweep_id is None:
        newest = str(frame.sort_values("start_time").iloc[-1]["sweep_id"])
        in_sweep = frame[frame["sweep_id"] == newest]
        refuse_mixed_designs(in_sweep, f"the newest sweep {newest}")
        refuse_mixed_split_schemes(in_sweep, f"the newest sweep {newest}")
        done = set(zip(in_sweep["modality"], in_sweep["seed"]))
        not_in_sweep = pd.Series([job not in done for job in zip(frame["modality"], frame["seed"])], index=frame.index)
        alike = (frame["design"] == in_sweep["design"].iloc[0]) & (
            frame["split_scheme"] == in_sweep["split_scheme"].iloc[0]
        )
        reused = frame[(frame["sweep_id"] != newest) & alike & not_in_sweep]
        note = (
            f"; {len(reused)} runs of the same design from sweeps {sorted(set(reused['sweep_id']))} fill the jobs "
            "it resumed"
            if len(reused)
            else ""
        )
        return pd.concat([in_sweep, reused]), f"Newest sweep {newest}{note}."
    wanted = [str(sweep_id)] if isinstance(sweep_id, (str, int)) else [str(item) for item in sweep_id]
    chosen = frame if wanted == [ALL_SWEEPS] else frame[frame["sweep_id"].isin(wanted)]
    scope = "all sweeps" if wanted == [ALL_SWEEPS] else f"sweeps {wanted}"
    refuse_mixed_designs(chosen, scope)
    refuse_mixed_split_schemes(chosen, scope)
    return chosen, f"Runs of {scope}."


@dataclass(frozen=True)
class SweepSelection:
    """Which pulled runs Table 3 uses, and what happened to the others."""

    runs: pd.DataFrame
    excluded: pd.DataFrame
    superseded: pd.DataFrame
    missing_seeds: dict[str, list[int]]
    scope: str = ""

    def summary(self) -> str:
        """The sweep bookkeeping printed before Table 3."""
        counts = self.runs["modality"].value_counts()
        lines = [self.scope] if self.scope else []
        lines += ["Runs used per modality: " + ", ".join(f"{m} = {int(counts.get(m, 0))}" for m in MODALITIES)]
        lines += [
            f"Excluded {row.run_id} ({row.modality} seed {row.seed}): {row.reason}"
            for row in self.excluded.itertuples()
        ]
        lines += [
            f"Duplicate {row.modality} seed {row.seed}: kept newest FINISHED run "
            f"{row.kept_run_id}, ignored {row.run_id}"
            for row in self.superseded.itertuples()
        ]
        lines += [f"Missing seeds for {m}: {seeds}" for m, seeds in self.missing_seeds.items() if seeds]
        return "\n".join(lines + run_record(self.runs))


def _exclusion_reason(run: pd.Series) -> str | None:
    if run["status"] != "FINISHED":
        return f"status {run['status']}"
    if run["modality"] not in MODALITIES:
        return f"modality {run['modality']!r} is not one of {MODALITIES}"
    if pd.isna(run["seed"]):
        return "no seed param"
    absent = [f"test/{name}" for name in METRICS if pd.isna(run[name])]
    return f"FINISHED without {', '.join(absent)}" if absent else None


def resolve_sweep(frame: pd.DataFrame, scope: str = "") -> SweepSelection:
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
    missing = {m: sorted(all_seeds - set(runs.loc[runs["modality"] == m, "seed"].astype(int))) for m in MODALITIES}
    selection = SweepSelection(runs, excluded.reset_index(drop=True), superseded.reset_index(drop=True), missing, scope)
    counts = runs["modality"].value_counts()
    short = [m for m in MODALITIES if counts.get(m, 0) < stats.MIN_RUNS]
    if short:
        raise UserError(
            f"expected at least {stats.MIN_RUNS} FINISHED runs per modality, found too few for {short}. "
            f"{' '.join(selection.summary().splitlines())} "
            "Re-run the missing seeds or pick another sweep with sweep_id=."
        )
    return selection


def validation_history(history: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """``run_id, step, value`` of ``val/accuracy`` -> one row per (run, epoch) with modality and seed, for Fig. 5."""
    merged = history.merge(runs[["run_id", "modality", "seed"]], on="run_id")
    return merged.rename(columns={"step": "epoch", "value": "val_accuracy"})[
        ["run_id", "modality", "seed", "epoch", "val_accuracy"]
    ].astype({"epoch": np.int64})
