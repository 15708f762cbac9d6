"""The labelled slices of one modality: what a training run learns from, or a clear refusal."""

from __future__ import annotations

import pandas as pd

from lss.dicom.labels import SOURCE_RULE
from lss.errors import UserError
from lss.manifest import CLASS_NAMES

LABEL_TO_INDEX = {name: index for index, name in enumerate(CLASS_NAMES)}


class TrainingDataError(UserError, ValueError):
    """The data cannot support the requested training run; raised before any training starts."""


def labelled_slices(manifest: pd.DataFrame, modality: str, centre_rule: bool = True) -> pd.DataFrame:
    """Slices of ``modality`` with a Mid/Lateral label, in a stable order (series, slice index), with ``target``;
    without ``centre_rule``, only those a labels CSV labelled (``data.unlabelled=drop``)."""
    labelled = manifest["label"].isin(CLASS_NAMES) & (centre_rule | (manifest["label_source"] != SOURCE_RULE))
    rows = manifest[(manifest["modality"] == modality) & labelled]
    if rows.empty:
        found = manifest.groupby(["modality", "label"]).size().to_dict() if not manifest.empty else {}
        raise TrainingDataError(
            f"no labelled {modality} slices in the manifest (found modality x label counts: {found}); "
            f"index with --labels, or check that the repository holds sagittal {modality} series."
        )
    rows = rows.sort_values(["series_uid", "slice_index", "frame"], kind="stable").reset_index(drop=True)
    rows["target"] = rows["label"].map(LABEL_TO_INDEX).astype("int64")
    return rows
