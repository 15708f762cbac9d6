"""The manifest: one row per sagittal slice, written by ``lss/dicom``, read by data, selection and analysis.

The one owner of its columns and dtypes, of the class names and modalities, and of the size of
the paper's Mid band. Everything else imports these names instead of spelling them again.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

MID, LATERAL = "Mid", "Lateral"
CLASS_NAMES = (LATERAL, MID)
"""Class index 1 is Mid, the positive class of p_mid."""
T1, T2, UNKNOWN = "T1", "T2", "unknown"
MODALITIES = (T1, T2)
"""The two weightings the paper compares; differences are reported as T2 - T1."""
STIR = "STIR"
"""Short-TI inversion recovery (STIR, TIRM): fat-suppressed, T2-like contrast, not the paper's T2 class."""
WEIGHTINGS = (T1, T2, STIR)
"""What the indexer files a sagittal series as (besides unknown), and what a weighting CSV may say."""
BAND_SIZE = 5
"""Slices in the Mid band: the mid-sagittal slice and its four nearest neighbours (paper §3, Figs 1-2)."""


def centre_index(n_slices: int) -> int:
    """The slice at the centre of a stack of ``n_slices`` (the lower one of two): what the centre rule calls mid."""
    return (n_slices - 1) // 2


def mid_band(mid_index: int, n_slices: int, band_size: int = BAND_SIZE) -> range:
    """Slice indices of the Mid band centred on ``mid_index`` ((band_size - 1) // 2 before), kept inside the series."""
    size = min(band_size, n_slices)
    start = min(max(mid_index - (band_size - 1) // 2, 0), n_slices - size)
    return range(start, start + size)


SERIES_COLUMNS: dict[str, str] = {
    "path": "string",
    "patient_key": "string",
    "study_uid": "string",
    "series_uid": "string",
    "sop_uid": "string",
    "frame": "int64",
    "modality": "string",
    "modality_source": "string",
    "fat_suppressed": "bool",
    "plane": "string",
    "slice_location_mm": "float64",
    "stored_slice_location_mm": "float64",
    "slice_index": "int64",
    "n_slices": "int64",
    "tr_ms": "float64",
    "te_ms": "float64",
    "source_series_uid": "string",
    "series_split": "string",
}
"""Column -> dtype of what series assembly gives per slice. ``path`` is relative to the indexed root;
``slice_location_mm`` is n·p; ``modality_source`` says where the weighting came from (headers | file_name |
weighting_csv, lss/dicom/weighting.py); ``fat_suppressed`` is true for STIR and spectral fat suppression;
``source_series_uid`` / ``series_split`` are set when a series was split (multi-echo, magnitude + phase) into
parts with series_uid ``<uid>.echo<N>`` etc."""
LABEL_COLUMNS: dict[str, str] = {"label": "string", "label_source": "string", "is_mid_sagittal": "bool"}
"""What labelling adds: Mid | Lateral | "" (unlabelled), where the label came from, the slice the band centres on."""
COLUMNS: dict[str, str] = SERIES_COLUMNS | LABEL_COLUMNS
"""The manifest, in this column order."""
PREDICTION_COLUMNS: dict[str, str] = {
    **{
        name: COLUMNS[name]
        for name in (
            "path",
            "series_uid",
            "sop_uid",
            "frame",
            "slice_index",
            "n_slices",
            "slice_location_mm",
            "modality",
        )
    },
    "p_mid": "float64",
    "label": "string",
}
"""predictions.csv of predict.py: the manifest's slice identity, the model's p_mid and the chosen label."""
SOURCE = "source"
"""The column naming the data.root a slice came from (lss/data/sources.py), added when a run stacks its sources."""
SKIPPED_COLUMNS = ["path", "reason", "detail"]
"""skipped.csv: a path relative to the root, a reason code (lss/dicom/skips.py), free-text detail."""


def read_manifest(path: Path) -> pd.DataFrame:
    """A manifest.csv with its dtypes; empty strings stay empty strings, empty numbers become NaN."""
    import pandas as pd  # not at import: the constants above are read by code that must start fast (lss-index --help)

    numeric = [name for name, dtype in COLUMNS.items() if dtype == "float64"]
    strings = {name: dtype for name, dtype in COLUMNS.items() if dtype == "string"} | {SOURCE: "string"}
    return pd.read_csv(path, dtype=strings, keep_default_na=False, na_values={name: [""] for name in numeric})


def write_manifest(manifest: pd.DataFrame, path: Path) -> None:
    manifest[list(COLUMNS)].to_csv(path, index=False)
