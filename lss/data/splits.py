"""Per-seed train / val / test splits (paper §4: 80:20 train/test, then train -> train/val).

The split is a function of the run's seed and of public, secret-free keys of the data alone, so the
same seed gives the same split on every machine (not only on the one that drew it), and the 20 repeats
see 20 different partitions. Items are ranked by SHA-256 of (seed, key), which no library version can
change; the first ``test_fraction`` of the ranking is the test part, the next ``val_fraction`` of the
rest the validation part.

``split_by="patient"`` keeps every patient in one part and ranks the patients of the *whole* manifest
by their ``split_key``, so T1 and T2 runs of one seed share the partition and can be paired in the
analysis. ``patient_key`` (an HMAC under a per-site secret) stays the patient's name in every output;
it cannot order a split, since another site's secret orders it differently.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

SplitBy = Literal["image", "patient"]
SPLIT_SCHEME = 2
"""How splits are drawn, logged with every run (``split.scheme``): runs of different schemes test on unrelated
slices and are never compared. 1: patients in a numpy permutation of their patient_key (the HMAC: a different
split on every machine), runs that log no scheme. 2: items ranked by SHA-256 of (seed, split_key)."""
LEGACY_SPLIT_SCHEME = 1
SPLIT_KEY = "split_key"
"""The row column holding the public key a patient split ranks by (``split_keys``)."""
SPLIT_KEY_HEX_DIGITS = 16


@dataclass(frozen=True)
class Split:
    train: np.ndarray  # row positions into the labelled-slice table
    val: np.ndarray
    test: np.ndarray
    partition_id: str  # identifies the partition, on any machine; equal across modalities for split_by=patient

    def sizes(self) -> dict[str, int]:
        return {"n_train": len(self.train), "n_val": len(self.val), "n_test": len(self.test)}


def split_keys(manifest: pd.DataFrame) -> pd.Series:
    """Each row's ``split_key``: SHA-256 of the smallest StudyInstanceUID of its patient, over the whole manifest.

    A UID is written by the scanner into every file of a study, so the key survives re-indexing, renamed or moved
    files, a PACS instead of a folder, and series or patients added elsewhere; it needs no secret and holds no
    patient identifier. Rows without a PatientID (no ``patient_key``) cannot be linked to other studies: each study
    is a patient of its own. A row without a StudyInstanceUID stands in with its SeriesInstanceUID.
    """
    study = manifest["study_uid"].astype(str).where(manifest["study_uid"].astype(str) != "", manifest["series_uid"])
    patient = manifest["patient_key"].astype(str).where(manifest["patient_key"].astype(str) != "", "study:" + study)
    smallest_study = study.groupby(patient).transform("min")
    return smallest_study.map(lambda uid: hashlib.sha256(uid.encode()).hexdigest()[:SPLIT_KEY_HEX_DIGITS])


def with_split_keys(manifest: pd.DataFrame) -> pd.DataFrame:
    """The manifest with its ``split_key`` column: the rows drawn from it (and split.json) carry their key."""
    return manifest.assign(**{SPLIT_KEY: split_keys(manifest)})


def seeded_order(keys: np.ndarray, seed: int) -> np.ndarray:
    """Positions of ``keys`` ranked by SHA-256 of ``<seed>:<key>``: a seed's shuffle every machine draws alike."""
    ranks = [hashlib.sha256(f"{seed}:{key}".encode()).hexdigest() for key in keys]
    return np.argsort(np.array(ranks), kind="stable")


def _cut(n_items: int, test_fraction: float, val_fraction: float) -> tuple[int, int]:
    n_test = round(n_items * test_fraction)
    n_val = round((n_items - n_test) * val_fraction)
    return n_test, n_val


def _digest(test_keys: np.ndarray, val_keys: np.ndarray) -> str:
    return hashlib.sha256("|".join([*sorted(test_keys), "/", *sorted(val_keys)]).encode()).hexdigest()[:16]


def split_slices(
    slices: pd.DataFrame,
    all_split_keys: pd.Series,
    seed: int,
    split_by: SplitBy,
    test_fraction: float = 0.2,
    val_fraction: float = 0.1,
) -> Split:
    """Train / val / test row positions of ``slices`` for ``seed``.

    ``split_by="image"`` ranks the slices themselves (by SOP Instance UID and frame); ``"patient"`` ranks the
    ``all_split_keys`` of the whole manifest (``split_keys``), so a patient without slices of this modality still
    takes its place and both modalities draw the same patients. ``partition_id`` is a digest of the public keys
    of the test and validation parts: equal partitions have equal ids on any machine.
    """
    if split_by == "image":
        image_keys = (slices["sop_uid"].astype(str) + "/" + slices["frame"].astype(str)).to_numpy()
        order = seeded_order(image_keys, seed)
        n_test, n_val = _cut(len(order), test_fraction, val_fraction)
        test, val, train = order[:n_test], order[n_test : n_test + n_val], order[n_test + n_val :]
        digest = _digest(image_keys[test], image_keys[val])
        return Split(np.sort(train), np.sort(val), np.sort(test), f"image-{digest}")
    if split_by != "patient":
        raise ValueError(f"data.split_by must be 'image' or 'patient', got {split_by!r}")
    patients = np.array(sorted(set(all_split_keys.astype(str))))
    order = patients[seeded_order(patients, seed)]
    n_test, n_val = _cut(len(order), test_fraction, val_fraction)
    test_patients, val_patients = order[:n_test], order[n_test : n_test + n_val]
    keys = slices[SPLIT_KEY].astype(str).to_numpy()
    is_test, is_val = np.isin(keys, test_patients), np.isin(keys, val_patients)
    positions = np.arange(len(slices))
    digest = _digest(test_patients, val_patients)
    return Split(positions[~is_test & ~is_val], positions[is_val], positions[is_test], f"patient-{digest}")
