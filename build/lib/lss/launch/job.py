"""Which sweep and job this process runs, from Hydra: tags that let a sweep's runs be selected together."""

from __future__ import annotations

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
