"""Per-seed splits: the seed decides them, patient grouping never leaks, T1 and T2 share a partition, and the
order comes from public keys, so another machine (another patient-key secret) draws the same split."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers.dicom_factory import mr_dataset, write
from lss.data.slices import labelled_slices
from lss.data.splits import SPLIT_KEY, split_keys, split_slices, with_split_keys
from lss.dicom.index import index_repository
from lss.manifest import read_manifest


def patients(slices, rows) -> set[str]:
    return set(slices["patient_key"].iloc[rows])


def keyed(phantom_manifest: Path) -> pd.DataFrame:
    return with_split_keys(read_manifest(phantom_manifest))


def test_patient_split_keeps_every_patient_in_one_split_and_t1_t2_share_it(phantom_manifest: Path) -> None:
    manifest = keyed(phantom_manifest)
    t1, t2 = labelled_slices(manifest, "T1"), labelled_slices(manifest, "T2")
    for seed in (0, 1, 7):
        split1 = split_slices(t1, manifest[SPLIT_KEY], seed, "patient")
        split2 = split_slices(t2, manifest[SPLIT_KEY], seed, "patient")
        for split, slices in ((split1, t1), (split2, t2)):
            train, val, test = (patients(slices, rows) for rows in (split.train, split.val, split.test))
            assert not (train & test) and not (train & val) and not (val & test)
            assert len(split.train) + len(split.val) + len(split.test) == len(slices)
        assert split1.partition_id == split2.partition_id
        assert patients(t1, split1.test) == patients(t2, split2.test)


def test_the_seed_alone_decides_the_split_and_seed_zero_is_a_seed(phantom_manifest: Path) -> None:
    manifest = keyed(phantom_manifest)
    t2 = labelled_slices(manifest, "T2")
    for split_by in ("image", "patient"):
        zero, again, one = (split_slices(t2, manifest[SPLIT_KEY], seed, split_by) for seed in (0, 0, 1))
        assert np.array_equal(zero.test, again.test) and zero.partition_id == again.partition_id
        assert not np.array_equal(zero.test, one.test) and zero.partition_id != one.partition_id


def test_image_split_is_the_papers_80_20_then_train_val(phantom_manifest: Path) -> None:
    manifest = keyed(phantom_manifest)
    t1 = labelled_slices(manifest, "T1")
    split = split_slices(t1, manifest[SPLIT_KEY], 3, "image", test_fraction=0.2, val_fraction=0.1)
    assert len(split.test) == round(0.2 * len(t1))
    assert len(split.val) == round(0.1 * (len(t1) - len(split.test)))
    assert len(set(split.train) | set(split.val) | set(split.test)) == len(t1)


def test_the_split_key_is_a_hash_of_the_patients_smallest_study_uid_and_no_secret(phantom_manifest: Path) -> None:
    manifest = keyed(phantom_manifest)
    for _, rows in manifest.groupby("patient_key"):
        smallest = min(rows["study_uid"])
        assert set(rows[SPLIT_KEY]) == {hashlib.sha256(smallest.encode()).hexdigest()[:16]}
    rekeyed = manifest.assign(patient_key=manifest["patient_key"].map(lambda key: f"other-secret-{key[::-1]}"))
    assert split_keys(rekeyed).tolist() == manifest[SPLIT_KEY].tolist()  # another site's patient_key: the same keys


def test_another_secret_renamed_files_and_another_patient_leave_the_split_keys_and_the_partition_as_they_were(
    phantom_dir: Path, phantom_manifest: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Re-indexed under another site's secret with every file renamed and moved, then with a patient added: the
    patients that were there keep their keys, and a seed splits them into the same partition."""
    moved = tmp_path / "moved"
    images = sorted(path for path in phantom_dir.rglob("*") if path.is_file() and path.parent != phantom_dir)
    for index, path in enumerate(images):
        (moved / f"folder{index % 3}").mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, moved / f"folder{index % 3}" / f"renamed-{index}.dcm")
    monkeypatch.setenv("LSS_PATIENT_KEY", "another-site")
    labels = phantom_dir / "labels.csv"
    here, there = (
        keyed(phantom_manifest),
        with_split_keys(index_repository(moved, labels_csv=labels, progress=False).manifest),
    )
    assert set(here["patient_key"]).isdisjoint(there["patient_key"])  # another secret: other patient keys
    by_study = here.groupby("study_uid")[SPLIT_KEY].first().to_dict()
    assert there.groupby("study_uid")[SPLIT_KEY].first().to_dict() == by_study
    for seed in (0, 5):
        split_here = split_slices(labelled_slices(here, "T2"), here[SPLIT_KEY], seed, "patient")
        split_there = split_slices(labelled_slices(there, "T2"), there[SPLIT_KEY], seed, "patient")
        assert split_here.partition_id == split_there.partition_id
    write(mr_dataset(series_uid="1.2.3.99", patient_id="NEW", study_uid="1.2.3.98"), moved / "new" / "a.dcm")
    grown = with_split_keys(index_repository(moved, labels_csv=labels, progress=False).manifest)
    assert grown["study_uid"].nunique() == len(by_study) + 1
    grown_keys = grown.groupby("study_uid")[SPLIT_KEY].first().to_dict()
    assert {study: grown_keys[study] for study in by_study} == by_study


def test_a_slice_without_patient_id_is_its_own_patient_per_study_and_without_study_uid_per_series() -> None:
    manifest = pd.DataFrame(
        {
            "patient_key": ["", "", "", "", "abc", "abc"],
            "study_uid": ["1.5", "1.5", "1.6", "", "1.9", "1.8"],
            "series_uid": ["1.5.1", "1.5.2", "1.6.1", "1.7.1", "1.9.1", "1.8.1"],
        }
    )
    keys = split_keys(manifest)
    sha = {uid: hashlib.sha256(uid.encode()).hexdigest()[:16] for uid in ("1.5", "1.6", "1.7.1", "1.8")}
    assert keys.tolist() == [sha["1.5"], sha["1.5"], sha["1.6"], sha["1.7.1"], sha["1.8"], sha["1.8"]]
