"""The tested network as an MLflow model (the UI's Models column), registered versions of it, and loading it back.

The model is the prediction-ready ``MidSliceClassifier`` (weights, temperature, modality, input size, mean and
std), pickled: ``torch.export`` (MLflow's default) would drop all but the graph and costs seconds per run.
Loading it runs code from the pickle, so load models from a store you trust, as with any pickled model.
"""

from __future__ import annotations

import importlib.metadata
import logging

import mlflow
import numpy as np
import torch
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature
from mlflow.types import Schema, TensorSpec

from lss.errors import UserError
from lss.tracking.runs import active_run
from lss.tracking.store import fluent_tracking_uri, with_retries

MODEL_NAME = "model"
REQUIRED_DISTRIBUTIONS = ("torch", "torchvision", "timm", "lightning", "torchmetrics", "omegaconf", "lss")
"""What unpickling the classifier imports. Listed explicitly: MLflow's own inference of them costs seconds per run."""


def pip_requirements() -> list[str]:
    """The installed versions of REQUIRED_DISTRIBUTIONS (lss itself only when installed, not run from a checkout)."""
    pinned = []
    for distribution in REQUIRED_DISTRIBUTIONS:
        try:
            pinned.append(f"{distribution}=={importlib.metadata.version(distribution)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    return pinned


def log_tested_model(
    tracking_uri: str,
    run_id: str,
    model: torch.nn.Module,
    input_example: np.ndarray,
    output_shape: tuple[int, ...],
    register_as: str | None,
) -> None:
    """Log ``model`` under the run with its signature (normalised images (-1, 3, H, W) in, (-1, *output_shape) out,
    as the selector declares it) and ``input_example`` (MLflow checks that the model runs on it); register a version
    of ``register_as`` when given."""
    signature = ModelSignature(  # written out, not inferred: inferring runs the network once more (seconds on a CPU)
        inputs=Schema([TensorSpec(np.dtype(np.float32), (-1, *input_example.shape[1:]))]),
        outputs=Schema([TensorSpec(np.dtype(np.float32), (-1, *output_shape))]),
    )
    pickle_warning = logging.getLogger("mlflow.pytorch")
    level = pickle_warning.level
    pickle_warning.setLevel(logging.ERROR)  # pickle is chosen on purpose (module docstring); not a warning per job
    try:
        with active_run(tracking_uri, run_id):
            with_retries(
                lambda: mlflow.pytorch.log_model(
                    model,
                    name=MODEL_NAME,
                    signature=signature,
                    input_example=input_example,
                    pip_requirements=pip_requirements(),
                    serialization_format="pickle",
                    registered_model_name=register_as,
                )
            )
    finally:
        pickle_warning.setLevel(level)


def load_logged_model(tracking_uri: str, model_uri: str) -> torch.nn.Module:
    """A model a training run logged, by any MLflow model URI (``models:/NAME/VERSION``, ``models:/NAME@ALIAS``)."""
    try:
        with fluent_tracking_uri(tracking_uri):
            model = mlflow.pytorch.load_model(model_uri, map_location="cpu")
    except MlflowException as error:
        raise UserError(
            f"model_uri={model_uri} is not a model in {tracking_uri} ({error.message.splitlines()[0]}); "
            "check the registered name and version or alias in the MLflow UI (make ui), or set mlflow.tracking_uri="
        ) from error
    if not isinstance(model, torch.nn.Module):
        raise UserError(f"model_uri={model_uri} is not a PyTorch model logged by train.py")
    return model
