"""Real lumbar MRI (../shared/data/real-lumbar): it indexes as its README says, and experiment=real trains on it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from helpers.real_lumbar import real_lumbar_root
from helpers.training import composed, finished_runs
from lss.dicom.index import index_repository
from lss.manifest import read_manifest, write_manifest

SERIES_METRICS = ("test/mid_hit", "test/mid_error_mm", "test/mid_hit_centre", "test/mid_error_mm_centre")


@pytest.fixture(scope="module")
def real_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = real_lumbar_root()
    out = tmp_path_factory.mktemp("real-index")
    index_repository(root, out_dir=out, labels_csv=root / "labels.csv", progress=False)
    return out


def test_the_real_set_indexes_into_28_labelled_series_with_one_mid_band_each(real_index: Path) -> None:
    manifest = read_manifest(real_index / "manifest.csv")
    series = pd.read_csv(real_lumbar_root() / "series.csv")
    assert len(manifest) == series["slices"].sum() == 485
    assert manifest["series_uid"].nunique() == len(series) == 28
    assert manifest.groupby("modality").size().to_dict() == {"T1": 54, "T2": 403, "STIR": 28}
    assert (manifest["label_source"] == "labels").all()
    assert (manifest[manifest["label"] == "Mid"].groupby("series_uid").size() == 5).all()
    mid = manifest[manifest["is_mid_sagittal"]]
    assert len(mid) == 28 and (mid["slice_location_mm"].abs() < 1e-3).all()  # the README: 0 mm at the mid plane
    assert pd.read_csv(real_index / "label_findings.csv").empty


def test_each_of_the_28_real_series_has_the_weighting_its_readme_gives_and_both_tirm_series_are_stir(
    real_index: Path,
) -> None:
    manifest = read_manifest(real_index / "manifest.csv")
    folder = manifest["path"].str.rsplit("/", n=2).str[:2].str.join("/")
    found = manifest.assign(folder=folder).groupby("folder")[["modality", "fat_suppressed"]].first()
    expected = pd.read_csv(real_lumbar_root() / "series.csv").set_index("folder")["weighting"]
    assert found["modality"].to_dict() == expected.to_dict()
    assert (expected == "STIR").sum() == 2 and found["fat_suppressed"].to_dict() == (expected == "STIR").to_dict()


@pytest.mark.slow
def test_experiment_real_trains_one_epoch_on_eight_patients_and_logs_every_metric(real_index: Path, tmp_path: Path):
    from lss.training import train

    manifest = read_manifest(real_index / "manifest.csv")
    t2 = manifest[manifest["modality"] == "T2"]
    eight = sorted(t2["patient_key"].unique())[:8]
    subset = tmp_path / "manifest.csv"
    write_manifest(manifest[manifest["patient_key"].isin(eight)], subset)
    cfg = composed(
        [
            "experiment=real",
            "modality=T2",
            "seed=0",
            "trainer.max_epochs=1",
            f"data.manifest={subset}",
            f"paths.cache_dir={tmp_path / 'cache'}",
            f"mlflow.tracking_uri=sqlite:///{tmp_path / 'mlflow.db'}",
            "data.progress=false",
            "trainer.enable_progress_bar=false",
        ],
        tmp_path / "job",
    )
    assert cfg.model.backbone == "tf_efficientnet_lite0" and cfg.model.pretrained and cfg.data.split_by == "patient"
    train(cfg)
    run = finished_runs(f"sqlite:///{tmp_path / 'mlflow.db'}").iloc[0]
    assert run["status"] == "FINISHED"
    for rule in ("", "_band", "_centre"):
        for metric in ("accuracy", "precision", "recall", "f1"):
            assert 0 <= run[f"metrics.test/{metric}{rule}"] <= 1
    for metric in SERIES_METRICS:
        assert pd.notna(run[f"metrics.{metric}"]), metric
