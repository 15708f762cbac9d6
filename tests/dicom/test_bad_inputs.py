"""The bad-input catalogue: every entry indexed correctly or skipped with its own reason, never a crash."""

import hashlib
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers import unpadded
from helpers.bad_inputs import EXPECTED_SKIPS, T2_SERIES, write_catalogue
from helpers.dicom_factory import mr_dataset, ramp_pixels, write
from lss.dicom.index import IndexResult, index_repository
from lss.dicom.pixels import read_slice_pixels


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
