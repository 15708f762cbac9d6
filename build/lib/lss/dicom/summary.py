"""The indexing report for stdout and summary.md, with class counts in the layout of paper Table 2."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from lss.dicom.skips import SKIP_REASONS
from lss.dicom.weighting import WeightingTable, unindexed_series
from lss.manifest import LATERAL, MID, STIR, T1, T2, UNKNOWN
from lss.text import markdown_table


def _table_lines(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    return markdown_table(header, rows).splitlines()


_COLUMN_TITLES = {
    T1: "T1-weighted",
    T2: "T2-weighted",
    STIR: "STIR (short-TI inversion recovery)",
    UNKNOWN: "unknown weighting",
}
_MAX_LISTED_FINDINGS = 20


def class_distribution(manifest: pd.DataFrame) -> list[str]:
    """Table 2: Mid / Lateral / Total per sequence type (plus STIR, unknown weighting and unlabelled when present)."""
    modalities = [T1, T2] + [extra for extra in (STIR, UNKNOWN) if (manifest["modality"] == extra).any()]
    classes = [MID, LATERAL] + ([""] if (manifest["label"] == "").any() else [])
    counts = manifest.groupby(["label", "modality"]).size()
    rows = [
        [label or "(unlabelled)"] + [f"{int(counts.get((label, modality), 0)):,}" for modality in modalities]
        for label in classes
    ]
    rows.append(["Total"] + [f"{int((manifest['modality'] == modality).sum()):,}" for modality in modalities])
    return _table_lines(["Class \\ Sequence Types"] + [_COLUMN_TITLES[m] for m in modalities], rows)


def summarize(
    manifest: pd.DataFrame, skipped: pd.DataFrame, findings: pd.DataFrame, weighting: WeightingTable | None = None
) -> str:
    """Markdown: Table 2 layout, series counts, weighting and label sources, skips by reason, label findings."""
    lines = ["# Index summary", "", "## Class distribution (layout of paper Table 2)", ""]
    lines += class_distribution(manifest)
    series = manifest.drop_duplicates("series_uid")
    lines += ["", "## Series", ""]
    lines += _table_lines(
        ["Sequence type", "series", "studies", "patients", "slices"],
        [
            [
                _COLUMN_TITLES[modality],
                int((series["modality"] == modality).sum()),
                series.loc[series["modality"] == modality, "study_uid"].nunique(),
                series.loc[series["modality"] == modality, "patient_key"].nunique(),
                int((manifest["modality"] == modality).sum()),
            ]
            for modality in (T1, T2, STIR, UNKNOWN)
        ],
    )
    fat_suppressed = series.loc[series["fat_suppressed"].astype(bool), "modality"].value_counts()
    counted_fs = ", ".join(f"{modality} {count:,}" for modality, count in fat_suppressed.items())
    lines += ["", f"Fat-suppressed series (STIR, ScanOptions FS, description): {counted_fs or 'none'}."]
    split = manifest.loc[manifest["series_split"] != "", "source_series_uid"].nunique()
    sources = manifest["label_source"].replace("", "(none)").value_counts()
    lines += ["", f"Series split into parts (multi-echo, magnitude/phase): {split}."]
    weighting_sources = series["modality_source"].value_counts()
    counted = ", ".join(f"{source} {count:,}" for source, count in weighting_sources.items())
    lines += ["", f"Weighting sources (series): {counted or 'none'}."]
    if weighting is not None:
        unmatched = unindexed_series(manifest, weighting)
        lines.append(
            f"Weighting CSV {weighting.source_path}: {len(weighting.modality_by_series):,} series, "
            f"{len(unmatched):,} of them not indexed" + (f" (first: {unmatched[0]})." if unmatched else ".")
        )
    lines += [
        "",
        "Label sources (slices): " + ", ".join(f"{source} {count:,}" for source, count in sources.items()) + ".",
    ]
    lines += ["", "## Skipped", ""]
    if skipped.empty:
        lines.append("Nothing skipped.")
    else:
        by_reason = skipped["reason"].value_counts()
        lines += _table_lines(["reason", "entries", "meaning"], [[r, n, SKIP_REASONS[r]] for r, n in by_reason.items()])
    lines += ["", "## Label validation (paper §3: Mid slices within half the normal IVD width of the mid slice)", ""]
    if findings.empty:
        lines.append("No findings: every Mid slice lies within the limit.")
    else:
        counts = findings["finding"].value_counts()
        lines += _table_lines(["finding", "count"], [[finding, n] for finding, n in counts.items()])
        lines += ["", f"First {min(len(findings), _MAX_LISTED_FINDINGS)} of {len(findings)}:", ""]
        lines += _table_lines(
            ["finding", "series_uid", "sop_uid", "detail"], findings.head(_MAX_LISTED_FINDINGS).values.tolist()
        )
    return "\n".join(lines) + "\n"
