"""T1 / T2 / STIR weighting of a sagittal series from its acquisition parameters (paper Table 1), or from a CSV.

Inversion recovery with a short inversion time (STIR, Siemens TIRM) nulls fat and has a long TE
and TR, so TE/TR alone would file it as T2; it is recognised first (ScanningSequence IR with
InversionTime up to STIR_MAX_TI_MS, or a description naming STIR/TIRM) and kept apart as STIR,
unless ``index.stir_as`` maps it. Otherwise echo time decides first, repetition time confirms,
SeriesDescription breaks ties, and disagreement gives "unknown". Echo train length is never used
and TR never decides alone: 3D T1 sequences report ETL 160-256 and some MP-RAGE report TR > 2000 ms
with TE ~3 ms. Spectral fat suppression (ScanOptions FS, "fs"/"fat sat"/SPIR/SPAIR in the
description) leaves the weighting as it is and is recorded in the manifest (``fat_suppressed``).
A weighting CSV (series_instance_uid, modality), such as ``lss-labels rsna2024`` writes from the
dataset's series descriptions, overrides all of that: a "Sagittal T2/STIR" series is T2 whatever its headers.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from lss.errors import UserError
from lss.manifest import STIR, T1, T2, UNKNOWN, WEIGHTINGS

if TYPE_CHECKING:
    import pandas as pd

FROM_HEADERS, FROM_FILE_NAME, FROM_WEIGHTING_CSV = "headers", "file_name", "weighting_csv"
"""Where a series' weighting came from (manifest column modality_source): DICOM TE/TR/SeriesDescription,
a volume's file name (lss/dicom/volumes.py), or the weighting CSV."""
WEIGHTING_CSV_COLUMNS = ("series_instance_uid", "modality")

SHORT_TE_MAX_MS = 30.0
"""Table 1 T1 TE is 9.2-12 ms; spin-echo T1 stays below ~30 ms, gradient-echo T1 at 2-5 ms."""
LONG_TE_MIN_MS = 60.0
"""Table 1 T2 TE is 67-96 ms; between 30 and 60 ms (e.g. proton density) TE is no evidence."""
SHORT_TR_MAX_MS = 1000.0
"""Table 1 T1 TR is 330-926 ms."""
LONG_TR_MIN_MS = 2000.0
"""Table 1 T2 TR is 3190-4000 ms."""

STIR_MAX_TI_MS = 300.0
"""STIR nulls fat at TI = ln 2 x T1(fat): about 150 ms at 1.5 T and 200-250 ms at 3 T. T1-weighted IR
(T1-FLAIR) uses TI 700-1000 ms and FLAIR about 2000 ms or more, so 300 ms separates them."""

_STIR_DESCRIPTION = re.compile(r"(?<![a-z])(stir|tirm|ir.?fse)(?![a-z])|short.?tau", re.IGNORECASE)
_FAT_SUPPRESSED_DESCRIPTION = re.compile(r"(?<![a-z])(fs|spa?ir)(?![a-z])|fat.?(sat|supp)", re.IGNORECASE)
_T1_DESCRIPTION = re.compile(r"(?<![a-z0-9])t1(?![0-9])|mp-?_?rage|\bspgr\b|\bvibe\b", re.IGNORECASE)
_T2_DESCRIPTION = re.compile(r"(?<![a-z0-9])t2(?![0-9])", re.IGNORECASE)


def _vote(value_ms: float | None, short_max: float, long_min: float) -> str | None:
    if value_ms is None or not math.isfinite(value_ms) or value_ms <= 0:
        return None
    if value_ms <= short_max:
        return T1
    if value_ms >= long_min:
        return T2
    return None


def description_vote(series_description: str | None) -> str | None:
    """T1 or T2 when SeriesDescription names exactly one of them (e.g. "t2_tse_sag"), else None."""
    text = series_description or ""
    says_t1, says_t2 = bool(_T1_DESCRIPTION.search(text)), bool(_T2_DESCRIPTION.search(text))
    if says_t1 == says_t2:
        return None
    return T1 if says_t1 else T2


def _codes(value: str | None) -> set[str]:
    """A multi-valued CS element (e.g. ScanningSequence "SE\\IR") as its set of codes."""
    return {code.strip().upper() for code in (value or "").split("\\") if code.strip()}


def is_short_tau_inversion_recovery(
    ti_ms: float | None, scanning_sequence: str | None, series_description: str | None
) -> bool:
    """STIR / TIRM: inversion recovery with a short TI, or a description that names it while the headers, when
    they say anything, say inversion recovery ("T2/STIR" names two things and is no evidence)."""
    sequences = _codes(scanning_sequence)
    short_ti = ti_ms is not None and math.isfinite(ti_ms) and 0 < ti_ms <= STIR_MAX_TI_MS
    if short_ti and ("IR" in sequences or not sequences):
        return True
    text = series_description or ""
    if not _STIR_DESCRIPTION.search(text) or description_vote(text) is not None:
        return False
    return not sequences or "IR" in sequences


def is_fat_suppressed(scan_options: str | None, series_description: str | None) -> bool:
    """Spectral fat suppression (ScanOptions FS, or "fs", "fat sat", SPIR, SPAIR in the description)."""
    return "FS" in _codes(scan_options) or bool(_FAT_SUPPRESSED_DESCRIPTION.search(series_description or ""))


def weighting(
    te_ms: float | None,
    tr_ms: float | None,
    series_description: str | None = None,
    ti_ms: float | None = None,
    scanning_sequence: str | None = None,
) -> str:
    """STIR when it is short-TI inversion recovery, else T1, T2 or unknown: TE first, TR second, description
    as tie-breaker."""
    if is_short_tau_inversion_recovery(ti_ms, scanning_sequence, series_description):
        return STIR
    te_vote = _vote(te_ms, SHORT_TE_MAX_MS, LONG_TE_MIN_MS)
    tr_vote = _vote(tr_ms, SHORT_TR_MAX_MS, LONG_TR_MIN_MS)
    text_vote = description_vote(series_description)
    if te_vote is not None:
        if tr_vote in (None, te_vote):
            return te_vote
        return te_vote if text_vote == te_vote else UNKNOWN
    # TE silent: neither TR nor the description may decide alone, but they may together.
    if text_vote is not None and tr_vote in (None, text_vote):
        return text_vote
    return UNKNOWN


@dataclass(frozen=True)
class WeightingTable:
    """A weighting CSV: SeriesInstanceUID -> T1 | T2 | STIR."""

    modality_by_series: dict[str, str]
    source_path: str


def read_weighting_csv(path: Path) -> WeightingTable:
    """Read the CSV, refusing missing columns, unknown weightings and contradicting rows (naming the row)."""
    import pandas as pd  # here, not at the top: weighting() runs in the index workers, which need no pandas

    if not Path(path).is_file():
        raise UserError(f"weighting CSV {path} does not exist; give a CSV with columns series_instance_uid,modality")
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [column for column in WEIGHTING_CSV_COLUMNS if column not in table.columns]
    if missing:
        raise UserError(
            f"weighting CSV {path} lacks column(s) {missing}; expected {', '.join(WEIGHTING_CSV_COLUMNS)} "
            f"(found {list(table.columns)})"
        )
    series = table["series_instance_uid"].str.strip()
    modality = table["modality"].str.strip().str.upper()
    bad = ~modality.isin(WEIGHTINGS)
    if bad.any():
        row = int(bad.to_numpy().nonzero()[0][0])
        raise UserError(
            f"weighting CSV {path}: row {row + 2} has modality {table['modality'].iloc[row]!r}; "
            f"expected one of {', '.join(WEIGHTINGS)}"
        )
    pairs = pd.DataFrame({"series": series, "modality": modality}).drop_duplicates()
    contradicted = pairs["series"].duplicated()
    if contradicted.any():
        uid = pairs.loc[contradicted, "series"].iloc[0]
        raise UserError(f"weighting CSV {path}: series {uid} is listed with two weightings; keep one row per series")
    return WeightingTable(dict(zip(pairs["series"], pairs["modality"])), str(path))


def apply_weighting_table(manifest: pd.DataFrame, table: WeightingTable) -> pd.DataFrame:
    """The CSV's weighting for each listed series (by series_uid, or the SeriesInstanceUID a split part came from)."""
    weighted = manifest.copy()
    given = weighted["series_uid"].map(table.modality_by_series)
    given = given.fillna(weighted["source_series_uid"].map(table.modality_by_series))
    listed = given.notna()
    weighted.loc[listed, "modality"] = given[listed]
    weighted.loc[listed, "modality_source"] = FROM_WEIGHTING_CSV
    return weighted


def unindexed_series(manifest: pd.DataFrame, table: WeightingTable) -> list[str]:
    """Series of the CSV that match no indexed series (sorted): a wrong file, or series the indexer skipped."""
    indexed = set(manifest["series_uid"]) | set(manifest["source_series_uid"])
    return sorted(set(table.modality_by_series) - indexed)


def map_stir(manifest: pd.DataFrame, stir_as: str | None) -> pd.DataFrame:
    """``index.stir_as=T2`` (or T1): file STIR series under that weighting, as the user chose; None keeps STIR."""
    if stir_as is None:
        return manifest
    return manifest.assign(modality=manifest["modality"].replace(STIR, stir_as))
