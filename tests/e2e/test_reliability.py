"""Training refuses unusable data up front; sweeps resume after SIGKILL; parallel jobs share one store."""

from __future__ import annotations

import itertools
import os
import signal
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
import pytest
from mlflow.tracking import MlflowClient

from helpers.training import (
    REPO,
    composed,
    finished_runs,
    run_train,
    start_train,
    tiny_overrides,
    wait_for_run_state,
)
from lss.data.slices import TrainingDataError
from lss.manifest import read_manifest
from lss.provenance import PHANTOM_STAMP

SWEEP_4_JOBS = ["-m", "seed=0,1", "modality=T1,T2"]
SECRET_ENV = {"LSS_PATIENT_KEY": "reliability-test-secret"}


# -- §1: training refuses clearly, before any epoch -----------------------------------------


def manifest_copy(phantom_manifest: Path, out_dir: Path, relabel) -> Path:
    """A copy of the phantom's manifest, labels changed by ``relabel(frame) -> frame``.

    Readable with data.manifest= (its paths are relative to data.root, the phantom).
    """
    out_dir.mkdir(parents=True)
    relabel(read_manifest(phantom_manifest)).to_csv(out_dir / "manifest.csv", index=False)
    return out_dir / "manifest.csv"


def train_refuses(phantom_dir: Path, workdir: Path, data_overrides: list[str]) -> TrainingDataError:
    """Train one tiny job on the given data; return the refusal and check no epoch was logged."""
    from lss.training import train

    cfg = composed([*tiny_overrides(phantom_dir, workdir), *data_overrides], workdir / "job")
    with pytest.raises(TrainingDataError) as refusal:
        train(cfg)
    runs = finished_runs(f"sqlite:///{workdir / 'mlflow.db'}")
    assert list(runs["status"]) == ["FAILED"]  # recorded as failed, never left RUNNING
    assert list(runs["tags.lss.error"]) == [str(refusal.value)]  # the reason, visible in the MLflow UI
    assert not [column for column in runs.columns if column.startswith("metrics.")]  # refused before any step
    return refusal.value


def test_training_a_modality_without_labelled_slices_is_refused(
    phantom_dir: Path, phantom_manifest: Path, tmp_path: Path
) -> None:
    def unlabel_t1(manifest: pd.DataFrame) -> pd.DataFrame:
        return manifest.assign(label=manifest["label"].where(manifest["modality"] != "T1", ""))

    manifest = manifest_copy(phantom_manifest, tmp_path / "index", unlabel_t1)
    refusal = train_refuses(phantom_dir, tmp_path, ["modality=T1", f"data.manifest={manifest}"])
    assert "no labelled T1 slices" in str(refusal)
    assert "sagittal T1 series" in str(refusal)  # the hint names the modality too


def test_a_split_without_mid_slices_is_refused(phantom_dir: Path, phantom_manifest: Path, tmp_path: Path) -> None:
    """Only one patient keeps Mid labels; patient-grouped splits then leave Mid out of at least two splits."""

    def one_patient_has_mid(manifest: pd.DataFrame) -> pd.DataFrame:
        keeper = sorted(manifest["patient_key"].unique())[0]
        demoted = (manifest["label"] == "Mid") & (manifest["patient_key"] != keeper)
        return manifest.assign(label=manifest["label"].mask(demoted, "Lateral"))

    manifest = manifest_copy(phantom_manifest, tmp_path / "index", one_patient_has_mid)
    refusal = train_refuses(phantom_dir, tmp_path, [f"data.manifest={manifest}", "data.split_by=patient"])
    assert "split (split_by=patient" in str(refusal) and "has no Mid slices" in str(refusal)
    assert "data.test_fraction" in str(refusal)  # says what to change


def test_a_repository_of_constant_images_is_refused(phantom_dir: Path, tmp_path: Path) -> None:
    """The phantom with every pixel set to one value: indexed fine, but nothing to learn from."""
    flat = tmp_path / "flat_phantom"
    for source in phantom_dir.rglob("*"):
        target = flat / source.relative_to(phantom_dir)
        if source.is_dir():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.suffix == ".csv" or source.name == PHANTOM_STAMP:
            target.write_bytes(source.read_bytes())
            continue
        dataset = pydicom.dcmread(source)
        dataset.PixelData = np.full_like(dataset.pixel_array, 100).tobytes()
        dataset.save_as(target, enforce_file_format=True)
    refusal = train_refuses(phantom_dir, tmp_path, [f"data.root={flat}", f"data.labels={flat / 'labels.csv'}"])
    assert "every image is constant" in str(refusal)


def test_the_indexing_page_explains_every_skip_reason() -> None:
    from lss.dicom.skips import SKIP_REASONS

    page = (REPO / "docs" / "indexing.md").read_text()
    assert [code for code in SKIP_REASONS if f"| `{code}` |" not in page] == []


# -- §2: a sweep killed with SIGKILL resumes without losing or duplicating runs --------------


def kill_during_second_job(args: list[str], db: Path, output: Path) -> None:
    """Start ``train.py ARGS`` and SIGKILL its whole process group once job 1's run is RUNNING."""
    sweep = start_train(args, output, env=SECRET_ENV)
    try:
        wait_for_run_state(db, sweep, ("RUNNING", "1"))
    finally:
        if sweep.poll() is None:
            os.killpg(sweep.pid, signal.SIGKILL)
        sweep.wait()


def runs_by_job(tracking_uri: str) -> pd.DataFrame:
    runs = finished_runs(tracking_uri)
    return runs.assign(job=list(zip(runs["params.modality"], runs["params.seed"].astype(int))))


@pytest.mark.slow
def test_a_killed_sweep_resumes_without_losing_or_duplicating_runs(phantom_dir: Path, tmp_path: Path) -> None:
    args = [*SWEEP_4_JOBS, *tiny_overrides(phantom_dir, tmp_path)]
    tracking_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    kill_during_second_job(args, tmp_path / "mlflow.db", tmp_path / "killed.log")
    before = runs_by_job(tracking_uri)
    assert sorted(before["status"]) == ["FINISHED", "RUNNING"]  # job 0 done, job 1 killed mid-way
    first_finished = before.loc[before["status"] == "FINISHED", "run_id"].item()

    run_train(args, env=SECRET_ENV)
    after = runs_by_job(tracking_uri)
    assert "RUNNING" not in set(after["status"])
    killed = after[after["run_id"].isin(before.loc[before["status"] == "RUNNING", "run_id"])]
    assert list(killed["status"]) == ["KILLED"]  # the next start closed the orphan
    finished = after[after["status"] == "FINISHED"]
    assert sorted(finished["job"]) == sorted((modality, seed) for modality in ("T1", "T2") for seed in (0, 1))
    assert first_finished in set(finished["run_id"])  # job 0 was skipped, not redone
    assert len(after) == 5  # 1 finished + 1 killed before, 3 trained by the resumed sweep
    # skipping a completed job and resume=false are covered in-process by tests/test_training.py


# -- §3: two parallel jobs on one SQLite store -----------------------------------------------


@pytest.mark.slow
def test_a_parallel_sweep_on_one_sqlite_store_loses_no_run(phantom_dir: Path, tmp_path: Path) -> None:
    """joblib with 2 workers on a store that does not exist yet: migrations and writes race unless handled."""
    assert not (tmp_path / "mlflow.db").exists()
    run_train([*SWEEP_4_JOBS, "hydra/launcher=parallel", *tiny_overrides(phantom_dir, tmp_path)], env=SECRET_ENV)
    tracking_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    runs = runs_by_job(tracking_uri)
    assert len(runs) == 4 and set(runs["status"]) == {"FINISHED"}
    assert sorted(runs["job"]) == sorted((modality, seed) for modality in ("T1", "T2") for seed in (0, 1))
    assert runs["tags.lss.sweep_id"].nunique() == 1 and sorted(runs["tags.lss.job_num"].astype(int)) == [0, 1, 2, 3]
    two_at_once = max(1, len(os.sched_getaffinity(0)) // 2)  # conf/hydra/launcher/parallel.yaml: n_jobs 2
    assert set(runs["params.resources.cpu_budget"]) == {str(two_at_once)}
    spans = sorted(zip(runs["start_time"], runs["end_time"]))
    assert any(later_start < end for (_, end), (later_start, _) in itertools.pairwise(spans))  # two jobs overlapped
    client = MlflowClient(tracking_uri)
    for run_id in runs["run_id"]:  # every epoch and every artifact of every run arrived
        assert [point.step for point in client.get_metric_history(run_id, "val/accuracy")] == [0, 1]
        assert len(client.get_metric_history(run_id, "test/accuracy")) == 1
        assert {"config.yaml", "test_predictions.csv", "checkpoint"} <= {
            item.path for item in client.list_artifacts(run_id)
        }
