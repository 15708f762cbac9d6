"""A PACS over DICOMweb (a real Orthanc holding the session phantom): indexed from metadata as a folder is."""

from pathlib import Path

import pandas as pd
import pytest

from lss.dicom.dicomweb import DicomWebSource, retrieve_instances, study_metadata
from lss.dicom.index import index_dicomweb, index_repository
from lss.dicom.pixels import read_slice_pixels
from lss.errors import UserError
from lss.index_cli import main
from lss.manifest import read_manifest


def test_a_pacs_gives_the_manifest_its_studies_give_from_a_folder(pacs: str, phantom_dir: Path, tmp_path: Path) -> None:
    main(["--dicomweb", pacs, "--out", str(tmp_path / "pacs"), "--labels", str(phantom_dir / "labels.csv")])
    from_pacs = read_manifest(tmp_path / "pacs" / "manifest.csv")
    from_folder = index_repository(phantom_dir, tmp_path / "folder", phantom_dir / "labels.csv", progress=False)
    assert len(from_pacs) > 100
    folder_manifest = read_manifest(tmp_path / "folder" / "manifest.csv")
    pd.testing.assert_frame_equal(from_pacs.drop(columns="path"), folder_manifest.drop(columns="path"))
    assert from_pacs["path"].str.fullmatch(r"studies/[\d.]+/series/[\d.]+/instances/[\d.]+").all()
    skipped = pd.read_csv(tmp_path / "pacs" / "skipped.csv")
    dicom_skips = from_folder.skipped[from_folder.skipped["reason"] != "not_dicom"]  # the phantom's CSV files
    assert sorted(skipped["reason"]) == sorted(dicom_skips["reason"]) == ["not_sagittal"] * len(dicom_skips)


def test_one_study_of_a_pacs_is_indexed_alone(pacs: str, phantom_dir: Path) -> None:
    everything = index_dicomweb(study_metadata(DicomWebSource(pacs)), progress=False).manifest
    study = everything["study_uid"].iloc[0]
    one = index_dicomweb(study_metadata(DicomWebSource(pacs), [study]), progress=False).manifest
    assert set(one["study_uid"]) == {study}
    assert len(one) == (everything["study_uid"] == study).sum()


def test_retrieved_instances_read_as_the_folder_s_files(pacs: str, phantom_dir: Path, tmp_path: Path) -> None:
    """WADO-RS copies lie under the manifest's paths, once: a second retrieval reads the checked copies."""
    source = DicomWebSource(pacs)
    from_pacs = index_dicomweb(study_metadata(source), progress=False).manifest.head(3)
    from_folder = index_repository(phantom_dir, progress=False).manifest.set_index("sop_uid")
    root = retrieve_instances(source, from_pacs["path"].tolist(), tmp_path / "copies")
    for path, sop_uid in zip(from_pacs["path"], from_pacs["sop_uid"]):
        original = phantom_dir / from_folder.loc[sop_uid, "path"]
        assert (read_slice_pixels(root / path) == read_slice_pixels(original)).all()
    written = {path: (root / path).stat().st_mtime_ns for path in from_pacs["path"]}
    retrieve_instances(source, from_pacs["path"].tolist(), tmp_path / "copies")
    assert {path: (root / path).stat().st_mtime_ns for path in from_pacs["path"]} == written


def test_a_pacs_that_does_not_answer_is_one_line(tmp_path: Path) -> None:
    from helpers.mlflow_server import free_port

    with pytest.raises(UserError, match=r"cannot reach dicomweb://127\.0\.0\.1:.* is the PACS up"):
        study_metadata(DicomWebSource(f"dicomweb://127.0.0.1:{free_port()}/dicom-web"))


def test_credentials_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LSS_DICOMWEB_TOKEN", "secret-token")
    client = DicomWebSource("dicomwebs://pacs.example.org/dicom-web").client()
    assert client._session.headers["Authorization"] == "Bearer secret-token"
    assert client.base_url == "https://pacs.example.org/dicom-web"
    monkeypatch.setenv("LSS_DICOMWEB_USER", "reader")
    with pytest.raises(UserError, match="LSS_DICOMWEB_PASSWORD"):
        DicomWebSource("dicomweb://pacs/dicom-web").client()
