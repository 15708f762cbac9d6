"""Pretrained weights as users expect: downloaded once from the hub into its cache, one line when that cannot be.

A local HTTP server stands in for the Hugging Face hub (``HF_ENDPOINT``), serving a tiny model's weights; each case
runs in a fresh process because huggingface_hub reads its endpoint and offline flag at import.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import timm
from safetensors.torch import save_file

from helpers.mlflow_server import free_port

MODEL = "test_resnet"
HUB_FILE = "/timm/test_resnet.r160_in1k/resolve/main/model.safetensors"
LOAD = (
    "from lss.model.backbone import create_backbone; "
    f"print(float(create_backbone('{MODEL}', pretrained=True).conv1[0].weight.sum()))"
)


class Hub(BaseHTTPRequestHandler):
    """The two requests huggingface_hub makes for a file: HEAD (commit, ETag, size), then GET; 404 for the rest."""

    weights = b""
    requests: list[str] = []  # noqa: RUF012  # one server per test: a class-level record is what the test reads

    def _answer(self, body: bool) -> None:
        Hub.requests.append(f"{self.command} {self.path}")
        if self.path != HUB_FILE:
            self.send_response(404)
            self.send_header("X-Error-Code", "EntryNotFound")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("X-Repo-Commit", "0" * 40)
        self.send_header("ETag", f'"{hashlib.sha256(self.weights).hexdigest()}"')
        self.send_header("Content-Length", str(len(self.weights)))
        self.end_headers()
        if body:
            self.wfile.write(self.weights)

    def do_HEAD(self) -> None:  # http.server's names
        self._answer(body=False)

    def do_GET(self) -> None:
        self._answer(body=True)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[str]:
    """The local hub's URL, serving the tiny model's weights (seeded, so the test knows what it should load)."""
    import torch

    torch.manual_seed(3)
    save_file(timm.create_model(MODEL, pretrained=False).state_dict(), tmp_path / "served.safetensors")
    Hub.weights, Hub.requests = (tmp_path / "served.safetensors").read_bytes(), []
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Hub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def load_in_fresh_process(endpoint: str, hf_home: Path) -> subprocess.CompletedProcess:
    """A user's process with internet (no HF_HUB_OFFLINE) whose hub is ``endpoint``."""
    environment = {key: value for key, value in os.environ.items() if key != "HF_HUB_OFFLINE"}
    environment |= {"HF_ENDPOINT": endpoint, "HF_HOME": str(hf_home)}
    return subprocess.run(
        [sys.executable, "-c", LOAD],
        capture_output=True,
        text=True,
        timeout=600,  # a hang guard, not a speed check
        env=environment,
        stdin=subprocess.DEVNULL,
    )


def served_weight_sum() -> float:
    from safetensors.torch import load

    return float(load(Hub.weights)["conv1.0.weight"].sum())


@pytest.mark.slow
def test_weights_are_downloaded_once_into_the_cache_and_then_read_from_it(hub: str, tmp_path: Path) -> None:
    first = load_in_fresh_process(hub, tmp_path / "hf")
    assert first.returncode == 0, first.stderr[-3000:]
    assert float(first.stdout.split()[-1]) == pytest.approx(served_weight_sum())
    assert f"GET {HUB_FILE}" in Hub.requests
    Hub.requests.clear()
    again = load_in_fresh_process(hub, tmp_path / "hf")
    assert again.returncode == 0 and again.stdout == first.stdout
    assert Hub.requests == []  # the cache answered


def test_hf_hub_offline_asks_nothing_and_says_how_to_supply_the_weights() -> None:
    """tests/conftest.py sets HF_HUB_OFFLINE=1 for the suite's own process, as a user without internet would."""
    from huggingface_hub import is_offline_mode

    from lss.model.backbone import PretrainedWeightsMissing, create_backbone

    assert is_offline_mode()
    with pytest.raises(PretrainedWeightsMissing, match=r"HF_HUB_OFFLINE=1 forbids downloading.*model\.weights="):
        create_backbone(MODEL, pretrained=True)


def test_an_unreachable_hub_is_one_line_without_retries(tmp_path: Path) -> None:
    """One request, bounded by HUB_TIMEOUT_S, then one line (not timed here: a loaded machine imports torch slowly)."""
    unreachable = load_in_fresh_process(f"http://127.0.0.1:{free_port()}", tmp_path / "hf")
    assert unreachable.returncode != 0
    assert "could not be downloaded" in unreachable.stderr and "offline?" in unreachable.stderr
    assert "Retrying" not in unreachable.stderr
