"""A job's run from start to end: is it done already, claim it, log through the journal, end it with its status.

FINISHED when everything, artifacts and model included, arrived; FAILED (``lss.error``) on an exception; KILLED
(``lss.interrupted``) on SIGTERM / SIGINT. "Is this job done / start it" is one step under the store lock, so two
sweeps started together train each job once.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mlflow.entities import RunStatus

from lss.errors import Interrupted
from lss.tracking.identity import (
    INTERRUPT_TAG,
    close_dead_runs,
    find_finished_run,
    is_running_elsewhere,
    owner_tags,
    runs_of_config,
)
from lss.tracking.journal import (
    Journal,
    TrackedRun,
    close_journal,
    error_tags,
    finished_on_disk,
    keep_pending,
    send_pending,
)
from lss.tracking.store import client_for, ensure_experiment, store_lock, with_retries

log = logging.getLogger(__name__)

DEFAULT_PENDING_DIR = Path("outputs") / "mlflow-pending"


def resolve_pending_dir(pending_dir: str | None) -> Path:
    """``mlflow.pending_dir`` as given, else ``outputs/mlflow-pending`` under the cwd (beside the default store)."""
    return Path(pending_dir or DEFAULT_PENDING_DIR).resolve()


def prepare_job(tracking_uri: str, experiment_name: str, pending_dir: Path, digest: str | None) -> str | None:
    """Before a job: with ``digest`` (resume), the run of that config that already FINISHED, on disk (kept during an
    outage) or in the store. Otherwise fail fast when the store is away, send what earlier jobs kept, and mark
    KILLED the runs left RUNNING by processes that died."""
    if digest is not None and (kept := finished_on_disk(tracking_uri, pending_dir, experiment_name, digest)):
        log.info("run %s of this config FINISHED and waits on disk in %s for the store", kept, pending_dir)
        return kept
    ensure_experiment(tracking_uri, experiment_name)  # fails in seconds, one line, when a server does not answer
    send_pending(tracking_uri, pending_dir)
    for run_id in close_dead_runs(tracking_uri, experiment_name):
        log.warning("run %s was left RUNNING by a process that died; marked KILLED", run_id)
    return find_finished_run(tracking_uri, experiment_name, digest) if digest is not None else None


def create_run(tracking_uri: str, experiment_name: str, run_name: str, tags: dict[str, str]) -> str:
    """A new RUNNING run, tagged with its owner (dead-run reaping)."""
    experiment = ensure_experiment(tracking_uri, experiment_name)
    create = functools.partial(
        client_for(tracking_uri).create_run, experiment, run_name=run_name, tags={**tags, **owner_tags()}
    )
    return with_retries(create).info.run_id


def claim_run(
    tracking_uri: str, experiment_name: str, run_name: str, tags: dict[str, str], digest: str | None
) -> str | None:
    """``create_run``; with ``digest`` (resume) None instead when a run of that config FINISHED or is RUNNING in a
    live process. Checked and created under the store lock (``store_lock``): two sweeps started together on one
    host train each job once. On a server shared by several hosts the lock is per host (see README, Faults)."""
    ensure_experiment(tracking_uri, experiment_name)
    with store_lock(tracking_uri):
        for run in runs_of_config(tracking_uri, experiment_name, digest) if digest is not None else []:
            if run.info.status == RunStatus.to_string(RunStatus.FINISHED) or is_running_elsewhere(run):
                log.info("skipping %s: run %s of the same config is %s", run_name, run.info.run_id, run.info.status)
                return None
        return create_run(tracking_uri, experiment_name, run_name, tags)


@contextlib.contextmanager
def tracked_run(
    tracking_uri: str,
    experiment_name: str,
    run_id: str,
    params: dict[str, Any],
    journal_dir: Path | None = None,
    pending_dir: Path | None = None,
    digest: str | None = None,
) -> Iterator[TrackedRun]:
    """Log ``params`` and yield the run; end it FINISHED, FAILED or KILLED. Its journal is ``journal_dir/<run id>``;
    without ``journal_dir`` a temporary folder: what an outage kept from sending is then lost (analysis runs, which
    can be redone)."""
    with contextlib.ExitStack() as scratch:
        folder = (journal_dir or Path(scratch.enter_context(tempfile.TemporaryDirectory()))) / run_id
        header = {"tracking_uri": tracking_uri, "experiment_name": experiment_name, "run_id": run_id}
        run = TrackedRun(Journal.create(folder, header | ({"config_hash": digest} if digest else {})))
        try:
            run.log_params(params)
            yield run
        except Interrupted as interrupt:
            run.end(RunStatus.KILLED, {INTERRUPT_TAG: interrupt.signal_name})
            finish(run.journal, pending_dir)
            raise
        except BaseException as error:
            run.end(RunStatus.FAILED, error_tags(error))
            finish(run.journal, pending_dir)
            raise
        run.end(RunStatus.FINISHED, {})
        finish(run.journal, pending_dir)


def finish(journal: Journal, pending_dir: Path | None) -> None:
    """Send what is left; when the store is still away, leave a pointer so the next run or ``sync`` sends it."""
    pointer = keep_pending(journal, pending_dir) if pending_dir is not None else None
    if journal.send():
        if pointer is not None:
            close_journal(journal, pointer)
    elif pointer is None:
        log.warning("run %s could not be completed in %s (the store is away)", journal.run_id, journal.tracking_uri)
    else:
        log.warning(
            "run %s %s but the store %s is away: kept in %s; it is sent on the next run or by "
            "python -m lss.tracking sync",
            journal.run_id,
            journal.ended(),
            journal.tracking_uri,
            journal.folder,
        )
