"""Per-seed train / val / test splits (paper §4: 80:20 train/test, then train -> train/val).

The split is a function of the run's seed alone, never of a constant, so the 20 repeats see 20
different partitions and the same seed always gives the same one. ``split_by="patient"`` keeps
every patient in one split and partitions the patients of the *whole* manifest, so T1 and T2
runs of one seed share the partition and can be paired in the analysis.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

SplitBy = Literal["image", "patient"]


@dataclass(frozen=True)
class Split:
    train: np.ndarray  # row positions into the labelled-slice table
    val: np.ndarray
    test: np.ndarray
    partition_id: str  # identifies the partition; equal across modalities for split_by=patient

    def sizes(self) -> dict[str, int]:
        return {"n_train": len(self.train), "n_val": len(self.val), "n_test": len(self.test)}


def _cut(n_items: int, test_fraction: float, val_fraction: float) -> tuple[int, int]:
    n_test = round(n_items * test_fraction)
    n_val = round((n_items - n_test) * val_fraction)
    return n_test, n_val


def split_slices(
    slices: pd.DataFrame,
    all_patient_keys: pd.Series,
    seed: int,
    split_by: SplitBy,
    test_fraction: float = 0.2,
    val_fraction: float = 0.1,
) -> Split:
    rng = np.random.default_rng(seed)
    if split_by == "image":
        order = rng.permutation(len(slices))
        n_test, n_val = _cut(len(order), test_fraction, val_fraction)
        test, val, train = order[:n_test], order[n_test : n_test + n_val], order[n_test + n_val :]
        digest = hashlib.sha256(np.sort(slices["sop_uid"].to_numpy()[test]).astype(str).tobytes()).hexdigest()
        return Split(np.sort(train), np.sort(val), np.sort(test), f"image-{digest[:16]}")
    if split_by != "patient":
        raise ValueError(f"data.split_by must be 'image' or 'patient', got {split_by!r}")
    patients = np.array(sorted(set(all_patient_keys.astype(str))))
    order = patients[rng.permutation(len(patients))]
    n_test, n_val = _cut(len(order), test_fraction, val_fraction)
    test_patients, val_patients = set(order[:n_test]), set(order[n_test : n_test + n_val])
    keys = slices["patient_key"].astype(str).to_numpy()
    is_test = np.isin(keys, list(test_patients))
    is_val = np.isin(keys, list(val_patients))
    positions = np.arange(len(slices))
    digest = hashlib.sha256("|".join([*sorted(test_patients), "/", *sorted(val_patients)]).encode()).hexdigest()
    return Split(positions[~is_test & ~is_val], positions[is_val], positions[is_test], f"patient-{digest[:16]}")
