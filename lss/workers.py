"""How many cores a job uses (``resources.cpus``) and how many worker processes it starts: one rule for torch's
threads, decoding, indexing, loaders and the phantom."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from typing import TypeVar

from lss.entry import INTERRUPTING_SIGNALS
from lss.errors import ConfigError

log = logging.getLogger(__name__)
Item = TypeVar("Item")
Result = TypeVar("Result")
SLURM_CPUS_ENV = "SLURM_CPUS_PER_TASK"
_budget: int | None = None
"""The cores use_cpu_budget gave this process (None: not set, every core it may run on)."""


def cpu_budget(configured: int | str, jobs_at_once: int = 1) -> int:
    """Cores one job may use: ``configured`` (``resources.cpus``) when it is a number, else SLURM_CPUS_PER_TASK,
    else the cores this process may run on (affinity mask: taskset, cgroups, not ``os.cpu_count``), shared by the
    ``jobs_at_once`` jobs of a parallel sweep on this machine. Three jobs on 2 cores each start 1 thread, not 2."""
    if configured != "auto":
        if not str(configured).isdigit() or int(configured) < 1:
            raise ConfigError(f"resources.cpus must be auto or a number of cores >= 1, got {configured!r}")
        return int(configured)
    slurm = os.environ.get(SLURM_CPUS_ENV, "")
    cores = int(slurm) if slurm.isdigit() and int(slurm) > 0 else len(os.sched_getaffinity(0))
    return max(1, cores // max(1, jobs_at_once))


def use_cpu_budget(cores: int) -> None:
    """Size this process by ``cores``: torch's intra-op threads (inter-op too, when still settable) and the worker
    processes worker_count gives (decoding, indexing, DataLoader)."""
    import torch  # here: the indexer, which imports this module, starts faster without torch

    global _budget
    _budget = cores
    log.info("using %d CPU cores (resources.cpus)", cores)
    torch.set_num_threads(cores)
    try:
        torch.set_num_interop_threads(cores)
    except RuntimeError:  # settable once, before any inter-op work: a second job of a basic sweep keeps the first's
        log.debug("torch inter-op threads already started; keeping %d", torch.get_num_interop_threads())


def available_cores() -> int:
    """Cores this process may use: its CPU budget once use_cpu_budget set one, else every core it may run on."""
    return _budget if _budget is not None else len(os.sched_getaffinity(0))


def worker_count(tasks: int, tasks_per_worker: int = 1, share: int = 1, reserve: int = 0, cap: int = 8) -> int:
    """Processes for ``tasks`` tasks: at most one per ``tasks_per_worker`` tasks (starting a process costs more
    than a few tasks), this process's ``1/share`` of the cores minus ``reserve``, and ``cap``; at least 1."""
    return max(1, min(cap, available_cores() // share - reserve, tasks // tasks_per_worker))


def leave_interrupts_to_the_parent(*_: object) -> None:
    """In a worker process: ignore SIGTERM / SIGINT. Sent to the whole process group (SLURM at a time limit,
    ``kill -- -PGID``, Ctrl+C), they would kill the workers first, and the parent would see a broken pool (a
    failure) before its own handler could end the run KILLED. The parent handles them and stops its workers."""
    for number in INTERRUPTING_SIGNALS:
        signal.signal(number, signal.SIG_IGN)


def _start_worker(initializer: Callable[[], None] | None) -> None:
    leave_interrupts_to_the_parent()
    if initializer is not None:
        initializer()


@contextlib.contextmanager
def process_pool(workers: int, initializer: Callable[[], None] | None = None) -> Iterator[ProcessPoolExecutor]:
    """The worker processes of decoding, indexing and the phantom writer: interrupts are the parent's, and when
    the parent stops on one (or on an error) the tasks not started yet are cancelled, not worked through."""
    pool = ProcessPoolExecutor(workers, initializer=_start_worker, initargs=(initializer,))
    try:
        yield pool
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def ordered_map(
    pool: Executor, function: Callable[[Item], Result], items: Iterable[Item], window: int
) -> Iterator[Result]:
    """``pool.map`` with at most ``window`` tasks submitted ahead of the one being consumed.

    ``Executor.map`` submits every task at once, so when the consumer writes results out, the results that wait for
    it pile up with N; here they are bounded by ``window``."""
    pending: deque[Future[Result]] = deque()
    try:
        for item in items:
            if len(pending) >= window:
                yield pending.popleft().result()
            pending.append(pool.submit(function, item))
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()
