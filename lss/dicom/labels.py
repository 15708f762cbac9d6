"""Mid / Lateral labels (paper §3): the Mid band is the mid-sagittal slice and its 4 nearest neighbours.

Per-slice labels win, then a per-series mid slice, then the rule that centres on the middle slice.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from lss.dicom.index_params import NORMAL_LUMBAR_IVD_WIDTH_MM
from lss.errors import UserError
from lss.manifest import BAND_SIZE, LATERAL, MID, centre_index, mid_band

SOURCE_LABELS, SOURCE_RULE = "labels", "rule"
UNLABELLED_ERROR, UNLABELLED_DROP, UNLABELLED_CENTRE_RULE = "error", "drop", "centre_rule"
UNLABELLED = (UNLABELLED_ERROR, UNLABELLED_DROP, UNLABELLED_CENTRE_RULE)
"""What training does with the series a labels CSV leaves out (``data.unlabelled``): refuse to train, train without
them (the review page's CSV labels only the series a reader reviewed), or label them by the centre rule."""

SLICE_LABEL_COLUMNS = ("sop_instance_uid", "label")
"""The per-slice labels CSV: what ``data.labels`` reads and the review page exports."""
_SERIES_COLUMNS = {"series_instance_uid", "mid_sop_instance_uid"}
FINDING_COLUMNS = ["finding", "series_uid", "sop_uid", "detail"]


@dataclass(frozen=True)
class LabelTable:
    """A labels CSV: per slice (sop_uid -> Mid|Lateral) or per series (series_uid -> mid sop_uid)."""

    per_slice: dict[str, str]
    mid_sop_by_series: dict[str, str]
    source_path: str


def read_labels_csv(path: Path) -> LabelTable:
    """Read either CSV kind, recognised by its columns; refuse anything else, bad values and contradicting
    duplicate rows, naming the file."""
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as error:
        raise UserError(f"labels CSV {path} is not a readable CSV ({' '.join(str(error).split())})") from error
    columns = set(table.columns)
    if columns >= set(SLICE_LABEL_COLUMNS):
        canonical = {MID.lower(): MID, LATERAL.lower(): LATERAL}
        bad = table[~table["label"].str.strip().str.lower().isin(canonical)]
        if len(bad):
            row = bad.index[0]
            raise UserError(f"{path}: row {row + 2} has label {bad.iloc[0]['label']!r}; expected Mid or Lateral")
        labels = table["label"].str.strip().str.lower().map(canonical)
        return LabelTable(_one_value_per_key(path, table["sop_instance_uid"].str.strip(), labels), {}, str(path))
    if columns >= _SERIES_COLUMNS:
        series, mids = table["series_instance_uid"].str.strip(), table["mid_sop_instance_uid"].str.strip()
        return LabelTable({}, _one_value_per_key(path, series, mids), str(path))
    raise UserError(
        f"labels CSV {path} has columns {sorted(columns)}; expected {','.join(SLICE_LABEL_COLUMNS)} (per slice) "
        "or series_instance_uid,mid_sop_instance_uid (per series)"
    )


def _one_value_per_key(path: Path, keys: pd.Series, values: pd.Series) -> dict[str, str]:
    """keys -> values; a key repeated with the same value is kept once, with another value it is refused."""
    pairs = pd.DataFrame({"key": keys, "value": values}).drop_duplicates()
    conflicting = sorted(set(pairs.loc[pairs["key"].duplicated(), "key"]))
    if conflicting:
        shown = ", ".join(conflicting[:3]) + (f" and {len(conflicting) - 3} more" if len(conflicting) > 3 else "")
        raise UserError(
            f"labels CSV {path}: {len(conflicting)} UID(s) have rows that disagree ({shown}); keep one row per UID"
        )
    return dict(zip(pairs["key"], pairs["value"]))


@dataclass(frozen=True)
class LabelCoverage:
    """Where the labels of a set of slices came from: the labels CSV, the centre rule, or nowhere."""

    from_csv: int
    from_rule: int
    unlabelled: int

    @classmethod
    def of(cls, slices: pd.DataFrame) -> LabelCoverage:
        source = slices["label_source"]
        return cls(int((source == SOURCE_LABELS).sum()), int((source == SOURCE_RULE).sum()), int((source == "").sum()))

    def as_params(self) -> dict[str, int]:
        """What every run logs, so a run trained on the centre rule is never mistaken for one trained on labels."""
        return {
            "labels.from_csv": self.from_csv,
            "labels.from_rule": self.from_rule,
            "labels.unlabelled": self.unlabelled,
        }

    def require(self, labels_path: Path, unlabelled: str, what: str = "slices") -> None:
        """A labels CSV must label the slices: none matched is an error; some is one when ``unlabelled`` is error."""
        total = self.from_csv + self.from_rule + self.unlabelled
        if self.from_csv == 0:
            raise UserError(
                f"data.labels={labels_path} labels none of the {total} indexed {what}: its UIDs are not those of "
                "data.root; give the labels CSV of this repository (or data.labels=null for the centre rule)"
            )
        if self.from_csv < total and unlabelled == UNLABELLED_ERROR:
            raise UserError(
                f"data.labels={labels_path} labels {self.from_csv} of {total} indexed {what} "
                f"({self.from_rule} would get the centre rule, {self.unlabelled} no label); add rows for the others, "
                f"or set data.unlabelled={UNLABELLED_DROP} (train on the labelled series only) or "
                f"data.unlabelled={UNLABELLED_CENTRE_RULE} (label the others by the centre rule)"
            )


def label_slices(manifest: pd.DataFrame, labels: LabelTable | None, band_size: int = BAND_SIZE) -> pd.DataFrame:
    """Adds label, label_source and is_mid_sagittal (the slice the Mid group centres on) to every row."""
    if band_size < 1:
        raise ValueError(f"band_size must be >= 1, found {band_size}")
    labelled = manifest.reset_index(drop=True)
    label = np.full(len(labelled), "", dtype=object)
    source = np.full(len(labelled), "", dtype=object)
    is_mid_sagittal = np.zeros(len(labelled), dtype=bool)
    all_sop_uids = labelled["sop_uid"].to_numpy()
    for series_uid, rows in labelled.groupby("series_uid", sort=False):
        order = rows.index.to_numpy()[np.argsort(rows["slice_index"].to_numpy(), kind="stable")]
        sop_uids = all_sop_uids[order].tolist()
        if labels is not None and any(sop in labels.per_slice for sop in sop_uids):
            series_labels = [labels.per_slice.get(sop, "") for sop in sop_uids]
            mid_positions = [position for position, name in enumerate(series_labels) if name == MID]
            mid_position = mid_positions[(len(mid_positions) - 1) // 2] if mid_positions else None
            series_source = SOURCE_LABELS
        else:
            given_mid = labels.mid_sop_by_series.get(str(series_uid)) if labels is not None else None
            series_source = SOURCE_LABELS if given_mid in sop_uids else SOURCE_RULE
            mid_position = sop_uids.index(given_mid) if series_source == SOURCE_LABELS else centre_index(len(order))
            band = mid_band(mid_position, len(order), band_size)
            series_labels = [MID if position in band else LATERAL for position in range(len(order))]
        label[order] = series_labels
        source[order] = [series_source if name else "" for name in series_labels]
        if mid_position is not None:
            is_mid_sagittal[order[mid_position]] = True
    return labelled.assign(label=label, label_source=source, is_mid_sagittal=is_mid_sagittal).set_axis(manifest.index)


def validate_labels(
    manifest: pd.DataFrame, labels: LabelTable | None, ivd_width_mm: float = NORMAL_LUMBAR_IVD_WIDTH_MM
) -> pd.DataFrame:
    """Paper §3 check: every Mid slice lies within half a normal lumbar IVD width of the mid slice
    (further out, a sagittal plane no longer cuts the disc).

    Findings are reported, never used to drop or relabel slices.
    """
    tolerance_mm = ivd_width_mm / 2
    findings: list[dict[str, str]] = []
    unlabelled = manifest[manifest["label"] == ""].groupby("series_uid").size()
    sizes = manifest.groupby("series_uid").size()
    for series_uid, missing in unlabelled.items():
        findings.append(
            _finding("unlabelled_slices", series_uid, "", f"{missing} of {sizes[series_uid]} slices have no label")
        )
    mid_location = manifest[manifest["is_mid_sagittal"]].set_index("series_uid")["slice_location_mm"]
    for series_uid in sorted(set(sizes.index) - set(mid_location.index)):
        findings.append(_finding("no_mid_slice", series_uid, "", "no slice is labelled Mid"))
    distance = (manifest["slice_location_mm"] - manifest["series_uid"].map(mid_location)).abs()
    too_far = (manifest["label"] == MID) & (distance > tolerance_mm)
    for row, distance_mm in zip(manifest[too_far].itertuples(), distance[too_far]):
        detail = f"{distance_mm:.1f} mm from the mid slice (limit {tolerance_mm:.1f} mm, half the IVD width of ref. 18)"
        findings.append(_finding("mid_beyond_half_ivd_width", row.series_uid, row.sop_uid, detail))
    if labels is not None:
        indexed = set(manifest["sop_uid"])
        unmatched = sorted(set(labels.per_slice) - indexed) + sorted(
            sop for sop in labels.mid_sop_by_series.values() if sop not in indexed
        )
        if unmatched:
            findings.append(
                _finding(
                    "label_without_indexed_slice",
                    "",
                    unmatched[0],
                    f"{len(unmatched)} label rows in {labels.source_path} match no indexed slice",
                )
            )
    return pd.DataFrame(findings, columns=FINDING_COLUMNS)


def _finding(finding: str, series_uid: str, sop_uid: str, detail: str) -> dict[str, str]:
    return {"finding": finding, "series_uid": series_uid, "sop_uid": sop_uid, "detail": detail}
