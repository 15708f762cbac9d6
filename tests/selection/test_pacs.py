"""Where the images live is a PACS: train from Orthanc over DICOMweb, select from it, hand back a KOS."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from helpers.selection import selection_options
from helpers.training import composed, finished_runs, tiny_overrides
from lss.dicom.dicomweb import SERIES_UID, SOP_UID, STUDY_UID, DicomWebSource
from lss.manifest import MID
from lss.selection import select_mid_slices
from lss.selection.key_objects import referenced_sop_instance_uids
from lss.selection.select import RETRIEVED
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


def dciodvfy_errors(document: Path) -> list[str]:
    """dicom3tools' IOD validator (Debian ``dicom3tools``): its Error lines, or a skip where it is not installed."""
    validator = shutil.which("dciodvfy")
    if validator is None:
        pytest.skip("dciodvfy (apt-get install dicom3tools) is not installed")
    checked = subprocess.run([validator, str(document)], capture_output=True, text=True, timeout=60)
    return [line for line in (checked.stdout + checked.stderr).splitlines() if line.startswith("Error")]


@pytest.mark.slow
def test_selecting_from_a_pacs_stores_one_kos_per_study_referencing_exactly_its_chosen_slices(
    model, new_studies: Path, trained_t1: dict, tmp_path: Path
) -> None:
    """The KOS is read back from Orthanc (STOW-RS then WADO-RS), checked by highdicom and by dciodvfy."""
    from highdicom.ko import KeyObjectSelectionDocument

    from lss.orthanc import orthanc, upload

    cache = f"cache_dir={trained_t1['cache_dir']}"
    with orthanc(tmp_path / "orthanc") as url:
        upload(url, new_studies)
        from_pacs = select_mid_slices(
            model, url, tmp_path / "pacs", selection_options("store=true", cache, "progress=false")
        )
        client = DicomWebSource(url).client()
        stored = [
            client.retrieve_instance(*(found[tag]["Value"][0] for tag in (STUDY_UID, SERIES_UID, SOP_UID)))
            for found in client.search_for_instances(search_filters={"Modality": "KO"})
        ]
    from_folder = select_mid_slices(
        model, new_studies, tmp_path / "folder", selection_options("mode=none", cache, "progress=false")
    )
    chosen = from_pacs.predictions[from_pacs.predictions["label"] == MID]
    folder_chosen = from_folder.predictions[from_folder.predictions["label"] == MID]
    assert sorted(chosen["sop_uid"]) == sorted(folder_chosen["sop_uid"])  # the same choice, wherever the images lie
    assert len(stored) == len(from_pacs.key_objects) == 3  # one per study
    for kos in stored:
        in_study = chosen[chosen["path"].str.startswith(f"studies/{kos.StudyInstanceUID}/")]
        assert referenced_sop_instance_uids(kos) == set(in_study["sop_uid"]) and len(in_study) == 5
        assert kos.ConceptNameCodeSequence[0].CodeValue == "113000"  # "Of Interest"
        parsed = KeyObjectSelectionDocument.from_dataset(kos)
        assert {parsed.resolve_reference(sop)[2] for sop in in_study["sop_uid"]} == set(in_study["sop_uid"])
        description = next(item.TextValue for item in kos.ContentSequence if item.ValueType == "TEXT")
        assert "model (test)" in description and "confidence" in description
    assert dciodvfy_errors(from_pacs.key_objects[0]) == []
    for path in chosen["path"]:  # selected/ links to the retrieved copies, which read as the folder's files
        assert (tmp_path / "pacs" / "selected" / path).resolve() == (tmp_path / "pacs" / RETRIEVED / path).resolve()


def test_an_unquoted_study_uid_hydra_would_read_as_a_number_is_refused() -> None:
    from lss.errors import ConfigError

    assert selection_options('studies=["1.2.840.1","1.20"]').studies == ("1.2.840.1", "1.20")
    with pytest.raises(ConfigError, match="quoted study UIDs"):
        selection_options("studies=[1.2.840.1,1.20]")  # 1.20 arrives as the float 1.2
