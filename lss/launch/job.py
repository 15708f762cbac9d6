"""Which sweep and job this process runs, from Hydra: tags that let a sweep's runs be selected together."""

from __future__ import annotations

import os
from pathlib import Path

from hydra.core.hydra_config import HydraConfig


def sweep_identity() -> tuple[str, int]:
    """(sweep id, job number): the sweep folder's name and Hydra's job number; a single run is its own sweep."""
    if not HydraConfig.initialized():
        return "none", 0
    hydra_cfg = HydraConfig.get()
    if str(hydra_cfg.mode) == "RunMode.MULTIRUN":
        return Path(hydra_cfg.sweep.dir).name, int(hydra_cfg.job.num)
    return Path(hydra_cfg.runtime.output_dir).name, 0


def jobs_at_once() -> int:
    """How many jobs of this sweep run at once on this machine: ``hydra/launcher=parallel``'s n_jobs (joblib's
    meaning: -1 is one per core, -2 all but one), else 1."""
    if not HydraConfig.initialized():
        return 1
    hydra_cfg = HydraConfig.get()
    launcher = str(hydra_cfg.launcher.get("_target_", ""))
    if str(hydra_cfg.mode) != "RunMode.MULTIRUN" or not launcher.endswith("JoblibLauncher"):
        return 1
    n_jobs = hydra_cfg.launcher.get("n_jobs") or 1
    return max(1, int(n_jobs) if n_jobs > 0 else len(os.sched_getaffinity(0)) + 1 + int(n_jobs))
