"""`python -m lss.tracking ui` (the MLflow UI, 127.0.0.1 unless told otherwise) and `python -m lss.tracking sync`
(send the runs that finished while the tracking store was away)."""

from __future__ import annotations

import argparse
import logging
import sys

from lss.errors import UserError
from lss.tracking.jobs import resolve_pending_dir
from lss.tracking.journal import send_pending
from lss.tracking.store import require_reachable, resolve_tracking_uri
from lss.tracking.ui import serve_ui

STORE_HELP = "default: $MLFLOW_TRACKING_URI or sqlite:///outputs/mlflow.db"


def sync(tracking_uri: str, pending_dir: str | None) -> int:
    """Send what jobs kept on disk for ``tracking_uri``; exit 0 when nothing is left pending."""
    require_reachable(tracking_uri)
    left = send_pending(tracking_uri, resolve_pending_dir(pending_dir))
    print(f"{left} run(s) still pending for {tracking_uri}" if left else f"every kept run is in {tracking_uri}")
    return 1 if left else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lss.tracking", description="lss MLflow utilities.")
    sub = parser.add_subparsers(dest="command", required=True)
    ui = sub.add_parser("ui", help="serve the MLflow UI over lss's store")
    ui.add_argument("--tracking-uri", default=None, help=STORE_HELP)
    ui.add_argument("--host", default="127.0.0.1")
    ui.add_argument("--port", type=int, default=5000)
    pending = sub.add_parser("sync", help="send the runs that finished while the tracking store was away")
    pending.add_argument("--tracking-uri", default=None, help=STORE_HELP)
    pending.add_argument("--pending-dir", default=None, help="default: outputs/mlflow-pending (mlflow.pending_dir)")
    args = parser.parse_args(argv)
    tracking_uri = resolve_tracking_uri(args.tracking_uri)
    if args.command == "ui":
        serve_ui(tracking_uri, args.host, args.port)
        return 0
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        return sync(tracking_uri, args.pending_dir)
    except UserError as error:
        print(f"Error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
