"""Where the MLflow store is and how to talk to it safely: URI, client, retries, locks, the experiment.

MLflow traps handled here: Lightning's MLFlowLogger reads ``MLFLOW_TRACKING_URI`` once at import
(so the URI is always passed explicitly), MLflow >= 3.13 refuses the old ``./mlruns`` file store
(so the default is SQLite), parallel jobs race on SQLite migrations and writes (so a file lock
beside the store guards its creation and writes retry on "database is locked"), and MLflow retries
an unreachable server for about 4 minutes per call (so lss bounds that to seconds and keeps what a
job logs on disk until the server is back, ``lss.tracking.journal``).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import mlflow
from filelock import FileLock
from mlflow.tracking import MlflowClient
from sqlalchemy.exc import OperationalError

from lss.errors import UserError

DEFAULT_STORE = Path("outputs") / "mlflow.db"
HTTP_LIMITS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "3",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
}
"""MLflow's own defaults (7 retries, backoff factor 2, 120 s) block each call ~4 min on a server that is away;
with these a call gives up in ~10 s and the job keeps what it would log on disk. The environment overrides them."""
REACHABLE_TIMEOUT_S = 5

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


TRANSIENT_ERRORS = ("locked", "busy")
"""What SQLite answers while another job writes."""


def with_retries(
    action: Callable[[], T], attempts: int = 8, first_wait_s: float = 0.2, transient_errors: tuple[str, ...] = ()
) -> T:
    """Back off and retry while the store answers a transient error: SQLite's 'database is locked' while another
    job writes, and the (lower-case) ``transient_errors`` the caller knows a second try gets past."""
    for attempt in range(attempts):
        try:
            return action()
        except Exception as error:
            transient = any(part in str(error).lower() for part in (*TRANSIENT_ERRORS, *transient_errors))
            if not transient or attempt == attempts - 1:
                raise
            time.sleep(first_wait_s * 2**attempt)
    raise AssertionError("unreachable")


def is_server(tracking_uri: str) -> bool:
    return tracking_uri.startswith(("http://", "https://"))


def store_lock(tracking_uri: str) -> FileLock:
    """A lock that makes "create the store" and "is this job done / start it" atomic across processes: beside a
    SQLite store; for a server, in this host's temp folder (so it serialises this host's jobs, not other hosts')."""
    if tracking_uri.startswith("sqlite:///"):
        path = Path(tracking_uri.removeprefix("sqlite:///") + ".lock")
        path.parent.mkdir(parents=True, exist_ok=True)
    else:
        path = Path(tempfile.gettempdir()) / f"lss-mlflow-{hashlib.sha256(tracking_uri.encode()).hexdigest()[:16]}.lock"
    return _LOCKS.setdefault(str(path), FileLock(path))


_LOCKS: dict[str, FileLock] = {}
_CREATED_STORES: set[str] = set()


def bound_http_retries() -> None:
    for name, value in HTTP_LIMITS.items():
        os.environ.setdefault(name, value)


def client_for(tracking_uri: str) -> MlflowClient:
    """A client whose store exists: a SQLite store is created (schema migrations) under the store lock, once per
    process, so two processes starting on a fresh store never run migrations together."""
    bound_http_retries()
    if not tracking_uri.startswith("sqlite:///") or tracking_uri in _CREATED_STORES:
        return MlflowClient(tracking_uri=tracking_uri)
    with store_lock(tracking_uri):
        client = MlflowClient(tracking_uri=tracking_uri)  # opening the store creates and migrates it
    _CREATED_STORES.add(tracking_uri)
    return client


def require_reachable(tracking_uri: str) -> None:
    """Fail in seconds, with one line naming the URI, when a tracking server does not answer."""
    if not is_server(tracking_uri):
        return
    try:
        with urllib.request.urlopen(f"{tracking_uri.rstrip('/')}/health", timeout=REACHABLE_TIMEOUT_S):
            return
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise UserError(
            f"the MLflow tracking server {tracking_uri} does not answer ({reason}); start it or set "
            "mlflow.tracking_uri= to one that runs (results kept on disk during an outage are sent by: "
            "python -m lss.tracking sync)"
        ) from error


def is_store_away(tracking_uri: str, error: BaseException) -> bool:
    """Whether ``error`` means the store cannot be reached now (a server that does not answer, a SQLite file that
    cannot be written), rather than a request the store refused."""
    if is_server(tracking_uri):
        try:
            require_reachable(tracking_uri)
        except UserError:
            return True
        return "failed with exception" in str(error)  # MLflow's wording for a connection that broke mid-request
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, OperationalError):
            return True
        cause = cause.__cause__ or cause.__context__
    return False


@contextmanager
def fluent_tracking_uri(tracking_uri: str) -> Iterator[None]:
    """MLflow's fluent API (``mlflow.search_runs``, ``log_model``) reads a process-wide URI, and setting it also sets
    ``MLFLOW_TRACKING_URI`` in the environment: set both for one call, then put both back."""
    bound_http_retries()
    previous = mlflow.get_tracking_uri() if mlflow.is_tracking_uri_set() else None
    mlflow.set_tracking_uri(tracking_uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(previous)  # type: ignore[arg-type]  # None unsets both (MLflow's code; not its hint)


EXPERIMENT_KIND_TAG, MODEL_TRAINING_KIND = "mlflow.experimentKind", "custom_model_development"
"""MLflow's UI opens an experiment of this kind on its training runs, not on the GenAI overview (traces)."""


def experiment_id(tracking_uri: str, experiment_name: str) -> str | None:
    """The experiment's id, or None when no run was ever logged to it."""
    experiment = client_for(tracking_uri).get_experiment_by_name(experiment_name)
    return experiment.experiment_id if experiment is not None else None


def ensure_experiment(tracking_uri: str, experiment_name: str) -> str:
    """Create the store (runs its migrations) and the experiment once; return the experiment id."""
    require_reachable(tracking_uri)
    client = client_for(tracking_uri)

    def get_or_create() -> str:
        found = client.get_experiment_by_name(experiment_name)
        if found is not None:
            if found.tags.get(EXPERIMENT_KIND_TAG) is None:  # an experiment made before lss tagged its kind
                client.set_experiment_tag(found.experiment_id, EXPERIMENT_KIND_TAG, MODEL_TRAINING_KIND)
            return str(found.experiment_id)
        root = artifact_root_for(tracking_uri)
        try:
            return client.create_experiment(
                experiment_name,
                artifact_location=f"{root}/{experiment_name}" if root else None,
                tags={EXPERIMENT_KIND_TAG: MODEL_TRAINING_KIND},
            )
        except Exception:  # another job created it between our two calls
            created = experiment_id(tracking_uri, experiment_name)
            if created is None:
                raise
            return created

    return with_retries(get_or_create)
