"""Compose the training config in-process exactly as ``train.py`` does (notebooks, benchmarks, tests, predict.py).

Hydra's ``${hydra:...}`` resolvers need a HydraConfig; ``compose`` does not set one, so
``compose_train_config`` does, with the job's output folder and the working directory the job would have had.
"""

from __future__ import annotations

from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from lss import CONF_DIR
from lss.launch.resolvers import register_resolvers


def compose_train_config(overrides: list[str], output_dir: Path, cwd: Path | None = None) -> DictConfig:
    """``conf/config.yaml`` + ``overrides``, as job 0 writing into ``output_dir`` from ``cwd`` (default: the current
    directory, as train.py)."""
    register_resolvers()
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=overrides, return_hydra_config=True)
    cfg.hydra.runtime.output_dir = str(output_dir)
    cfg.hydra.runtime.cwd = str(cwd or Path.cwd())
    cfg.hydra.job.num = 0
    HydraConfig.instance().set_config(cfg)
    return cfg


def compose_config(overrides: list[str]) -> DictConfig:
    """``conf/config.yaml`` + ``overrides`` without a job (its ``${hydra:...}`` keys left unresolved), also from inside
    a running Hydra application such as predict.py."""
    register_resolvers()
    if GlobalHydra.instance().is_initialized():
        return compose("config", overrides=overrides)
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        return compose("config", overrides=overrides)
