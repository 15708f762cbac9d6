"""The data a run saw, as an MLflow dataset input: the UI's Dataset column shows its name and digest."""

from __future__ import annotations

import warnings

import mlflow
import pandas as pd
from mlflow.data.pandas_dataset import from_pandas

from lss.tracking.runs import active_run
from lss.tracking.store import with_retries

TRAINING_CONTEXT = "training"
DATASET_CREATED_MEANWHILE = "unique constraint failed: datasets"
"""MLflow looks a dataset up, then creates it: two jobs logging the same data at once (two sweeps, a parallel
launcher) can both create it, and the second fails on the UNIQUE constraint. The dataset then exists, so logging
it again links it to the run."""


def log_dataset(tracking_uri: str, run_id: str, rows: pd.DataFrame, source: str, name: str) -> None:
    """Log ``rows`` (manifest rows: slice identity and labels, patient_key but no patient identifier) as the run's
    training input; MLflow stores their schema, size and digest, and ``source`` (the data root), never the rows."""
    with warnings.catch_warnings(), active_run(tracking_uri, run_id):
        warnings.simplefilter("ignore", UserWarning)  # MLflow's own: a doubly registered source, model-schema hints
        dataset = from_pandas(rows, source=source, name=name)
        with_retries(
            lambda: mlflow.log_input(dataset, context=TRAINING_CONTEXT), transient_errors=(DATASET_CREATED_MEANWHILE,)
        )
