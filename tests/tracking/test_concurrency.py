"""Two identical sweeps started together on a store that does not exist yet: one healthy store, each job once."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from mlflow.exceptions import MlflowException

from helpers.training import finished_runs, start_train, tiny_overrides
from lss.tracking.datasets import DATASET_CREATED_MEANWHILE
from lss.tracking.store import with_retries


@pytest.mark.slow
def test_two_identical_sweeps_started_together_train_each_job_once(phantom_dir: Path, tmp_path: Path) -> None:
    """Before: both sweeps trained every job (6 FINISHED runs for 3 jobs), and racing schema migrations left stores
    with ``_alembic_tmp_*`` tables, some broken for good."""
    overrides = [item for item in tiny_overrides(phantom_dir, tmp_path) if not item.startswith("hydra.sweep.dir=")]
    args = ["-m", "seed=0,1", *overrides, "trainer.max_epochs=1"]
    sweeps = [
        start_train([*args, f"hydra.sweep.dir={tmp_path / name}"], tmp_path / f"{name}.log", cwd=tmp_path)
        for name in ("a", "b")
    ]
    codes = [sweep.wait(timeout=600) for sweep in sweeps]
    assert codes == [0, 0], [(tmp_path / f"{name}.log").read_text()[-3000:] for name in ("a", "b")]
    with sqlite3.connect(tmp_path / "mlflow.db") as store:
        tables = [name for (name,) in store.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    assert not [name for name in tables if name.startswith("_alembic_tmp")]
    runs = finished_runs(f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert sorted(runs["status"]) == ["FINISHED", "FINISHED"]
    assert sorted(runs["params.seed"]) == ["0", "1"]


def test_a_dataset_another_job_created_a_moment_before_is_logged_again_not_failed() -> None:
    """Seen in this test's sweeps: MLflow looks a dataset up, then creates it, so the second of two jobs logging the
    same data at once failed on the UNIQUE constraint (its run FAILED, its sweep exited 1). The dataset exists then:
    a second try links it."""
    race = MlflowException(
        "(sqlite3.IntegrityError) UNIQUE constraint failed: datasets.experiment_id, datasets.name, datasets.digest"
    )
    attempts: list[int] = []

    def log_input() -> str:
        attempts.append(1)
        if len(attempts) == 1:
            raise race
        return "linked"

    assert with_retries(log_input, first_wait_s=0.0, transient_errors=(DATASET_CREATED_MEANWHILE,)) == "linked"
    attempts.clear()
    with pytest.raises(MlflowException):  # without the caller's word the same error is not transient
        with_retries(log_input, first_wait_s=0.0)
    assert len(attempts) == 1
