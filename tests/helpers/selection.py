"""Selection options exactly as predict.py reads them from conf/predict.yaml."""

from __future__ import annotations

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from lss import CONF_DIR
from lss.selection.options import SelectionOptions


def predict_config(*overrides: str) -> DictConfig:
    """conf/predict.yaml with ``overrides`` (``input=DIR``, ``mode=none``, ...): what predict.py's ``predict`` gets."""
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        return compose("predict", overrides=list(overrides))


def selection_options(*overrides: str) -> SelectionOptions:
    """conf/predict.yaml with ``overrides`` (``mode=none``, ``progress=false``, ...)."""
    return SelectionOptions.from_config(predict_config(*overrides), model_source="(test)")
