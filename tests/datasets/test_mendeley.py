"""The paper's Mendeley set: Siemens .ima files (any extension or none) in per-patient folders, axial series too."""

from pathlib import Path

import pandas as pd
import pytest

from lss.dicom.index import index_repository
from lss.phantom.replicas import Replica, write_mendeley_replica


@pytest.fixture(scope="module")
def replica(tmp_path_factory: pytest.TempPathFactory) -> Replica:
    """4 patients (seed 0): one with an axial T2 series; 2 sagittal series with the spine off-centre."""
    return write_mendeley_replica(tmp_path_factory.mktemp("mendeley") / "Lumbar Spine MRI", n_patients=4, seed=0)


def test_every_file_whatever_its_extension_is_indexed_or_skipped_as_not_sagittal(replica: Replica) -> None:
    result = index_repository(replica.root, progress=False)
    on_disk = {path.relative_to(replica.root).as_posix() for path in replica.root.rglob("*") if path.is_file()}
    assert {Path(path).suffix for path in on_disk} == {".ima", ".IMA", ""}
    assert set(result.manifest["path"]) | set(result.skipped["path"]) == on_disk
    assert set(result.skipped["reason"]) == {"not_sagittal"} and len(result.skipped) == 5  # the axial T2
    assert result.manifest.groupby("series_uid").ngroups == 8


def test_a_per_series_csv_puts_the_mid_band_where_it_says(replica: Replica, tmp_path: Path) -> None:
    labels = replica.expected[["series_instance_uid", "mid_sop_instance_uid"]]
    labels.to_csv(tmp_path / "labels.csv", index=False)
    manifest = index_repository(replica.root, labels_csv=tmp_path / "labels.csv", progress=False).manifest
    mid = manifest[manifest["is_mid_sagittal"]].set_index("series_uid")["sop_uid"]
    assert mid.sort_index().to_dict() == labels.set_index("series_instance_uid")["mid_sop_instance_uid"].to_dict()


def test_without_labels_the_centre_rule_is_right_exactly_where_the_spine_is_centred(replica: Replica) -> None:
    manifest = index_repository(replica.root, progress=False).manifest
    mid = manifest[manifest["is_mid_sagittal"]].set_index("series_uid")["sop_uid"]
    truth = replica.expected.set_index("series_instance_uid")
    hits = pd.Series(mid[truth.index].to_numpy() == truth["mid_sop_instance_uid"].to_numpy(), index=truth.index)
    assert hits.tolist() == truth["centred"].tolist() and not hits.all()
