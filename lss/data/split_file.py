"""split.json: a run's partition on disk, so that anyone can see which patients and series it was tested on.

Written from the drawn ``Split`` and the sample rows it indexes (not by drawing again): the seed, the split
scheme and fractions, the partition id, and per part the patient keys (keyed hashes, never a patient ID), the
public split keys the partition is drawn from (lss/data/splits.py) and series UIDs, sorted. predict.py reads it
back to tell, on its review page, which part a series was in.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from lss.data.splits import SPLIT_KEY, SPLIT_SCHEME, Split

PARTS = ("train", "val", "test")


def split_record(
    split: Split, samples: pd.DataFrame, seed: int, split_by: str, test_fraction: float, val_fraction: float
) -> dict[str, Any]:
    """What split.json holds; ``samples`` are the rows ``split``'s positions index (the DataModule's slices)."""
    record: dict[str, Any] = {
        "seed": int(seed),
        "split_scheme": SPLIT_SCHEME,
        "split_by": split_by,
        "test_fraction": float(test_fraction),
        "val_fraction": float(val_fraction),
        "partition_id": split.partition_id,
    }
    for part in PARTS:
        rows = samples.iloc[getattr(split, part)]
        record[part] = {
            "patient_keys": sorted(set(rows["patient_key"].astype(str))),
            "split_keys": sorted(set(rows[SPLIT_KEY].astype(str))),
            "series_uids": sorted(set(rows["series_uid"].astype(str))),
            "n_slices": len(rows),
        }
    return record


def write_split(path: Path, record: dict[str, Any]) -> Path:
    path.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    return path


def part_of_series(path: Path) -> dict[str, str]:
    """Series UID -> the part(s) of the run it was in (``train``, ``val``, ``test``; ``train+test`` when a
    split by image put its slices in both)."""
    record = json.loads(path.read_text(encoding="utf-8"))
    parts: dict[str, list[str]] = {}
    for part in PARTS:
        for series_uid in record[part]["series_uids"]:
            parts.setdefault(series_uid, []).append(part)
    return {series_uid: "+".join(names) for series_uid, names in parts.items()}
