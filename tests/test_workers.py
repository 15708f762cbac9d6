"""A job uses the cores it is given: its affinity mask, SLURM's allocation, its share of a parallel sweep, or
``resources.cpus``; never every core of the machine when others share it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import Future
from pathlib import Path

import pytest

from helpers.training import REPO, composed
from lss.errors import ConfigError
from lss.launch.job import jobs_at_once
from lss.workers import SLURM_CPUS_ENV, cpu_budget, process_pool

SIZED_JOBS = """
import json, os, sys
import torch
from lss.workers import SLURM_CPUS_ENV, cpu_budget, use_cpu_budget, worker_count

sized = []
for job in json.loads(sys.argv[1]):
    os.sched_setaffinity(0, set(job["cores"]))
    os.environ.pop(SLURM_CPUS_ENV, None)
    if job["slurm"] is not None:
        os.environ[SLURM_CPUS_ENV] = job["slurm"]
    use_cpu_budget(cpu_budget(job["configured"]))
    sized.append({"threads": torch.get_num_threads(), "workers": worker_count(10_000)})
print(json.dumps(sized))
"""


def test_torch_threads_and_workers_follow_the_affinity_mask_slurm_and_the_config_key() -> None:
    """One fresh process sized as four jobs in turn: taskset / cgroups limits count (not os.cpu_count()), then
    SLURM's allocation, then resources.cpus over both."""
    all_cores = sorted(os.sched_getaffinity(0))
    jobs = [
        {"cores": all_cores[:1], "slurm": None, "configured": "auto"},
        {"cores": all_cores, "slurm": None, "configured": "auto"},
        {"cores": all_cores[:1], "slurm": "3", "configured": "auto"},
        {"cores": all_cores, "slurm": "3", "configured": 1},
    ]
    env = {key: value for key, value in os.environ.items() if key != "OMP_NUM_THREADS"}
    child = subprocess.run(
        [sys.executable, "-c", SIZED_JOBS, json.dumps(jobs)], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert child.returncode == 0, child.stderr
    pinned, free, slurm, configured = json.loads(child.stdout)
    assert pinned == {"threads": 1, "workers": 1}
    assert free == {"threads": len(all_cores), "workers": min(8, len(all_cores))}
    assert slurm == {"threads": 3, "workers": 3}
    assert configured == {"threads": 1, "workers": 1}


def test_parallel_jobs_share_the_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SLURM_CPUS_ENV, "8")
    assert cpu_budget("auto") == 8
    assert cpu_budget("auto", jobs_at_once=2) == 4
    assert cpu_budget("auto", jobs_at_once=3) == 2
    assert cpu_budget("auto", jobs_at_once=16) == 1  # never 0
    assert cpu_budget(6, jobs_at_once=3) == 6  # a number is the job's own budget
    monkeypatch.delenv(SLURM_CPUS_ENV)
    assert cpu_budget("auto") == len(os.sched_getaffinity(0))


@pytest.mark.parametrize("configured", [0, -2, "half", 1.5])
def test_a_cpu_count_that_is_not_a_positive_number_is_refused(configured: object) -> None:
    with pytest.raises(ConfigError, match=r"resources\.cpus must be auto or a number of cores"):
        cpu_budget(configured)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("overrides", "multirun", "expected"),
    [
        (["hydra/launcher=parallel"], True, 2),  # conf/hydra/launcher/parallel.yaml: n_jobs 2
        (["hydra/launcher=parallel", "hydra.launcher.n_jobs=3"], True, 3),
        (["hydra/launcher=parallel", "hydra.launcher.n_jobs=-1"], True, len(os.sched_getaffinity(0))),
        (["hydra/launcher=parallel"], False, 1),  # a single run: the launcher is not used
        ([], True, 1),  # the basic launcher runs one job at a time
    ],
)
def test_the_parallel_launcher_s_n_jobs_is_how_many_jobs_share_the_machine(
    overrides: list[str], multirun: bool, expected: int, tmp_path: Path
) -> None:
    composed([*overrides, f"hydra.mode={'MULTIRUN' if multirun else 'RUN'}"], tmp_path)
    assert jobs_at_once() == expected


def signal_own_process(number: int) -> str:
    """In a pool worker: what SLURM's or Ctrl+C's signal to the whole process group does to that worker."""
    os.kill(os.getpid(), number)
    return "still working"


@pytest.mark.parametrize("number", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_to_the_process_group_leaves_the_pool_workers_to_the_parent(number: int) -> None:
    """Before: a decode worker died of the sweep's SIGTERM and the parent saw a broken pool (the run FAILED, exit 1)
    before its own handler could end the run KILLED (exit 143)."""
    with process_pool(2) as pool:
        assert list(pool.map(signal_own_process, [number, number])) == ["still working"] * 2


class Stopped(Exception):
    """What the parent raises when it stops (an interrupt, an error) while tasks are queued."""


def stop_with_tasks_queued(queued: list[Future[None]]) -> None:
    with process_pool(1) as pool:
        queued += [pool.submit(time.sleep, 0.2) for _ in range(20)]
        raise Stopped


def test_a_parent_that_stops_cancels_the_tasks_its_workers_have_not_started() -> None:
    """With the workers ignoring interrupts, leaving the pool on an interrupt must not work through the queue
    first (an indexer stopped by Ctrl+C would read every remaining header before exiting)."""
    queued: list[Future[None]] = []
    with pytest.raises(Stopped):
        stop_with_tasks_queued(queued)
    assert sum(future.cancelled() for future in queued) >= 15
