"""DDP inside a Hydra multirun (Lightning issue #11300).

Lightning starts DDP processes 1..N-1 by re-running ``sys.argv``; inside a multirun that is
``train.py -m seed=range(20) ...``, so every child re-launches the whole sweep. Here each job
points its children at *its own* saved config instead (``--config-path <job>/.hydra
--config-name config``), pins the children's run dir to the job dir (no stray output folders),
and after the job restores the environment and destroys the process group so the next job of
the sweep launches fresh children on a fresh port.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import torch.distributed as dist
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, read_write

DDP_ENVIRONMENT = ("MASTER_ADDR", "MASTER_PORT", "NODE_RANK", "LOCAL_RANK", "WORLD_SIZE", "PL_GLOBAL_SEED")


def is_launched_ddp_child() -> bool:
    """True in a process that Lightning (or a cluster launcher) started as rank > 0."""
    ranks = (os.environ.get(name) for name in ("LOCAL_RANK", "NODE_RANK", "SLURM_PROCID", "RANK"))
    return any(rank not in (None, "", "0") for rank in ranks)


@contextlib.contextmanager
def ddp_children_run_this_job() -> Iterator[None]:
    saved_argv = sys.argv[:]
    saved_environment = {name: os.environ.get(name) for name in DDP_ENVIRONMENT}
    hydra_cfg = HydraConfig.get() if HydraConfig.initialized() else None
    saved_run_dir = None
    if hydra_cfg is not None and hydra_cfg.output_subdir is not None:
        job_dir = Path(hydra_cfg.runtime.output_dir)
        sys.argv = [saved_argv[0], "--config-path", str(job_dir / hydra_cfg.output_subdir), "--config-name", "config"]
        saved_run_dir = hydra_cfg.run.dir
        with read_write(cast(DictConfig, hydra_cfg)):
            hydra_cfg.run.dir = str(job_dir)
    try:
        yield
    finally:
        sys.argv = saved_argv
        if hydra_cfg is not None and saved_run_dir is not None:
            with read_write(cast(DictConfig, hydra_cfg)):
                hydra_cfg.run.dir = saved_run_dir
        for name, value in saved_environment.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()
