"""The tracking store: reached only through MLflow's public API, never waited on for minutes."""

from __future__ import annotations

import ast
import time
from pathlib import Path

import mlflow
import pytest

from helpers.mlflow_server import free_port
from helpers.training import REPO
from lss.errors import UserError
from lss.tracking.store import fluent_tracking_uri, require_reachable


def private_mlflow_names(source: str) -> list[str]:
    """Imports and attribute chains under ``mlflow`` that name a private (``_``-prefixed) part."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("mlflow"):
            dotted = [*node.module.split("."), *(alias.name for alias in node.names)]  # type: ignore[union-attr]
            found += [".".join(dotted)] if any(part.startswith("_") for part in dotted) else []
        if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            found.append(ast.unparse(node))
    return [name for name in found if "mlflow" in name or "_tracking" in name]


def test_lss_reaches_mlflow_only_through_its_public_api() -> None:
    """Issue 22: ``store.py`` read and wrote ``mlflow.tracking._tracking_service.utils._tracking_uri``."""
    private = {
        str(path.relative_to(REPO)): names
        for path in sorted((REPO / "lss").rglob("*.py"))
        if (names := private_mlflow_names(path.read_text()))
    }
    assert private == {}


def test_a_fluent_call_leaves_the_process_wide_uri_as_it_found_it(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    mlflow.set_tracking_uri(None)  # type: ignore[arg-type]  # MLflow's own way to unset it
    with fluent_tracking_uri(f"sqlite:///{tmp_path / 'a.db'}"):
        assert mlflow.get_tracking_uri() == f"sqlite:///{tmp_path / 'a.db'}"
    assert not mlflow.is_tracking_uri_set()
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'b.db'}")
    with fluent_tracking_uri(f"sqlite:///{tmp_path / 'a.db'}"):
        pass
    assert mlflow.get_tracking_uri() == f"sqlite:///{tmp_path / 'b.db'}"
    mlflow.set_tracking_uri(None)  # type: ignore[arg-type]


def test_a_server_that_does_not_answer_is_one_line_naming_it_within_seconds() -> None:
    uri = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(UserError, match=f"the MLflow tracking server {uri} does not answer"):
        require_reachable(uri)
    assert time.monotonic() - started < 60  # a bound, not a speed: MLflow alone waits ~4 min


def test_the_lss_experiment_is_a_model_training_experiment_so_the_ui_opens_on_its_runs(tmp_path: Path) -> None:
    """MLflow's UI opens an experiment without ``mlflow.experimentKind`` on its GenAI overview (traces, tokens)."""
    from mlflow import MlflowClient

    from lss.tracking.store import EXPERIMENT_KIND_TAG, MODEL_TRAINING_KIND, ensure_experiment

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    created = client.get_experiment(ensure_experiment(uri, "lss"))
    assert created.tags[EXPERIMENT_KIND_TAG] == MODEL_TRAINING_KIND == "custom_model_development"
    older = client.create_experiment("made-before-the-tag")  # a store lss wrote before it tagged experiments
    assert ensure_experiment(uri, "made-before-the-tag") == older
    assert client.get_experiment(older).tags[EXPERIMENT_KIND_TAG] == MODEL_TRAINING_KIND


@pytest.mark.slow
def test_the_ui_address_lss_prints_opens_the_lss_experiment_on_its_training_runs_in_a_browser(tmp_path: Path) -> None:
    """A real MLflow server and headless Chromium: the page lists the run, not the GenAI overview (traces, tokens)."""
    from mlflow import MlflowClient

    from helpers.browser import chromium, page_text
    from helpers.mlflow_server import MlflowServer
    from lss.tracking.store import ensure_experiment
    from lss.tracking.ui import ui_url

    browser = chromium()
    if browser is None:
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    server = MlflowServer(tmp_path / "server")
    server.start()
    try:
        experiment = ensure_experiment(server.uri, "lss")
        client = MlflowClient(server.uri)
        client.set_terminated(client.create_run(experiment, run_name="T1-seed0").info.run_id)
        text = page_text(browser, ui_url("127.0.0.1", server.port, experiment))
    finally:
        server.stop()
    assert "T1-seed0" in text and "1 matching run" in text
    assert "Token Usage" not in text
