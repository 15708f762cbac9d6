"""Shared fixtures: a phantom DICOM repository, its manifest, composed configs and a real tiny sweep."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("LSS_PATIENT_KEY", "lss-test-suite")  # no secret file in the user's home from tests

PATIENT_MARKER = "Zqxprivacymarker"
"""The session phantom's PatientName/PatientID carry this, so test_privacy can search every output for it."""


@pytest.fixture(scope="session")
def phantom_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 patients (enough for patient-grouped splits with both classes everywhere), identifiable by PATIENT_MARKER."""
    from lss.dicom.phantom import write_phantom

    out = tmp_path_factory.mktemp("phantom")
    write_phantom(out, n_patients=8, seed=0, identity_marker=PATIENT_MARKER)
    return out


@pytest.fixture(scope="session")
def phantom_manifest(phantom_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from lss.dicom.index import index_repository

    out = tmp_path_factory.mktemp("index")
    index_repository(phantom_dir, out_dir=out, labels_csv=phantom_dir / "labels.csv", progress=False)
    return out / "manifest.csv"


def tiny_overrides(phantom_dir: Path, workdir: Path) -> list[str]:
    """Train overrides for a seconds-long CPU run on the phantom, with every output under ``workdir``."""
    return [
        "experiment=demo",
        f"data.root={phantom_dir}",
        f"data.labels={phantom_dir / 'labels.csv'}",
        "data.input_size=[32,32]",
        f"paths.cache_dir={workdir / 'cache'}",
        f"mlflow.tracking_uri=sqlite:///{workdir / 'mlflow.db'}",
        "trainer.max_epochs=2",
        f"hydra.sweep.dir={workdir / 'multirun'}",
        f"hydra.run.dir={workdir / 'run'}",
    ]


def run_train(args: list[str], cwd: Path = REPO, timeout: float = 600, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``python train.py ARGS`` exactly as a user types it; fails the test with its output on error."""
    result = subprocess.run(
        [sys.executable, str(REPO / "train.py"), *args],
        cwd=cwd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )
    if result.returncode != 0:
        pytest.fail(f"train.py {' '.join(args)} exited {result.returncode}\n--- stdout\n{result.stdout[-4000:]}\n--- stderr\n{result.stderr[-6000:]}")
    return result


@pytest.fixture(scope="session")
def tiny_sweep(phantom_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """A real Hydra multirun, ``seed=0,1,2 modality=T1,T2``: 6 MLflow runs in a SQLite store.

    Run from ``workdir`` as a user's cwd, so everything it writes lies under it (test_privacy searches it).
    """
    workdir = tmp_path_factory.mktemp("sweep")
    result = run_train(["-m", "seed=0,1,2", "modality=T1,T2", *tiny_overrides(phantom_dir, workdir)], cwd=workdir)
    return {"tracking_uri": f"sqlite:///{workdir / 'mlflow.db'}", "experiment_name": "lss", "workdir": workdir, "output": result.stdout + result.stderr}
