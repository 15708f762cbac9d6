"""Same seed, same split, anywhere: two machines (two homes, two patient-key secrets) train the same job alike, and
``python -m lss.reproduce RUN_ID`` re-trains a run and says whether it came out equal."""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pydicom
import pytest

from helpers.mlflow_runs import write_training_run
from helpers.training import REPO, finished_runs, run_train, tiny_overrides
from lss import __version__
from lss.tracking import PREDICTIONS_ARTIFACT

JOB = ["modality=T2", "seed=3", "trainer.max_epochs=1", "resources.cpus=1", "log_model=false"]


def machine(data: Path, home: Path) -> dict[str, object]:
    """Train JOB as a user whose home (and so patient-key secret, created there at first use) is ``home``."""
    home.mkdir(parents=True)
    env = {"HOME": str(home), "LSS_PATIENT_KEY": ""}  # no secret given: each home creates its own
    run_train([*tiny_overrides(data, home), *JOB], cwd=home, env=env)
    tracking_uri = f"sqlite:///{home / 'mlflow.db'}"
    run = finished_runs(tracking_uri).iloc[0]
    (predictions,) = home.glob(f"mlartifacts/*/{run['run_id']}/artifacts/{PREDICTIONS_ARTIFACT}")
    (manifest,) = home.glob("cache/index/*/manifest.csv")
    return {"run": run, "predictions": pd.read_csv(predictions), "manifest": pd.read_csv(manifest), "uri": tracking_uri}


@pytest.fixture(scope="module")
def two_machines(phantom_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    folder = tmp_path_factory.mktemp("machines")
    data = folder / "data"
    shutil.copytree(phantom_dir, data)  # a copy: test_reproduce changes it
    return {"data": data, "a": machine(data, folder / "home-a"), "b": machine(data, folder / "home-b")}


def reproduce(run_id: str, tracking_uri: str) -> subprocess.CompletedProcess:
    """``python -m lss.reproduce RUN_ID`` as a user types it."""
    return subprocess.run(
        [sys.executable, "-m", "lss.reproduce", run_id, "--tracking-uri", tracking_uri],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


@pytest.mark.slow
def test_two_homes_with_their_own_secrets_test_on_the_same_slices_with_the_same_partition_and_metrics(
    two_machines: dict,
) -> None:
    a, b = two_machines["a"], two_machines["b"]
    assert set(a["manifest"]["patient_key"]).isdisjoint(b["manifest"]["patient_key"])  # two secrets indeed
    assert a["run"]["params.split.partition_id"] == b["run"]["params.split.partition_id"]
    assert a["run"]["params.split.scheme"] == b["run"]["params.split.scheme"] == "2"
    pd.testing.assert_frame_equal(a["predictions"], b["predictions"])  # the same test slices, the same p_mid
    assert len(a["predictions"]) > 0
    metrics = [column for column in a["run"].index if column.startswith("metrics.test/")]
    assert len(metrics) > 4 and a["run"][metrics].equals(b["run"][metrics])
    for name in ("lss", "torch", "device", "python"):
        assert a["run"][f"tags.lss.env.{name}"] == b["run"][f"tags.lss.env.{name}"] != ""
    assert a["run"]["tags.lss.env.lss"] == __version__


@pytest.mark.slow
def test_reproduce_says_equal_for_a_fresh_run_and_differs_once_its_data_changed(two_machines: dict) -> None:
    a = two_machines["a"]
    run_id = str(a["run"]["run_id"])
    equal = reproduce(run_id, str(a["uri"]))
    assert equal.returncode == 0, equal.stderr[-3000:]
    lines = equal.stdout.splitlines()
    assert "split: equal (partition " in equal.stdout and "metrics: equal" in equal.stdout
    assert "test predictions: equal" in equal.stdout and lines[-1] == f"equal: run {run_id} reproduced here"

    slice_file = next(path for path in two_machines["data"].rglob("*.dcm"))
    dataset = pydicom.dcmread(slice_file)
    dataset.PixelData = bytes(len(dataset.PixelData))  # a slice blanked after the run read it
    dataset.save_as(slice_file)
    changed = reproduce(run_id, str(a["uri"]))
    assert changed.returncode == 1
    assert changed.stderr.strip().splitlines()[-1].startswith("Error: differs before training: the data under ")


def test_reproduce_refuses_in_one_line_a_run_that_did_not_finish_or_logged_no_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from lss.reproduce import main

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    running = write_training_run(uri, "T1", 0, 0.9, status="RUNNING")
    finished = write_training_run(uri, "T1", 1, 0.9)  # logged through MLflow's API alone: no config.yaml
    for run_id, message in (
        (running, f"run {running} is RUNNING, not FINISHED"),
        (finished, f"run {finished} logged no config.yaml"),
        ("0" * 32, f"run_id={'0' * 32} is not a run in {uri}"),
    ):
        with pytest.raises(SystemExit) as exited:
            main([run_id, "--tracking-uri", uri])
        assert exited.value.code == 1
        assert capsys.readouterr().err.strip().splitlines()[-1].startswith(f"Error: {message}")


def test_a_rerun_that_tested_other_slices_with_other_metrics_differs_naming_both(tmp_path: Path) -> None:
    from lss.reproduce import compare
    from lss.tracking import RunOutcome

    def outcome(name: str, sop_uids: list[str], accuracy: float, torch: str) -> RunOutcome:
        predictions = tmp_path / f"{name}.csv"
        pd.DataFrame({"series_uid": "1.2", "sop_uid": sop_uids, "slice_index": [0, 1], "p_mid": [0.25, 0.75]}).to_csv(
            predictions, index=False
        )
        params = {"split.partition_id": f"patient-{name}", "split.n_test": "2"}
        metrics = {"test/accuracy": accuracy, "test/ece": math.nan}
        return RunOutcome(name, params, metrics, {"lss.env.torch": torch}, tmp_path / "config.yaml", predictions)

    there = outcome("there", ["1.2.1", "1.2.2"], 0.9, "2.4.0")
    comparison = compare(there, outcome("here", ["1.2.1", "1.2.3"], 0.8, "2.5.0"), on_cpu=True)
    report = comparison.report("there").splitlines()
    assert not comparison.equal and report[-1].startswith(
        "differs: split: split.partition_id patient-there -> patient-here"
    )
    assert "test slices (1 tested there only, 1 here only)" in report[-1]
    assert "metrics: test/accuracy 0.9 -> 0.8" in report[-1]  # NaN on both sides is equal
    assert "run record: differs in torch 2.4.0 -> 2.5.0" in report
    assert compare(there, there, on_cpu=True).report("there").splitlines()[-1] == "equal: run there reproduced here"
