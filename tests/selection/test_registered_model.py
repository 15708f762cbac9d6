"""MLflow models and datasets: a training run shows the data it saw and the network it tested, and a registered
version of that network selects Mid slices exactly as its checkpoint does."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from helpers.selection import selection_options
from helpers.training import REGISTERED, run_script
from lss.errors import ConfigError, UserError
from lss.manifest import COLUMNS, SOURCE
from lss.selection import load_selector, select_mid_slices


def test_a_training_run_lists_its_manifest_as_a_dataset_and_its_tested_network_as_a_model(
    trained_t1: dict, phantom_dir: Path
) -> None:
    client = MlflowClient(trained_t1["tracking_uri"])
    run = client.get_run(trained_t1["run_id"])
    (dataset_input,) = run.inputs.dataset_inputs
    dataset = dataset_input.dataset
    assert dataset.name == f"{phantom_dir.name} T1" and dataset.source == f'{{"uri": "{phantom_dir.resolve()}"}}'
    assert len(dataset.digest) >= 8 and {tag.value for tag in dataset_input.tags} == {"training"}
    logged_columns = {column["name"] for column in json.loads(dataset.schema)["mlflow_colspec"]}
    # the manifest's columns and the source each row came from: patient_key, no PatientName/ID/BirthDate
    assert logged_columns == {*COLUMNS, SOURCE}
    (output,) = run.outputs.model_outputs
    logged = client.get_logged_model(output.model_id)
    assert logged.source_run_id == run.info.run_id and logged.name == "model"
    assert client.get_model_version(REGISTERED, "1").source == f"models:/{output.model_id}"


def test_the_registered_model_carries_the_signature_and_the_temperature_of_the_tested_checkpoint(
    trained_t1: dict, model
) -> None:
    import mlflow
    from mlflow.models import get_model_info

    mlflow.set_tracking_uri(trained_t1["tracking_uri"])
    info = get_model_info(f"models:/{REGISTERED}/1")
    assert info.signature.inputs.inputs[0].shape == (-1, 3, 32, 32)  # images in
    assert info.signature.outputs.inputs[0].shape == (-1, 2)  # logits out
    registered = load_selector(model_uri=f"models:/{REGISTERED}/1", tracking_uri=trained_t1["tracking_uri"])
    assert float(registered.temperature) == float(model.temperature) != 1.0
    assert registered.hparams["modality"] == "T1"


def test_predict_py_with_a_registered_model_selects_exactly_what_the_checkpoint_selects(
    trained_t1: dict, model, new_studies: Path, tmp_path: Path
) -> None:
    from_checkpoint = select_mid_slices(
        model,
        new_studies,
        tmp_path / "checkpoint",
        selection_options("mode=none", f"cache_dir={trained_t1['cache_dir']}", "progress=false"),
    )
    MlflowClient(trained_t1["tracking_uri"]).set_registered_model_alias(REGISTERED, "champion", "1")
    run_script(
        "predict.py",
        [
            f"model_uri=models:/{REGISTERED}@champion",
            f"input={new_studies}",
            f"output={tmp_path / 'registered'}",
            f"mlflow.tracking_uri={trained_t1['tracking_uri']}",
            f"hydra.run.dir={tmp_path / 'hydra'}",
            "mode=none",
            "progress=false",
        ],
        cwd=tmp_path,
    )
    registered = pd.read_csv(tmp_path / "registered" / "predictions.csv")
    assert registered["p_mid"].to_numpy() == pytest.approx(from_checkpoint.predictions["p_mid"].to_numpy(), abs=1e-6)
    assert registered["label"].tolist() == from_checkpoint.predictions["label"].tolist()


def test_an_unknown_model_and_two_model_sources_at_once_are_refused_clearly(trained_t1: dict) -> None:
    with pytest.raises(UserError, match=rf"model_uri=models:/{REGISTERED}/7 is not a model in"):
        load_selector(model_uri=f"models:/{REGISTERED}/7", tracking_uri=trained_t1["tracking_uri"])
    with pytest.raises(ConfigError, match="exactly one of checkpoint=PATH, run_id=MLFLOW_RUN_ID or model_uri="):
        load_selector(run_id=trained_t1["run_id"], model_uri=f"models:/{REGISTERED}/1")
