"""The two Hydra applications: ``train.py`` / ``lss-train`` and ``predict.py`` / ``lss-predict`` run these.

The config tree is ``lss.CONF_DIR``, inside the package, so a wheel install runs them as a checkout does.
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from lss import CONF_DIR
from lss.entry import one_line_user_errors
from lss.launch.resolvers import register_resolvers

register_resolvers()  # before Hydra resolves anything (`--cfg job --resolve` too)


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="config")
@one_line_user_errors
def train_app(cfg: DictConfig) -> None:
    from lss.training import train  # imported here so `--help` and config errors answer fast

    train(cfg)


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="predict")
@one_line_user_errors
def predict_app(cfg: DictConfig) -> None:
    from lss.selection.predict import predict  # imported here so `--help` and config errors answer fast

    predict(cfg)
