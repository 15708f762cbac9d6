"""Per-seed splits: the seed decides them, patient grouping never leaks, T1 and T2 share a partition."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lss.data.slices import labelled_slices
from lss.data.splits import split_slices
from lss.manifest import read_manifest


def patients(slices, rows) -> set[str]:
    return set(slices["patient_key"].iloc[rows])


def test_patient_split_keeps_every_patient_in_one_split_and_t1_t2_share_it(phantom_manifest: Path) -> None:
    manifest = read_manifest(phantom_manifest)
    t1, t2 = labelled_slices(manifest, "T1"), labelled_slices(manifest, "T2")
    for seed in (0, 1, 7):
        split1 = split_slices(t1, manifest["patient_key"], seed, "patient")
        split2 = split_slices(t2, manifest["patient_key"], seed, "patient")
        for split, slices in ((split1, t1), (split2, t2)):
            train, val, test = (patients(slices, rows) for rows in (split.train, split.val, split.test))
            assert not (train & test) and not (train & val) and not (val & test)
            assert len(split.train) + len(split.val) + len(split.test) == len(slices)
        assert split1.partition_id == split2.partition_id
        assert patients(t1, split1.test) == patients(t2, split2.test)


def test_the_seed_alone_decides_the_split_and_seed_zero_is_a_seed(phantom_manifest: Path) -> None:
    manifest = read_manifest(phantom_manifest)
    t2 = labelled_slices(manifest, "T2")
    for split_by in ("image", "patient"):
        zero, again, one = (split_slices(t2, manifest["patient_key"], seed, split_by) for seed in (0, 0, 1))
        assert np.array_equal(zero.test, again.test) and zero.partition_id == again.partition_id
        assert not np.array_equal(zero.test, one.test) and zero.partition_id != one.partition_id


def test_image_split_is_the_papers_80_20_then_train_val(phantom_manifest: Path) -> None:
    manifest = read_manifest(phantom_manifest)
    t1 = labelled_slices(manifest, "T1")
    split = split_slices(t1, manifest["patient_key"], 3, "image", test_fraction=0.2, val_fraction=0.1)
    assert len(split.test) == round(0.2 * len(t1))
    assert len(split.val) == round(0.1 * (len(t1) - len(split.test)))
    assert len(set(split.train) | set(split.val) | set(split.test)) == len(t1)
