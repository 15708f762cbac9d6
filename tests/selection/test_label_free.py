"""A site lss has never seen gets a first answer without training: predict.py with no model uses selector=symmetry."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from helpers.training import composed, finished_runs, run_script, tiny_overrides
from lss.phantom import write_phantom


@pytest.fixture(scope="module")
def new_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("site") / "dicom"
    write_phantom(root, n_patients=2, seed=5)
    return root


def test_predict_py_with_no_model_selects_with_the_label_free_selector_and_says_so(
    new_site: Path, tmp_path: Path
) -> None:
    out = tmp_path / "selected"
    result = run_script(
        "predict.py", [f"input={new_site}", f"output={out}", "mode=none", "kos=false", "progress=false"]
    )
    assert "No trained model given" in result.stdout and "selector=symmetry" in result.stdout
    series = pd.read_csv(out / "series.csv")
    scored = series[series["status"] == "selected"]
    assert len(scored) == 2 and (scored["selector"] == "symmetry").all()  # each patient's T2 series
    labels = pd.read_csv(new_site / "labels.csv")
    predictions = pd.read_csv(out / "predictions.csv")
    truth = predictions.merge(labels, left_on="sop_uid", right_on="sop_instance_uid", suffixes=("", "_true"))
    assert len(truth) == len(predictions)
    for _, row in scored.iterrows():  # the plane lies within half a slice of the chosen slice
        chosen = predictions[(predictions["series_uid"] == row["series_uid"])]
        spacing = chosen["slice_location_mm"].sort_values().diff().median()
        chosen_mm = chosen.loc[chosen["slice_index"] == row["mid_slice_index"], "slice_location_mm"].iloc[0]
        assert abs(row["mid_plane_mm"] - chosen_mm) <= spacing / 2 + 1e-6
    assert "symmetry selector" in (out / "report.html").read_text()


def test_a_symmetry_run_is_calibrated_and_tested_like_any_selector_and_logs_the_plane_error(
    phantom_dir: Path, tmp_path: Path
) -> None:
    from lss.training import train

    metrics = train(
        composed([*tiny_overrides(phantom_dir, tmp_path), "selector=symmetry", "modality=T2", "seed=0"], tmp_path / "j")
    )
    run = finished_runs(f"sqlite:///{tmp_path / 'mlflow.db'}").iloc[0]
    assert run["params.model._target_"] == "lss.model.symmetry_selector.SymmetrySelector"
    for name in ("test/mid_hit", "test/mid_hit_1", "test/mid_plane_error_mm", "test/mid_plane_error_mm_centre"):
        assert run[f"metrics.{name}"] == pytest.approx(metrics[name])
    assert 0 <= metrics["test/mid_plane_error_mm"] < 10
