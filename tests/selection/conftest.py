"""A model trained here once per test session, and new studies it has never seen."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.training import REGISTERED, composed, finished_runs, tiny_overrides
from lss.phantom import write_phantom
from lss.selection import load_selector


@pytest.fixture(scope="session")
def trained_t1(phantom_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """A tiny T1 model trained on the 8-patient phantom, logged to its own SQLite store and registered as REGISTERED."""
    from lss.training import train

    workdir = tmp_path_factory.mktemp("trained")
    overrides = [*tiny_overrides(phantom_dir, workdir), "modality=T1", "seed=0", f"register_as={REGISTERED}"]
    train(composed(overrides, workdir / "job"))
    tracking_uri = f"sqlite:///{workdir / 'mlflow.db'}"
    return {
        "checkpoint": workdir / "job" / "checkpoints" / "last.ckpt",
        "tracking_uri": tracking_uri,
        "run_id": finished_runs(tracking_uri)["run_id"].iloc[0],
        "cache_dir": workdir / "predict-cache",
    }


@pytest.fixture(scope="session")
def new_studies(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three patients the model has never seen (another phantom seed), T1 and T2, with labels.csv."""
    root = tmp_path_factory.mktemp("new_studies") / "dicom"
    write_phantom(root, n_patients=3, seed=7)
    return root


@pytest.fixture(scope="session")
def model(trained_t1: dict):
    return load_selector(checkpoint=trained_t1["checkpoint"])
