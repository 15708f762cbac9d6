"""A series selector (selector=series) trained as a normal run and used by predict.py on new studies."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from helpers.selection import selection_options
from helpers.training import run_script, run_train, tiny_overrides, trained_selector_run
from lss.dicom.index import index_repository
from lss.phantom import write_phantom
from lss.selection import load_selector, select_mid_slices

SERIES_METRICS = ("test/mid_hit", "test/mid_hit_1", "test/mid_error_mm", "test/mid_hit_centre", "test/mid_hit_1_centre")


@pytest.fixture(scope="module")
def trained_series(phantom_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    return trained_selector_run(phantom_dir, tmp_path_factory.mktemp("series"), ["selector=series"])


@pytest.fixture(scope="module")
def new_studies(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("new") / "dicom"
    write_phantom(root, n_patients=2, seed=7)
    return root


def test_a_series_selector_run_logs_what_a_per_slice_run_logs_plus_the_series_metrics(trained_series: dict) -> None:
    run = trained_series["run"]
    assert run["status"] == "FINISHED"
    for metric in ("test/accuracy", "test/f1", "test/f1_band", "test/f1_centre", "test/ece", *SERIES_METRICS):
        assert f"metrics.{metric}" in run and run[f"metrics.{metric}"] == run[f"metrics.{metric}"], metric  # not NaN
    assert run["metrics.test/f1"] == run["metrics.test/f1_band"]  # the selector decides by its band
    assert run["metrics.test/mid_hit_1"] >= run["metrics.test/mid_hit"]
    assert run["params.model._target_"] == "lss.model.series_selector.SeriesMidSelector"


@pytest.mark.slow
def test_predict_py_selects_the_mid_slice_of_new_studies_with_a_series_selector_run(
    trained_series: dict, new_studies: Path, tmp_path: Path
) -> None:
    result = run_script(
        "predict.py",
        [
            f"run_id={trained_series['run']['run_id']}",
            f"mlflow.tracking_uri={trained_series['tracking_uri']}",
            f"input={new_studies}",
            f"output={tmp_path / 'out'}",
            "mode=none",
            "progress=false",
            f"hydra.run.dir={tmp_path / 'hydra'}",
        ],
    )
    series = pd.read_csv(tmp_path / "out" / "series.csv")
    predictions = pd.read_csv(tmp_path / "out" / "predictions.csv")
    selected = series[series["status"] == "selected"]
    assert (predictions["modality"] == "T2").all() and len(selected) == 2
    assert (selected["n_mid"] == 5).all() and selected["mid_slice_index"].notna().all()
    assert predictions["p_mid"].between(0, 1).all()
    assert "accuracy" in result.stdout and (tmp_path / "out" / "report.html").is_file()


def test_a_series_too_short_to_compare_is_listed_as_not_scored_with_its_reason(
    trained_series: dict, new_studies: Path, tmp_path: Path
) -> None:
    manifest = index_repository(new_studies, progress=False).manifest
    t2 = manifest[manifest["modality"] == "T2"].sort_values(["series_uid", "slice_index"])
    first_series = t2[t2["series_uid"] == t2["series_uid"].iloc[0]]
    short = tmp_path / "short"
    short.mkdir()
    for number, path in enumerate(first_series["path"].iloc[:2]):
        shutil.copy(new_studies / path, short / f"{number}.dcm")
    for path in t2[t2["series_uid"] != first_series["series_uid"].iloc[0]]["path"]:
        (short / "whole" / Path(path).name).parent.mkdir(exist_ok=True)
        shutil.copy(new_studies / path, short / "whole" / Path(path).name)
    result = select_mid_slices(
        load_selector(checkpoint=trained_series["checkpoint"]),
        short,
        tmp_path / "out",
        selection_options("mode=none", "progress=false"),
    )
    statuses = dict(zip(result.series["n_slices"], result.series["status"]))
    assert statuses[2].startswith("skipped: 2 slices; a series selector compares")
    assert "selected" in statuses.values()


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("data.context=3", "selector=series reads each slice on its own; use it with data.context=1"),
        ("modality=T1T2", "selector=series reads one series at a time; train T1 or T2"),
        ("data.split_by=image", "data.unit=series learns and tests on whole series: set data.split_by=patient"),
    ],
)
def test_settings_the_series_selector_cannot_use_are_refused_in_one_line(
    override: str, expected: str, phantom_dir: Path, tmp_path: Path
) -> None:
    result = run_train([*tiny_overrides(phantom_dir, tmp_path), "selector=series", override], check=False)
    assert result.returncode == 1
    assert expected in result.stderr.strip().splitlines()[-1]
