"""The selector predict.py scores with: trained (a checkpoint file, the MLflow run that logged one, an MLflow model
URI), or, for a selector that learns nothing, built from its config file alone.

Checkpoints and logged models carry the selector's name, modality, input size, mean, std and fitted temperature,
so prediction needs nothing else; ImageNet weights are never sought (``pretrained=False``), the checkpoint's own
weights replace them.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hydra.errors import MissingConfigException
from hydra.utils import get_class, instantiate

from lss import tracking
from lss.errors import ConfigError
from lss.launch.compose import compose_config
from lss.model.checkpoint import read_checkpoint, safe_loading
from lss.model.module import MidSliceClassifier
from lss.model.selector import SELECTOR_KEY, Selector, selector_class

RUN_FILES = {tracking.CONFIG_ARTIFACT: "run_config.yaml", tracking.SPLIT_ARTIFACT: "run_split.json"}
"""What a training run logged beside its checkpoint, and the name predict.py keeps it under in its output."""


def load_checkpoint(path: Path) -> Selector:
    if not path.is_file():
        raise ConfigError(
            f"checkpoint={path} does not exist; give a .ckpt written by train.py, "
            "or run_id=<MLflow run id> to use the checkpoint a training run logged"
        )
    try:
        with safe_loading():
            selector = selector_class(read_checkpoint(path).get(SELECTOR_KEY, MidSliceClassifier.name))
            model = selector.load_from_checkpoint(
                path, optimizer=None, pretrained=False, compile=False, map_location="cpu"
            )
    except ConfigError:
        raise
    except Exception as error:  # torch.load of a file that is no checkpoint raises anything (IndexError, ...)
        raise ConfigError(
            f"checkpoint={path} is not a checkpoint train.py wrote ({type(error).__name__}: "
            f"{' '.join(str(error).split())[:200]}); give a .ckpt from a train.py run"
        ) from error
    if model.hparams.get("modality") is None:
        raise ConfigError(
            f"checkpoint={path} does not say which modality it was trained on; retrain it with the current train.py"
        )
    return model.eval()


def load_model_uri(model_uri: str, tracking_uri: str | None) -> Selector:
    model = tracking.load_logged_model(tracking.resolve_tracking_uri(tracking_uri), model_uri)
    if not isinstance(model, Selector) or model.hparams.get("modality") is None:
        raise ConfigError(
            f"model_uri={model_uri} is a {type(model).__name__}, not a selector logged by train.py; "
            "give the model of a train.py run (its Models column in the MLflow UI)"
        )
    return model.eval()


def load_selector(
    checkpoint: str | Path | None = None,
    run_id: str | None = None,
    tracking_uri: str | None = None,
    keep_run_files: Path | None = None,
    model_uri: str | None = None,
) -> Selector:
    """From exactly one of ``checkpoint``, ``run_id`` or ``model_uri``; the resolved config and split.json a run
    logged are copied into the folder ``keep_run_files`` (``RUN_FILES``)."""
    if sum(source is not None for source in (checkpoint, run_id, model_uri)) != 1:
        raise ConfigError(
            "give exactly one of checkpoint=PATH, run_id=MLFLOW_RUN_ID or model_uri=models:/NAME/VERSION "
            f"(got checkpoint={checkpoint}, run_id={run_id}, model_uri={model_uri}), "
            "or selector=NAME alone for a selector that learns nothing"
        )
    if checkpoint is not None:
        return load_checkpoint(Path(checkpoint).expanduser())
    if model_uri is not None:
        return load_model_uri(model_uri, tracking_uri)
    with tempfile.TemporaryDirectory(prefix="lss-checkpoint-") as scratch:
        weights, logged = tracking.download_run_checkpoint(
            tracking.resolve_tracking_uri(tracking_uri), str(run_id), Path(scratch)
        )
        if keep_run_files is not None:
            keep_run_files.mkdir(parents=True, exist_ok=True)
            for name, path in logged.items():
                shutil.copyfile(path, keep_run_files / RUN_FILES[name])
        return load_checkpoint(weights)


def untrained_selector(name: str, overrides: list[str]) -> Selector:
    """The selector ``conf/selector/<name>.yaml`` configures, built as train.py builds it (with ``overrides`` of the
    training config, e.g. ``modality=T2``); refused for a selector that needs a checkpoint."""
    try:
        cfg = compose_config([f"selector={name}", *overrides])
    except MissingConfigException as error:
        raise ConfigError(f"selector={name} is not a config under conf/selector/ ({error})") from error
    built = get_class(cfg.model._target_)
    if not issubclass(built, Selector):
        raise ConfigError(f"conf/selector/{name}.yaml builds a {built.__name__}, not a lss.model.selector.Selector")
    if built.needs_checkpoint:
        raise ConfigError(
            f"selector={name} learns from labelled data: train it (python train.py selector={name} ...) and give "
            "run_id=, checkpoint= or model_uri="
        )
    return instantiate(cfg.model, _convert_="all").eval()
