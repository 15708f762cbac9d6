"""`python -m lss.tracking ui` (`make ui`): the MLflow UI over lss's store, on 127.0.0.1 unless told otherwise."""

from __future__ import annotations

import argparse
import subprocess
import sys

from lss.tracking.store import artifact_root_for, resolve_tracking_uri


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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m lss.tracking", description="lss MLflow utilities.")
    sub = parser.add_subparsers(dest="command", required=True)
    ui = sub.add_parser("ui", help="serve the MLflow UI over lss's store")
    ui.add_argument("--tracking-uri", default=None, help="default: $MLFLOW_TRACKING_URI or sqlite:///outputs/mlflow.db")
    ui.add_argument("--host", default="127.0.0.1")
    ui.add_argument("--port", type=int, default=5000)
    args = parser.parse_args(argv)
    serve_ui(resolve_tracking_uri(args.tracking_uri), args.host, args.port)
