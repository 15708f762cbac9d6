"""The selection as DICOM: one Key Object Selection (KOS) document per study, which any PACS viewer shows.

Document title (113000, DCM, "Of Interest"): the chosen slices are the ones a reader should look at, which is what
that title says; the other DCM titles (For Teaching, Quality Issue, Rejected for ...) say something else. The
referenced instances are exactly the chosen Mid band of each sagittal series; the Key Object Description says which
model chose them and how confident it was. The KOS carries its study's patient and study attributes, as the
standard requires for a viewer to file it with that study (like the selected/ copies of the images themselves).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

KOS_SERIES_NUMBER = 9901
"""High, so the KOS series sorts after the images in a viewer's series list."""
MANUFACTURER = "lss"


def key_object_selection(evidence_files: Sequence[Path], description: str) -> Dataset:
    """A KOS referencing the instances of ``evidence_files`` (all of one study), titled "Of Interest"."""
    from highdicom.ko import KeyObjectSelection, KeyObjectSelectionDocument
    from pydicom.sr.codedict import codes

    evidence = [pydicom.dcmread(path, stop_before_pixels=True) for path in evidence_files]
    content = KeyObjectSelection(
        document_title=codes.DCM.OfInterest, referenced_objects=evidence, description=description
    )
    return KeyObjectSelectionDocument(
        evidence=evidence,
        content=content,
        series_instance_uid=generate_uid(),
        series_number=KOS_SERIES_NUMBER,
        sop_instance_uid=generate_uid(),
        instance_number=1,
        manufacturer=MANUFACTURER,
        series_description="lss Mid band",
    )


def write_key_object_selections(
    files: Sequence[Path], about: str, series_notes: Mapping[str, str], out_dir: Path
) -> list[Path]:
    """One KOS per study of ``files`` (the chosen instances), written as ``<study UID>.dcm``; its description is
    ``about`` and the note of each of its series (``series_notes``: series UID -> text)."""
    by_study: dict[str, list[Path]] = {}
    series_of: dict[str, set[str]] = {}
    for path in sorted(set(files)):
        header = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["StudyInstanceUID", "SeriesInstanceUID"])
        by_study.setdefault(str(header.StudyInstanceUID), []).append(path)
        series_of.setdefault(str(header.StudyInstanceUID), set()).add(str(header.SeriesInstanceUID))
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for study_uid, study_files in sorted(by_study.items()):
        notes = [f"series {uid}: {series_notes[uid]}" for uid in sorted(series_of[study_uid])]
        path = out_dir / f"{study_uid}.dcm"
        key_object_selection(study_files, "; ".join([about, *notes])).save_as(path, enforce_file_format=True)
        written.append(path)
    return written


def referenced_sop_instance_uids(kos: Dataset) -> set[str]:
    """The instances a KOS references (its Current Requested Procedure Evidence Sequence)."""
    return {
        str(instance.ReferencedSOPInstanceUID)
        for study in kos.CurrentRequestedProcedureEvidenceSequence
        for series in study.ReferencedSeriesSequence
        for instance in series.ReferencedSOPSequence
    }
