"""A trained classifier from a checkpoint file, from the MLflow run that logged it, or from an MLflow model URI.

Checkpoints and logged models carry the modality, input size, mean, std (``MidSliceClassifier`` hparams)
and the fitted temperature, so prediction needs nothing else; ImageNet weights are never sought
(``pretrained=False``), the checkpoint's own weights replace them.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from lss import tracking
from lss.errors import ConfigError
from lss.model.checkpoint import read_checkpoint, safe_loading
from lss.model.module import MidSliceClassifier
from lss.model.series_selector import SELECTOR_KEY, SeriesMidSelector

SELECTORS: dict[str, type[MidSliceClassifier] | type[SeriesMidSelector]] = {
    MidSliceClassifier.unit: MidSliceClassifier,
    SeriesMidSelector.unit: SeriesMidSelector,
}
"""The selector that wrote a checkpoint, by its SELECTOR_KEY (checkpoints without one are slice classifiers)."""


def load_checkpoint(path: Path) -> MidSliceClassifier | SeriesMidSelector:
    if not path.is_file():
        raise ConfigError(
            f"checkpoint={path} does not exist; give a .ckpt written by train.py, "
            "or run_id=<MLflow run id> to use the checkpoint a training run logged"
        )
    try:
        with safe_loading():
            selector = SELECTORS[read_checkpoint(path).get(SELECTOR_KEY, MidSliceClassifier.unit)]
            model: MidSliceClassifier | SeriesMidSelector = selector.load_from_checkpoint(
                path, optimizer=None, pretrained=False, compile=False, map_location="cpu"
            )
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


def load_model_uri(model_uri: str, tracking_uri: str | None) -> MidSliceClassifier | SeriesMidSelector:
    model = tracking.load_logged_model(tracking.resolve_tracking_uri(tracking_uri), model_uri)
    if not isinstance(model, MidSliceClassifier | SeriesMidSelector) or model.hparams.get("modality") is None:
        raise ConfigError(
            f"model_uri={model_uri} is a {type(model).__name__}, not a classifier logged by train.py; "
            "give the model of a train.py run (its Models column in the MLflow UI)"
        )
    return model.eval()


def load_classifier(
    checkpoint: str | Path | None = None,
    run_id: str | None = None,
    tracking_uri: str | None = None,
    keep_run_config: Path | None = None,
    model_uri: str | None = None,
) -> MidSliceClassifier | SeriesMidSelector:
    """From exactly one of ``checkpoint``, ``run_id`` or ``model_uri``; a run's resolved config is copied to
    ``keep_run_config``."""
    if sum(source is not None for source in (checkpoint, run_id, model_uri)) != 1:
        raise ConfigError(
            "give exactly one of checkpoint=PATH, run_id=MLFLOW_RUN_ID or model_uri=models:/NAME/VERSION "
            f"(got checkpoint={checkpoint}, run_id={run_id}, model_uri={model_uri})"
        )
    if checkpoint is not None:
        return load_checkpoint(Path(checkpoint).expanduser())
    if model_uri is not None:
        return load_model_uri(model_uri, tracking_uri)
    with tempfile.TemporaryDirectory(prefix="lss-checkpoint-") as scratch:
        weights, config = tracking.download_run_checkpoint(
            tracking.resolve_tracking_uri(tracking_uri), str(run_id), Path(scratch)
        )
        if keep_run_config is not None and config is not None:
            keep_run_config.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(config, keep_run_config)
        return load_checkpoint(weights)
