"""`python -m lss.tracking ui` (`make ui`): the MLflow UI over lss's store, on 127.0.0.1 unless told otherwise."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from lss.tracking.store import artifact_root_for, experiment_id

MODEL_TRAINING_VIEW = "workflowType=machine_learning"
"""MLflow's UI (3.x) opens every experiment on its GenAI overview unless the page is asked for this view."""


def ui_url(host: str, port: int, experiment: str | None) -> str:
    """Where to open the UI: the experiment's training runs (its id ``experiment``), or the experiment list."""
    page = f"experiments/{experiment}" if experiment is not None else "experiments"
    return f"http://{host}:{port}/#/{page}?{MODEL_TRAINING_VIEW}"


def serve_ui(tracking_uri: str, host: str = "127.0.0.1", port: int = 5000, experiment_name: str = "lss") -> None:
    """Serve the MLflow UI over the same store; loopback only unless a host is given."""
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "ui",
        "--backend-store-uri",
        tracking_uri,
        "--host",
        host,
        "--port",
        str(port),
    ]
    artifacts = artifact_root_for(tracking_uri)
    if artifacts:
        command += ["--default-artifact-root", artifacts]
    new_store = tracking_uri.startswith("sqlite:///") and not Path(tracking_uri.removeprefix("sqlite:///")).exists()
    experiment = None if new_store else experiment_id(tracking_uri, experiment_name)  # a lookup would create it
    print(f"MLflow UI on {ui_url(host, port, experiment)}  (store: {tracking_uri})")
    subprocess.run(command, check=False)
