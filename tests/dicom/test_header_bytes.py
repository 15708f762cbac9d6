"""The fast header path reads exactly what pydicom reads, or hands the file to pydicom."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from pydicom.data import get_testdata_file

from helpers.bad_inputs import write_catalogue
from helpers.dicom_factory import mr_dataset, write
from helpers.real_lumbar import REAL_LUMBAR
from lss.dicom.header_bytes import NotFast, read_header_text
from lss.dicom.headers import read_slice_headers
from lss.dicom.walk import walk_repository

SECRET = b"fast-path-test"


def fast_and_reference(root: Path) -> tuple[int, int]:
    """Compare both paths on every file under root; return (files the fast path took, files)."""
    files, _ = walk_repository(root)
    taken = 0
    for path in files:
        reference = read_slice_headers(path, root, SECRET, fast=False)
        assert read_slice_headers(path, root, SECRET) == reference, path
        if not path.is_file() or path.stat().st_size == 0:
            continue
        with path.open("rb") as file:
            try:
                read_header_text(file, path.stat().st_size)
                taken += 1
            except NotFast:
                pass
    return taken, len(files)


def test_on_the_phantom_every_file_takes_the_fast_path_and_gives_pydicoms_headers(phantom_dir: Path) -> None:
    taken, files = fast_and_reference(phantom_dir)
    assert taken >= files - 3  # labels.csv, series_truth.csv and the stamp are not DICOM


def test_on_the_bad_input_catalogue_and_pydicoms_own_files_the_answers_agree(tmp_path: Path) -> None:
    """Truncated, no Pixel Data, non-images, DICOMDIR, RGB, enhanced multi-frame, JPEG, RLE, pydicom's test files."""
    write_catalogue(tmp_path / "catalogue")
    taken, files = fast_and_reference(tmp_path / "catalogue")
    assert 0 < taken < files
    own = tmp_path / "pydicom"
    own.mkdir()
    for name in (
        "MR_small.dcm",
        "MR_small_implicit.dcm",
        "MR_small_bigendian.dcm",
        "MR_small_RLE.dcm",
        "emri_small.dcm",
        "CT_small.dcm",
        "rtplan.dcm",
        "SC_rgb.dcm",
        "MR_truncated.dcm",
    ):
        path = get_testdata_file(name)
        if path is not None:
            (own / name).write_bytes(Path(path).read_bytes())
    taken, files = fast_and_reference(own)
    assert taken >= 3


@pytest.mark.skipif(not (REAL_LUMBAR / "labels.csv").is_file(), reason=f"real lumbar MRI not found at {REAL_LUMBAR}")
def test_on_the_real_lumbar_set_the_answers_agree() -> None:
    taken, files = fast_and_reference(REAL_LUMBAR)
    assert taken >= files - 3


def test_a_sequence_of_undefined_length_before_the_wanted_elements_is_skipped_not_misread(tmp_path: Path) -> None:
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    dataset = mr_dataset(series_uid="1.2.3")
    item = Dataset()
    item.ReferencedSOPInstanceUID = "9.9.9"
    item.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.4"
    dataset.ReferencedImageSequence = Sequence([item])
    dataset["ReferencedImageSequence"].is_undefined_length = True
    path = write(dataset, tmp_path / "with_sequence.dcm")
    with path.open("rb") as file:
        header = read_header_text(file, path.stat().st_size)
    assert header.texts["SeriesInstanceUID"] == "1.2.3" and "SOPInstanceUID" in header.texts
    assert read_slice_headers(path, tmp_path, SECRET) == read_slice_headers(path, tmp_path, SECRET, fast=False)


def test_what_the_fast_path_declines() -> None:
    for name in ("MR_small_bigendian.dcm", "no_meta.dcm"):
        path = get_testdata_file(name)
        if path is None:
            continue
        with open(path, "rb") as file, pytest.raises(NotFast):
            read_header_text(file, Path(path).stat().st_size)
    with pytest.raises(NotFast, match="no preamble"):
        read_header_text(io.BytesIO(b"not a dicom file"), 16)
