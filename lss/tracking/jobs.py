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
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

from mlflow.entities import RunStatus

from lss.errors import Interrupted, UserError
from lss.tracking.identity import (
    CONFIG_HASH_TAG,
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
from lss.tracking.runs import log_params
from lss.tracking.store import client_for, ensure_experiment, is_store_away, store_lock, with_retries

log = logging.getLogger(__name__)

DEFAULT_PENDING_DIR = Path("outputs") / "mlflow-pending"


def resolve_pending_dir(pending_dir: str | None) -> Path:
    """``mlflow.pending_dir`` as given, else ``outputs/mlflow-pending`` under the cwd (beside the default store)."""
    return Path(pending_dir or DEFAULT_PENDING_DIR).resolve()


def prepare_job(tracking_uri: str, experiment_name: str, pending_dir: Path, digest: str | None) -> str | None:
    """Before a job: fail fast when the store is away, send what earlier jobs kept on disk, mark KILLED the runs
    left RUNNING by processes that died. With ``digest`` (resume): the run of that config that FINISHED, in the
    store or kept on disk (then also while the store is away)."""
    try:
        ensure_experiment(tracking_uri, experiment_name)  # in seconds, one line, when a server does not answer
    except UserError:
        if digest is not None and (kept := finished_on_disk(tracking_uri, pending_dir, experiment_name, digest)):
            log.info("run %s of this config FINISHED and waits on disk for %s", kept, tracking_uri)
            return kept
        raise
    send_pending(tracking_uri, pending_dir)
    for run_id in close_dead_runs(tracking_uri, experiment_name):
        log.warning("run %s was left RUNNING by a process that died; marked KILLED", run_id)
    if digest is None:
        return None
    return find_finished_run(tracking_uri, experiment_name, digest) or finished_on_disk(
        tracking_uri, pending_dir, experiment_name, digest
    )


def create_run(
    tracking_uri: str, experiment_name: str, run_name: str, tags: dict[str, str], params: dict[str, Any]
) -> tuple[str, bool]:
    """A new RUNNING run, tagged with its owner (dead-run reaping), its params logged at once so that a run killed a
    moment later still says which job it was: (run id, whether the params arrived; if the store went away just
    then, they go to the run's journal)."""
    experiment = ensure_experiment(tracking_uri, experiment_name)
    create = functools.partial(
        client_for(tracking_uri).create_run, experiment, run_name=run_name, tags={**tags, **owner_tags()}
    )
    run_id = with_retries(create).info.run_id
    try:
        log_params(tracking_uri, run_id, params)
    except Exception as error:
        if not is_store_away(tracking_uri, error):
            raise
        return run_id, False
    return run_id, True


def run_holding(tracking_uri: str, experiment_name: str, digest: str) -> str | None:
    """The run of this config that FINISHED or is RUNNING in a live process (the job is taken), if any."""
    for run in runs_of_config(tracking_uri, experiment_name, digest):
        if run.info.status == RunStatus.to_string(RunStatus.FINISHED) or is_running_elsewhere(run):
            return run.info.run_id
    return None


def hold_interrupts() -> Callable[[], None]:
    """Hold SIGTERM / SIGINT back until the returned function is called: between creating a run and entering the
    code that ends it, a signal would leave it RUNNING. Held in Python (the handler of ``lss.entry`` only records
    the signal), not by a signal mask: a process-directed signal goes to any thread that does not block it, and
    the Python handler then runs in the main thread at once, mask or not."""
    Interrupted.held = True

    def release() -> None:
        Interrupted.held = False

    return release


@contextlib.contextmanager
def claimed_run(
    tracking_uri: str,
    experiment_name: str,
    run_name: str,
    tags: dict[str, str],
    params: dict[str, Any],
    digest: str | None = None,
    journal_dir: Path | None = None,
    pending_dir: Path | None = None,
) -> Iterator[TrackedRun | None]:
    """Claim the job: create the run with ``params``, unless ``digest`` (resume) finds it taken (then yield None);
    checked and created under the store lock, so two sweeps started together on one host train each job once (on a
    server shared by several hosts the lock is per host: README, Faults). Yield the run, end it FINISHED,
    FAILED or KILLED. Its journal is ``journal_dir/<run id>``; without ``journal_dir`` a temporary folder: what an
    outage kept from sending is then lost (analysis runs, which can be redone)."""
    run: TrackedRun | None = None
    release = hold_interrupts()
    with contextlib.ExitStack() as scratch:
        try:
            ensure_experiment(tracking_uri, experiment_name)
            with store_lock(tracking_uri):  # "is this job done or running / start it" as one step
                holder = run_holding(tracking_uri, experiment_name, digest) if digest is not None else None
                created = None if holder else create_run(tracking_uri, experiment_name, run_name, tags, params)
            if holder:
                log.info("skipping %s: run %s of the same config is FINISHED or RUNNING", run_name, holder)
            if created is not None:
                run_id, params_arrived = created
                folder = (journal_dir or Path(scratch.enter_context(tempfile.TemporaryDirectory()))) / run_id
                header = {"tracking_uri": tracking_uri, "experiment_name": experiment_name, "run_id": run_id}
                run = TrackedRun(Journal.create(folder, header | {"config_hash": tags.get(CONFIG_HASH_TAG, "")}))
                if not params_arrived:
                    run.log_params(params)
            release()
            if Interrupted.received is not None:  # a signal held since the claim acts here: the run can end KILLED
                raise Interrupted.received
            yield run
            if Interrupted.received is not None:  # the signal's raise was swallowed (Interrupted): not FINISHED
                raise Interrupted.received
        except Interrupted as interrupt:
            release()
            if run is not None:
                run.end(RunStatus.KILLED, {INTERRUPT_TAG: interrupt.signal_name})
                finish(run.journal, pending_dir)
            raise
        except BaseException as error:
            release()
            if run is not None:
                run.end(RunStatus.FAILED, error_tags(error))
                finish(run.journal, pending_dir)
            raise
        if run is not None:
            run.end(RunStatus.FINISHED, {})
            finish(run.journal, pending_dir)


@contextlib.contextmanager
def tracked_run(
    tracking_uri: str, experiment_name: str, run_name: str, tags: dict[str, str], params: dict[str, Any]
) -> Iterator[TrackedRun]:
    """``claimed_run`` without a resume digest (analysis runs): always a new run."""
    with claimed_run(tracking_uri, experiment_name, run_name, tags, params) as run:
        yield cast(TrackedRun, run)  # without a digest a job is never taken


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
