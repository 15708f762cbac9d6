"""How well a selection agrees with reference labels (the phantom's labels.csv, or an annotator's)."""

from __future__ import annotations

from pathlib import Path

import torch

from lss.decide.metrics import metrics_of_labels
from lss.dicom.labels import SOURCE_LABELS, label_slices, read_labels_csv
from lss.errors import UserError
from lss.manifest import MID
from lss.selection.select import SelectionResult


def selection_accuracy(result: SelectionResult, labels_csv: Path, band_size: int) -> dict[str, float]:
    """Paper metrics (Eqs 1-7) over the slices the labels file covers, and the share of series whose
    reference mid-sagittal slice was among the chosen ones (what a downstream stenosis model needs).

    ``band_size`` only matters for a per-series labels file (the Mid band around its mid slice).
    """
    predictions = result.predictions
    reference = label_slices(
        predictions[["series_uid", "slice_index", "sop_uid"]], read_labels_csv(Path(labels_csv)), band_size
    )
    covered = reference["label_source"] == SOURCE_LABELS
    if not covered.any():
        raise UserError(
            f"{labels_csv} labels none of the {len(predictions)} scored slices; is it the labels file of this input?"
        )
    chosen = torch.from_numpy((predictions.loc[covered, "label"] == MID).to_numpy().astype("int64"))
    truth = torch.from_numpy((reference.loc[covered, "label"] == MID).to_numpy().astype("int64"))
    metrics = metrics_of_labels(chosen, truth, prefix="")
    mid_sagittal = reference["is_mid_sagittal"] & covered
    metrics["mid_sagittal_chosen"] = (
        float((predictions.loc[mid_sagittal, "label"] == MID).mean()) if mid_sagittal.any() else float("nan")
    )
    metrics["n_slices"] = int(covered.sum())
    metrics["n_series"] = int(predictions.loc[covered, "series_uid"].nunique())
    return metrics
