"""The labelled slices of one modality: what a training run learns from, or a clear refusal."""

from __future__ import annotations

import pandas as pd

from lss.errors import UserError
from lss.manifest import CLASS_NAMES

LABEL_TO_INDEX = {name: index for index, name in enumerate(CLASS_NAMES)}


class TrainingDataError(UserError, ValueError):
    """The data cannot support the requested training run; raised before any training starts."""


def labelled_slices(manifest: pd.DataFrame, modality: str) -> pd.DataFrame:
    """Slices of ``modality`` with a Mid/Lateral label, in a stable order (series, slice index), with ``target``."""
    rows = manifest[(manifest["modality"] == modality) & manifest["label"].isin(CLASS_NAMES)]
    if rows.empty:
        found = manifest.groupby(["modality", "label"]).size().to_dict() if not manifest.empty else {}
        raise TrainingDataError(
            f"no labelled {modality} slices in the manifest (found modality x label counts: {found}); "
            f"index with --labels, or check that the repository holds sagittal {modality} series."
        )
    rows = rows.sort_values(["series_uid", "slice_index", "frame"], kind="stable").reset_index(drop=True)
    rows["target"] = rows["label"].map(LABEL_TO_INDEX).astype("int64")
    return rows
