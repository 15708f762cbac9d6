"""Where the images live is a PACS: train from Orthanc over DICOMweb, select from it, hand back a KOS."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.training import composed, finished_runs, tiny_overrides
from lss.tracking import DATA_SOURCE_TAG


@pytest.mark.slow
def test_a_job_trained_from_a_pacs_is_the_job_trained_from_the_folder(
    pacs: str, phantom_dir: Path, trained_t1: dict, tmp_path: Path
) -> None:
    """Same studies, same manifest, same pixels, same seed: the same test metrics, whichever way the images came."""
    from lss.training import train

    overrides = [*tiny_overrides(phantom_dir, tmp_path), "modality=T1", "seed=0"]
    overrides += [f"data.root={pacs}", f"data.labels={phantom_dir / 'labels.csv'}"]
    metrics = train(composed(overrides, tmp_path / "job"))
    from_pacs = finished_runs(f"sqlite:///{tmp_path / 'mlflow.db'}").iloc[0]
    from_folder = finished_runs(str(trained_t1["tracking_uri"])).iloc[0]
    assert from_pacs["status"] == "FINISHED"
    assert from_pacs[f"tags.{DATA_SOURCE_TAG}"] == "dicomweb"
    for name in ("test/accuracy", "test/f1", "test/mid_hit"):
        assert metrics[name] == pytest.approx(from_folder[f"metrics.{name}"])
    copies = list((tmp_path / "cache" / "dicomweb").rglob("instances/*"))
    assert 0 < len([copy for copy in copies if not copy.name.endswith((".json", ".lock"))]) < 250  # T1 slices only
