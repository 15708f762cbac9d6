"""What a run reports about its test slices beyond the paper's four metrics.

- The band rule and the centre rule (the baseline a user tries first) on the same test slices:
  ``test/<metric>_band`` and ``test/<metric>_centre``.
- Series-level metrics, when whole series are tested (``data.split_by=patient``): ``test/mid_hit``
  (share of series whose chosen mid slice is the true mid-sagittal slice), ``test/mid_hit_1`` (within one
  slice of it), ``test/mid_error_mm`` (mean distance between them) and ``test/mid_plane_error_mm`` (the
  sub-slice plane against the true mid slice), for the band rule and for the centre rule (``_centre``); with
  several data sources, each again per source (``test/mid_hit/<source>``).
- The confusion matrix of the per-slice decisions.
- How well p_mid is calibrated: ``test/ece`` (uncalibrated), ``test/ece_calibrated`` (with the temperature
  fitted on the validation part) and their reliability diagram.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from lss.decide.calibration import expected_calibration_error, plot_reliability, reliability_table
from lss.decide.confusion import confusion_table, plot_confusion
from lss.decide.metrics import metrics_of_labels
from lss.decide.mid_rule import MidRule, choose_mid, chosen_mid_index, chosen_mid_plane_mm, is_mid
from lss.manifest import MID, SOURCE

TESTED_COLUMNS = [
    "sop_uid",
    "series_uid",
    "slice_index",
    "n_slices",
    "slice_location_mm",
    "is_mid_sagittal",
    "label",
    SOURCE,
]
"""Slice identity, position, truth and source (lss/data/sources.py) of test_predictions.csv, before the p_mid."""
RULE_SUFFIX: dict[MidRule, str] = {"independent": "", "band": "_band", "centre": "_centre"}


@dataclass(frozen=True)
class TestedSlices:
    """What a selector said about every test slice, ordered by row (rows index the sample table)."""

    rows: np.ndarray
    p_mid_uncalibrated: np.ndarray
    p_mid: np.ndarray
    """Calibrated (temperature fitted on the validation part)."""


def tested_slices(slices: pd.DataFrame, rows: np.ndarray, p_mid: np.ndarray) -> pd.DataFrame:
    """Per-slice test predictions; slice identifiers only, never a patient identifier."""
    return slices.iloc[rows][TESTED_COLUMNS].reset_index(drop=True).assign(p_mid=p_mid)


def rule_metrics(predictions: pd.DataFrame, rule: MidRule, band_size: int) -> dict[str, float]:
    """The paper's four metrics (Eqs 1-7) of one Mid rule on the test slices: ``test/<metric><suffix>``."""
    decided = choose_mid(predictions, rule, band_size).to_numpy().astype(np.int64)
    target = (predictions["label"] == MID).to_numpy().astype(np.int64)
    return metrics_of_labels(torch.from_numpy(decided), torch.from_numpy(target), "test/", RULE_SUFFIX[rule])


def series_metrics(predictions: pd.DataFrame, rule: MidRule, band_size: int) -> dict[str, float]:
    """``test/mid_hit`` (the chosen mid slice is the true one), ``test/mid_hit_1`` (within one slice of it),
    ``test/mid_error_mm`` (mean distance between them) and ``test/mid_plane_error_mm`` (mean distance between the
    rule's sub-slice plane, ``chosen_mid_plane_mm``, and the true mid slice) of a series rule over the whole test
    series with a true mid slice.

    A series some of whose slices are not tested (T1T2 drops T2 slices without a T1 partner) is left out.
    """
    slices_off, errors_mm, plane_errors_mm = [], [], []
    for _, series in predictions.groupby("series_uid", sort=False):
        truth = series[series["is_mid_sagittal"].astype(bool)]
        if truth.empty or len(series) != int(series["n_slices"].iloc[0]):
            continue
        chosen = series[series["slice_index"] == chosen_mid_index(series, rule, band_size)]
        true_mm = float(truth["slice_location_mm"].iloc[0])
        slices_off.append(abs(int(chosen["slice_index"].iloc[0]) - int(truth["slice_index"].iloc[0])))
        errors_mm.append(abs(float(chosen["slice_location_mm"].iloc[0]) - true_mm))
        plane_errors_mm.append(abs(chosen_mid_plane_mm(series, rule, band_size) - true_mm))
    suffix = "_centre" if rule == "centre" else ""
    if not slices_off:
        return {}
    off = np.asarray(slices_off)
    return {
        f"test/mid_hit{suffix}": float(np.mean(off == 0)),
        f"test/mid_hit_1{suffix}": float(np.mean(off <= 1)),
        f"test/mid_error_mm{suffix}": float(np.mean(errors_mm)),
        f"test/mid_plane_error_mm{suffix}": float(np.mean(plane_errors_mm)),
    }


def rule_and_series_metrics(predictions: pd.DataFrame, band_size: int, whole_series: bool) -> dict[str, float]:
    """Everything beyond the paper's four: the centre rule always; the band rule and series metrics on whole series."""
    metrics = rule_metrics(predictions, "centre", band_size)
    if whole_series:
        metrics |= rule_metrics(predictions, "band", band_size)
        metrics |= series_metrics(predictions, "band", band_size) | series_metrics(predictions, "centre", band_size)
        metrics |= per_source_series_metrics(predictions, band_size)
    return metrics


def per_source_series_metrics(predictions: pd.DataFrame, band_size: int) -> dict[str, float]:
    """``test/mid_hit/<source>`` etc. (band and centre rule) when the test series come from several data.root
    sources: how the selector does on each, e.g. a user's own series next to a public set's."""
    if SOURCE not in predictions or predictions[SOURCE].nunique() < 2:
        return {}
    metrics: dict[str, float] = {}
    for source, rows in predictions.groupby(SOURCE, sort=True):
        for rule in ("band", "centre"):
            metrics |= {f"{name}/{source}": value for name, value in series_metrics(rows, rule, band_size).items()}
    return metrics


def write_confusion(predictions: pd.DataFrame, title: str, folder: Path) -> None:
    """confusion_matrix.csv and .png of the per-slice decisions (the one Mid rule, ``is_mid``)."""
    table = confusion_table((predictions["label"] == MID).astype(int), is_mid(predictions["p_mid"]).astype(int))
    table.to_csv(folder / "confusion_matrix.csv")
    plot_confusion(table, title, folder / "confusion_matrix.png")


def calibration_metrics(tested: TestedSlices, is_mid_truth: np.ndarray, temperature: float) -> dict[str, float]:
    """``test/ece`` before and ``test/ece_calibrated`` after calibration, and ``calibration/temperature``."""
    return {
        "test/ece": expected_calibration_error(tested.p_mid_uncalibrated, is_mid_truth),
        "test/ece_calibrated": expected_calibration_error(tested.p_mid, is_mid_truth),
        "calibration/temperature": float(temperature),
    }


def write_reliability_diagram(
    tested: TestedSlices, is_mid_truth: np.ndarray, temperature: float, title: str, folder: Path
) -> None:
    """reliability_diagram.png of the test slices, before and after calibration."""
    tables = {
        "uncalibrated": reliability_table(tested.p_mid_uncalibrated, is_mid_truth),
        f"temperature {temperature:.3g} (fitted on validation)": reliability_table(tested.p_mid, is_mid_truth),
    }
    plot_reliability(tables, title, folder / "reliability_diagram.png")
