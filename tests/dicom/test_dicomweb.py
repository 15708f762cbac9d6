"""A PACS over DICOMweb (a real Orthanc holding the session phantom): indexed from metadata as a folder is."""

from pathlib import Path

import pandas as pd
import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf

from helpers.training import composed
from lss.dicom.dicomweb import DicomWebSource, is_dicomweb, retrieve_instances, study_metadata
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


def test_lss_index_takes_the_http_url_every_dicomweb_client_takes(pacs: str, tmp_path: Path) -> None:
    """``--dicomweb http://HOST:PORT/dicom-web`` is the PACS ``dicomweb://HOST:PORT/dicom-web`` names: same manifest."""
    http = "http://" + pacs.removeprefix("dicomweb://")
    for url, out in ((pacs, "scheme"), (http, "http")):
        main(["--dicomweb", url, "--out", str(tmp_path / out), "--no-progress"])
    from_http = read_manifest(tmp_path / "http" / "manifest.csv")
    assert len(from_http) > 100
    pd.testing.assert_frame_equal(from_http, read_manifest(tmp_path / "scheme" / "manifest.csv"))


def test_both_spellings_of_a_dicomweb_root_are_one_source_wherever_a_pacs_is_expected(tmp_path: Path) -> None:
    from lss.selection.predict import check_paths
    from lss.training import check_job_config

    for http, scheme in (
        ("http://pacs:8042/dicom-web", "dicomweb://pacs:8042/dicom-web"),
        ("https://pacs.example.org/dicom-web/", "dicomwebs://pacs.example.org/dicom-web"),
    ):
        assert is_dicomweb(http) and DicomWebSource(http).http_url == DicomWebSource(scheme).http_url
        assert DicomWebSource(http).folder_name == DicomWebSource(scheme).folder_name
    cfg = composed(["experiment=demo", "data.root=http://pacs:8042/dicom-web", "data.labels=null"], tmp_path / "job")
    check_job_config(cfg)  # a URL, not a folder that "does not exist"
    (source,) = instantiate(cfg.data, _convert_="all").sources
    assert source.pacs == DicomWebSource("http://pacs:8042/dicom-web")
    pacs_input = {"input": "https://pacs.example.org/dicom-web", "output": str(tmp_path / "out"), "store": True}
    check_paths(OmegaConf.create(pacs_input | {"studies": ["1.2.3"]}))  # a folder input would refuse studies=/store=
    with pytest.raises(UserError, match="carries credentials"):
        DicomWebSource("https://reader:secret@pacs.example.org/dicom-web")
    assert not is_dicomweb("ftp://pacs/dicom-web") and not is_dicomweb(tmp_path)
