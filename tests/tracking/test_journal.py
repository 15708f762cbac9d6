"""A run kept on disk while the store was away: counted as done by resume, sent by ``python -m lss.tracking sync``,
refused when its files changed; a model whose upload never ended does not stay PENDING."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import torch
from mlflow.entities import RunStatus
from mlflow.entities.logged_model_status import LoggedModelStatus
from mlflow.tracking import MlflowClient

from lss.tracking import CONFIG_HASH_TAG, KIND_TAG, TRAIN_KIND, ensure_experiment
from lss.tracking.__main__ import main
from lss.tracking.jobs import create_run
from lss.tracking.journal import Journal, TrackedRun, finished_on_disk, keep_pending

DIGEST = "0123456789abcdef"


def run_kept_while_away(tmp_path: Path) -> tuple[str, str, Path]:
    """(store URI, run id, pending dir): a run RUNNING in the store, with a PENDING model left by an upload that
    never ended, whose params, metrics, an artifact, the model and FINISHED were kept in its journal."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    run_id, _ = create_run(uri, "lss", "T1-seed0", {KIND_TAG: TRAIN_KIND, CONFIG_HASH_TAG: DIGEST}, {"seed": 0})
    MlflowClient(uri).create_logged_model(ensure_experiment(uri, "lss"), name="model", source_run_id=run_id)
    header = {"tracking_uri": uri, "experiment_name": "lss", "run_id": run_id, "config_hash": DIGEST}
    journal = Journal.create(tmp_path / "job" / "mlflow-journal" / run_id, header)
    journal.away_since = time.monotonic()  # the store did not answer a moment ago: entries are kept, not sent
    run = TrackedRun(journal)
    run.log_params({"split.n_test": 20})
    run.log_metrics({"test/f1": 0.5})
    (tmp_path / "test_predictions.csv").write_text("sop_uid,p_mid\n1.2.3,0.9\n")
    run.log_artifacts(tmp_path / "test_predictions.csv")
    classifier = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 4 * 4, 2))
    run.log_model(classifier, np.zeros((1, 3, 4, 4), dtype=np.float32), (2,), register_as=None)
    run.end(RunStatus.FINISHED, {})
    return uri, run_id, keep_pending(journal, tmp_path / "pending").parent


def test_a_kept_run_counts_as_done_and_sync_sends_it(tmp_path: Path) -> None:
    uri, run_id, pending = run_kept_while_away(tmp_path)
    assert finished_on_disk(uri, pending, "lss", DIGEST) == run_id  # resume=true will not retrain it
    assert MlflowClient(uri).get_run(run_id).info.status == "RUNNING"

    assert main(["sync", "--tracking-uri", uri, "--pending-dir", str(pending)]) == 0
    client = MlflowClient(uri)
    run = client.get_run(run_id)
    assert (
        run.info.status == "FINISHED" and run.data.metrics["test/f1"] == 0.5 and run.data.params["split.n_test"] == "20"
    )
    assert [item.path for item in client.list_artifacts(run_id)] == ["test_predictions.csv"]
    models = client.search_logged_models([run.info.experiment_id])
    assert sorted(model.status for model in models) == sorted([LoggedModelStatus.FAILED, LoggedModelStatus.READY])
    assert list(pending.iterdir()) == [] and not (tmp_path / "job" / "mlflow-journal" / run_id).exists()


def test_a_kept_run_whose_files_changed_is_refused_and_ends_failed(tmp_path: Path) -> None:
    uri, run_id, pending = run_kept_while_away(tmp_path)
    (artifact,) = (tmp_path / "job" / "mlflow-journal" / run_id / "files").rglob("test_predictions.csv")
    artifact.write_text("sop_uid,p_mid\n1.2.3,0.1\n")  # same length, other content
    assert finished_on_disk(uri, pending, "lss", DIGEST) is None

    assert main(["sync", "--tracking-uri", uri, "--pending-dir", str(pending)]) == 0
    run = MlflowClient(uri).get_run(run_id)
    assert run.info.status == "FAILED" and "is not the file this job wrote" in run.data.tags["lss.error"]
    assert "test/f1" not in run.data.metrics  # nothing after the damaged entry was sent as if right


@pytest.mark.parametrize("command", [["sync", "--tracking-uri", "http://127.0.0.1:9"]])
def test_sync_against_a_server_that_does_not_answer_is_one_line(command: list[str], capsys) -> None:
    assert main(command) == 1
    assert capsys.readouterr().err.startswith("Error: the MLflow tracking server http://127.0.0.1:9 does not answer")
