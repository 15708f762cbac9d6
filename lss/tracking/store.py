"""Where the MLflow store is and how to talk to it safely: URI, client, retries, the experiment.

MLflow traps handled here: Lightning's MLFlowLogger reads ``MLFLOW_TRACKING_URI`` once at import
(so the URI is always passed explicitly), MLflow >= 3.13 refuses the old ``./mlruns`` file store
(so the default is SQLite), and parallel jobs race on SQLite migrations and writes (so the store
is initialised once and writes retry on "database is locked").
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from mlflow.tracking import MlflowClient

DEFAULT_STORE = Path("outputs") / "mlflow.db"

T = TypeVar("T")


def resolve_tracking_uri(uri: str | None = None) -> str:
    """Explicit URI > ``MLFLOW_TRACKING_URI`` > SQLite store ``outputs/mlflow.db`` under the cwd."""
    if uri:
        return uri
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    return f"sqlite:///{DEFAULT_STORE.resolve()}"


def artifact_root_for(tracking_uri: str) -> str | None:
    """Artifacts of a local SQLite store live beside it (``mlflow.db`` -> ``mlartifacts/``)."""
    if tracking_uri.startswith("sqlite:///"):
        return (Path(tracking_uri.removeprefix("sqlite:///")).parent / "mlartifacts").resolve().as_uri()
    return None


def with_retries(action: Callable[[], T], attempts: int = 8, first_wait_s: float = 0.2) -> T:
    """SQLite answers 'database is locked' while another job writes; back off and retry."""
    for attempt in range(attempts):
        try:
            return action()
        except Exception as error:
            transient = "locked" in str(error).lower() or "busy" in str(error).lower()
            if not transient or attempt == attempts - 1:
                raise
            time.sleep(first_wait_s * 2**attempt)
    raise AssertionError("unreachable")


def client_for(tracking_uri: str) -> MlflowClient:
    if tracking_uri.startswith("sqlite:///"):
        Path(tracking_uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    return MlflowClient(tracking_uri=tracking_uri)


@contextmanager
def fluent_tracking_uri(tracking_uri: str) -> Iterator[None]:
    """MLflow's fluent API (``mlflow.search_runs``) reads a process-wide URI, and setting it also sets
    ``MLFLOW_TRACKING_URI`` in the environment: set both for one call, then put both back."""
    from mlflow.tracking._tracking_service import utils

    saved_environment = os.environ.get("MLFLOW_TRACKING_URI")
    saved_uri = utils._tracking_uri
    utils.set_tracking_uri(tracking_uri)
    try:
        yield
    finally:
        utils._tracking_uri = saved_uri
        if saved_environment is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = saved_environment


def experiment_id(tracking_uri: str, experiment_name: str) -> str | None:
    """The experiment's id, or None when no run was ever logged to it."""
    experiment = client_for(tracking_uri).get_experiment_by_name(experiment_name)
    return experiment.experiment_id if experiment is not None else None


def ensure_experiment(tracking_uri: str, experiment_name: str) -> str:
    """Create the store (runs its migrations) and the experiment once; return the experiment id."""
    client = client_for(tracking_uri)

    def get_or_create() -> str:
        found = experiment_id(tracking_uri, experiment_name)
        if found is not None:
            return found
        root = artifact_root_for(tracking_uri)
        try:
            return client.create_experiment(
                experiment_name, artifact_location=f"{root}/{experiment_name}" if root else None
            )
        except Exception:  # another job created it between our two calls
            found = experiment_id(tracking_uri, experiment_name)
            if found is None:
                raise
            return found

    return with_retries(get_or_create)
