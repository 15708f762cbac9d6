"""`python -m lss.tracking ui` (`make ui`): the MLflow UI over lss's store, on 127.0.0.1 unless told otherwise."""

from __future__ import annotations

import subprocess
import sys

from lss.tracking.store import artifact_root_for


def serve_ui(tracking_uri: str, host: str = "127.0.0.1", port: int = 5000) -> None:
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
    print(f"MLflow UI on http://{host}:{port}  (store: {tracking_uri})")
    subprocess.run(command, check=False)
