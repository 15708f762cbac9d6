"""Selection options exactly as predict.py reads them from conf/predict.yaml."""

from __future__ import annotations

from hydra import compose, initialize_config_dir

from lss import CONF_DIR
from lss.selection.options import SelectionOptions


def selection_options(*overrides: str) -> SelectionOptions:
    """conf/predict.yaml with ``overrides`` (``mode=none``, ``progress=false``, ...)."""
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        cfg = compose("predict", overrides=list(overrides))
    return SelectionOptions.from_config(cfg, model_source="(test)")
