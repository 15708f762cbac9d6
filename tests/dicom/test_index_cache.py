"""The index cache: one manifest per repository state, keyed on content, checked on every read."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pydicom
import pytest

from helpers.dicom_factory import write_sagittal_series
from lss.dicom.index_cache import indexed_manifest
from lss.dicom.index_params import IndexParams
from lss.manifest import read_manifest, write_manifest


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    write_sagittal_series(root / "a", n_slices=5, series_uid="1.4.1", te_ms=90.0, tr_ms=4000.0)
    write_sagittal_series(root / "b", n_slices=5, series_uid="1.4.2", te_ms=90.0, tr_ms=4000.0)
    return root


def index(root: Path, cache: Path) -> Path:
    return indexed_manifest(root, cache, None, IndexParams(), progress=False)


def test_a_file_rewritten_with_its_modification_time_restored_is_re_indexed(repository: Path, tmp_path: Path) -> None:
    """rsync -t, tar and cp -p restore mtimes: same size, same mtime, other content must not reuse the manifest."""
    first = read_manifest(index(repository, tmp_path / "cache"))
    changed = sorted((repository / "a").iterdir())[0]
    stat = changed.stat()
    dataset = pydicom.dcmread(changed)
    dataset.EchoTime = "11.0"  # "90.0" -> "11.0": the same number of bytes
    dataset.save_as(changed)
    os.utime(changed, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert (changed.stat().st_size, changed.stat().st_mtime_ns) == (stat.st_size, stat.st_mtime_ns)
    again = read_manifest(index(repository, tmp_path / "cache"))
    relative = changed.relative_to(repository).as_posix()
    assert first.set_index("path").loc[relative, "te_ms"] == 90.0
    assert again.set_index("path").loc[relative, "te_ms"] == 11.0


def test_touching_or_copying_the_repository_keeps_the_manifest(repository: Path, tmp_path: Path) -> None:
    first = index(repository, tmp_path / "cache")
    for path in repository.rglob("*"):
        path.touch()
    assert index(repository, tmp_path / "cache") == first


def test_a_cached_manifest_edited_after_it_was_written_is_rebuilt_with_one_warning(
    repository: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 21: a cached manifest with one series removed trained a FINISHED run on the rest."""
    path = index(repository, tmp_path / "cache")
    manifest = read_manifest(path)
    write_manifest(manifest[manifest["series_uid"] != "1.4.2"], path)
    with caplog.at_level(logging.WARNING, logger="lss.files"):
        rebuilt = read_manifest(index(repository, tmp_path / "cache"))
    assert len(rebuilt) == len(manifest) == 10
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 1 and "manifest.csv has" in warnings[0] and "rebuilding it" in warnings[0]


def test_an_index_that_fails_half_written_leaves_no_partial_folder(
    repository: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lss.dicom import index as index_module

    def write_then_fail(manifest: object, path: Path) -> None:
        path.write_text("path,patient_key\n")  # half a manifest on disk, as a full disk leaves it
        raise OSError("no space left on device")

    monkeypatch.setattr(index_module, "write_manifest", write_then_fail)
    with pytest.raises(OSError, match="no space left"):
        index(repository, tmp_path / "cache")
    assert not list((tmp_path / "cache").glob("*partial*")) and not list((tmp_path / "cache").glob("*/manifest.csv"))
