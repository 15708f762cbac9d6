"""How many worker processes a job should use: one rule for decoding, indexing, loaders and the phantom."""

from __future__ import annotations

import os


def available_cores() -> int:
    """Cores this process may run on (a SLURM or taskset allocation, not the whole machine)."""
    return len(os.sched_getaffinity(0))


def worker_count(tasks: int, tasks_per_worker: int = 1, share: int = 1, reserve: int = 0, cap: int = 8) -> int:
    """Processes for ``tasks`` tasks: at most one per ``tasks_per_worker`` tasks (starting a process costs more
    than a few tasks), this process's ``1/share`` of the cores minus ``reserve``, and ``cap``; at least 1."""
    return max(1, min(cap, available_cores() // share - reserve, tasks // tasks_per_worker))
