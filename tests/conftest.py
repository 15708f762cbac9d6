"""Shared fixtures: a phantom DICOM repository, its manifest, composed configs and a real tiny sweep."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.phantom import PATIENT_MARKER
from helpers.training import run_train, tiny_overrides

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("LSS_PATIENT_KEY", "lss-test-suite")  # no secret file in the user's home from tests
os.environ.setdefault(
    "HF_HUB_OFFLINE", "1"
)  # no test reaches the real hub (tests/model/test_hub_download.py: a local one)


@pytest.fixture(scope="session")
def phantom_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 patients (enough for patient-grouped splits with both classes everywhere), identifiable by PATIENT_MARKER."""
    from lss.phantom import write_phantom

    out = tmp_path_factory.mktemp("phantom")
    write_phantom(out, n_patients=8, seed=0, identity_marker=PATIENT_MARKER)
    return out


@pytest.fixture(scope="session")
def phantom_manifest(phantom_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from lss.dicom.index import index_repository

    out = tmp_path_factory.mktemp("index")
    index_repository(phantom_dir, out_dir=out, labels_csv=phantom_dir / "labels.csv", progress=False)
    return out / "manifest.csv"


@pytest.fixture(scope="session")
def tiny_sweep(phantom_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """A real Hydra multirun, ``seed=0,1,2 modality=T1,T2``: 6 MLflow runs in a SQLite store.

    Run from ``workdir`` as a user's cwd, so everything it writes lies under it (test_privacy searches it).
    """
    workdir = tmp_path_factory.mktemp("sweep")
    result = run_train(["-m", "seed=0,1,2", "modality=T1,T2", *tiny_overrides(phantom_dir, workdir)], cwd=workdir)
    return {
        "tracking_uri": f"sqlite:///{workdir / 'mlflow.db'}",
        "experiment_name": "lss",
        "workdir": workdir,
        "output": result.stdout + result.stderr,
    }


@pytest.fixture(scope="session")
def pacs(phantom_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real PACS (Orthanc + DICOMweb) holding the session phantom, uploaded over STOW-RS; its dicomweb:// URL."""
    from lss.orthanc import ORTHANC_MISSING, dicomweb_plugin, orthanc, upload

    if dicomweb_plugin() is None:
        pytest.skip(ORTHANC_MISSING)
    with orthanc(tmp_path_factory.mktemp("orthanc")) as url:
        upload(url, phantom_dir)
        yield url
