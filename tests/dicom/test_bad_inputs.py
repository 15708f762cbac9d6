"""The bad-input catalogue: every entry indexed correctly or skipped with its own reason, never a crash."""

import hashlib
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydicom.data import get_testdata_file
from pydicom.uid import JPEG2000Lossless, RLELossless

from helpers import unpadded
from helpers.dicom_factory import (
    AXIAL,
    CORONAL,
    mr_dataset,
    ramp_pixels,
    write,
    write_enhanced_mr,
    write_jpeg_lossless,
    write_sagittal_series,
)
from lss.dicom.index import IndexResult, index_repository
from lss.dicom.pixels import read_slice_pixels

T2_SERIES = "1.3.10"
RAW_DATA_STORAGE = "1.2.840.10008.5.1.4.1.1.66"
COMPREHENSIVE_SR = "1.2.840.10008.5.1.4.1.1.88.33"

EXPECTED_SKIPS = {
    "broken/truncated_half.dcm": "truncated_pixel_data",
    "broken/MR_truncated.dcm": "truncated_pixel_data",
    "broken/notes.txt": "not_dicom",
    "broken/random_bytes": "not_dicom",
    "broken/zero_bytes": "empty_file",
    "media/DICOMDIR": "dicomdir",
    "broken/no_pixel_data": "no_pixel_data",
    "t2/raw_data": "non_image_sop_class",
    "t2/structured_report": "non_image_sop_class",
    "broken/no_orientation": "missing_orientation",
    "broken/orientation_without_position": "missing_position",
    "broken/rgb": "not_grayscale",
    "t2/copy_of_IM0000": "duplicate_sop_instance_uid",
    "other_planes/axial": "not_sagittal",
    "other_planes/coronal": "not_sagittal",
    "empty/": "empty_directory",
    "loop/back_to_root": "symlink_not_followed",
    "broken/dangling_link": "broken_symlink",
}


def write_catalogue(root: Path) -> None:
    t2_paths = write_sagittal_series(root / "t2", n_slices=5, series_uid=T2_SERIES)
    broken = root / "broken"
    half = write(mr_dataset(series_uid="1.3.11"), broken / "truncated_half.dcm")
    half.write_bytes(half.read_bytes()[: half.stat().st_size - 200])
    shutil.copyfile(get_testdata_file("MR_truncated.dcm"), broken / "MR_truncated.dcm")
    (broken / "notes.txt").write_text("patient list, not an image\n")
    (broken / "random_bytes").write_bytes(np.random.default_rng(0).bytes(3000))
    (broken / "zero_bytes").write_bytes(b"")
    dicomdir = Path(get_testdata_file("DICOMDIR", read=False) or "")
    (root / "media").mkdir()
    shutil.copyfile(dicomdir, root / "media" / "DICOMDIR")
    no_pixels = mr_dataset(series_uid="1.3.12")
    del no_pixels.PixelData
    write(no_pixels, broken / "no_pixel_data")
    for name, sop_class in (("raw_data", RAW_DATA_STORAGE), ("structured_report", COMPREHENSIVE_SR)):
        non_image = mr_dataset(series_uid=T2_SERIES, sop_class=sop_class)
        del non_image.PixelData
        write(non_image, root / "t2" / name)
    write(mr_dataset(series_uid="1.3.13", orientation=None), broken / "no_orientation")
    write(mr_dataset(series_uid="1.3.14", position=None), broken / "orientation_without_position")
    write(mr_dataset(series_uid="1.3.15", pixels=np.zeros((8, 8, 3)), photometric="RGB"), broken / "rgb")
    shutil.copyfile(t2_paths[0], root / "t2" / "copy_of_IM0000")
    write(mr_dataset(series_uid="1.3.16", orientation=AXIAL), root / "other_planes" / "axial")
    write(mr_dataset(series_uid="1.3.17", orientation=CORONAL), root / "other_planes" / "coronal")
    (root / "empty").mkdir()
    (root / "loop").mkdir()
    os.symlink("..", root / "loop" / "back_to_root")
    os.symlink("does_not_exist", broken / "dangling_link")
    # indexed: enhanced multi-frame, three compressed syntaxes, MONOCHROME1, a constant image
    write_enhanced_mr(root / "enhanced" / "multiframe", [-4.0, 0.0, 4.0])
    image = ramp_pixels(64, 64)
    write_jpeg_lossless(root / "compressed" / "jpeg_lossless", image, series_uid="1.3.20", position=(0.0, 0, 0))
    for x_mm, (name, syntax) in zip((4.0, 8.0), (("jpeg2000", JPEG2000Lossless), ("rle", RLELossless))):
        dataset = mr_dataset(series_uid="1.3.20", pixels=image, position=(x_mm, 0, 0))
        dataset.compress(syntax)
        write(dataset, root / "compressed" / name)
    write(
        mr_dataset(series_uid="1.3.30", photometric="MONOCHROME1", position=(0.0, 0, 0)),
        root / "display" / "monochrome1",
    )
    write(
        mr_dataset(series_uid="1.3.30", pixels=np.full((16, 16), 7), position=(4.0, 0, 0)),
        root / "display" / "constant",
    )


def tree_hashes(root: Path) -> dict[str, str]:
    return {
        path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file() and not path.is_symlink()
    }


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, IndexResult, dict[str, str], dict[str, str]]:
    os.environ.setdefault("LSS_PATIENT_KEY", "test-secret")
    root = tmp_path_factory.mktemp("catalogue") / "repo"
    write_catalogue(root)
    before = tree_hashes(root)
    result = index_repository(root, tmp_path_factory.mktemp("out"), progress=False)
    return root, result, before, tree_hashes(root)


def test_each_bad_input_is_skipped_with_its_specific_reason(catalogue) -> None:
    _, result, _, _ = catalogue
    reasons = dict(zip(result.skipped["path"], result.skipped["reason"]))
    assert reasons == EXPECTED_SKIPS


def test_exotic_but_valid_inputs_are_indexed(catalogue) -> None:
    _, result, _, _ = catalogue
    manifest = result.manifest
    # frames at x = -4, 0, 4 mm; HFS sagittal n·p = -x, so ascending slice location reverses them
    assert manifest.loc[manifest["path"] == "enhanced/multiframe", "frame"].tolist() == [2, 1, 0]
    assert set(manifest.loc[manifest["path"] == "enhanced/multiframe", "modality"]) == {"T1"}
    compressed = manifest[manifest["series_uid"] == "1.3.20"]
    assert compressed["path"].tolist() == ["compressed/rle", "compressed/jpeg2000", "compressed/jpeg_lossless"]
    assert {"display/monochrome1", "display/constant"} <= set(manifest["path"])
    assert manifest.loc[manifest["series_uid"] == T2_SERIES, "n_slices"].tolist() == [5] * 5


def test_indexed_slices_all_decode_through_read_slice_pixels(catalogue) -> None:
    root, result, _, _ = catalogue
    for row in result.manifest.itertuples():
        pixels = read_slice_pixels(root / row.path, row.frame)
        assert pixels.ndim == 2 and np.isfinite(pixels).all()
    for name in ("jpeg_lossless", "jpeg2000", "rle"):
        np.testing.assert_array_equal(read_slice_pixels(root / "compressed" / name), ramp_pixels(64, 64))
    assert np.ptp(read_slice_pixels(root / "display" / "constant")) == 0


def test_every_entry_under_root_is_accounted_for_exactly_once(catalogue) -> None:
    root, result, _, _ = catalogue
    files = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() or p.is_symlink()}
    manifest_paths, skipped_paths = set(result.manifest["path"]), set(result.skipped["path"])
    assert manifest_paths.isdisjoint(skipped_paths) and not result.skipped["path"].duplicated().any()
    assert (manifest_paths | skipped_paths) - {"empty/"} == files


def test_input_bytes_are_unchanged(catalogue) -> None:
    _, _, before, after = catalogue
    assert before == after and len(before) > 20


def test_summary_lists_skips_by_reason(catalogue) -> None:
    _, result, _, _ = catalogue
    assert "| non_image_sop_class | 2 |" in unpadded(result.summary_markdown)
    assert "| truncated_pixel_data | 2 |" in unpadded(result.summary_markdown)


def test_a_file_without_read_permission_is_skipped(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("running as root: chmod 000 does not stop reads (the simulated test below covers the path)")
    path = write(mr_dataset(series_uid="1.4"), tmp_path / "repo" / "locked")
    path.chmod(0)
    try:
        result = index_repository(tmp_path / "repo", progress=False)
    finally:
        path.chmod(0o644)
    assert result.skipped["reason"].tolist() == ["permission_denied"]


def test_a_permission_error_on_open_is_skipped_not_raised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    locked = write(mr_dataset(series_uid="1.4"), tmp_path / "repo" / "locked")
    real_open = Path.open

    def open_refusing_locked(self: Path, *args, **kwargs):
        if self == locked:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", open_refusing_locked)
    result = index_repository(tmp_path / "repo", workers=1, progress=False)
    assert result.skipped[["path", "reason"]].values.tolist() == [["locked", "permission_denied"]]


def test_an_empty_repository_gives_empty_tables_and_a_summary(tmp_path: Path) -> None:
    (tmp_path / "repo").mkdir()
    result = index_repository(tmp_path / "repo", tmp_path / "out", progress=False)
    assert result.manifest.empty and result.skipped.empty
    assert "| Total | 0 | 0 |" in unpadded(result.summary_markdown)
    assert pd.read_csv(tmp_path / "out" / "manifest.csv").empty
