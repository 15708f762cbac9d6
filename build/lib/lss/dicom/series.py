"""Series assembly: drop duplicate SOP instances, split same-position slices, order by n·p (paper §3).

Slice order always uses the computed n·p: vendors disagree on the sign and meaning of the stored
SliceLocation, so the two are never mixed within a series.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from lss.dicom.geometry import are_parallel
from lss.dicom.skips import Skip
from lss.dicom.weighting import is_fat_suppressed, weighting
from lss.manifest import STIR

if TYPE_CHECKING:
    from lss.dicom.headers import SliceHeader

SAME_POSITION_DECIMALS = 2
"""Slices whose n·p agree to 0.01 mm lie in the same plane."""


def drop_duplicate_instances(headers: Iterable[SliceHeader]) -> tuple[list[SliceHeader], list[Skip]]:
    """Keep the first path (sorted) of each SOPInstanceUID; later copies are skipped, never merged."""
    first_path: dict[str, str] = {}
    duplicate_paths: dict[str, str] = {}
    ordered = sorted(headers, key=lambda header: (header.path, header.frame))
    for header in ordered:
        kept = first_path.setdefault(header.sop_uid, header.path)
        if kept != header.path:
            duplicate_paths[header.path] = kept
    skips = [
        Skip(path, "duplicate_sop_instance_uid", f"same SOPInstanceUID as {kept}")
        for path, kept in duplicate_paths.items()
    ]
    return [header for header in ordered if header.path not in duplicate_paths], skips


def assemble_series(headers: Iterable[SliceHeader]) -> tuple[list[dict[str, Any]], list[Skip]]:
    """Manifest rows (without labels) for every series, and skips for series that cannot be ordered."""
    by_series: dict[str, list[SliceHeader]] = defaultdict(list)
    for header in headers:
        by_series[header.series_uid].append(header)
    rows: list[dict[str, Any]] = []
    skips: list[Skip] = []
    for series_uid, members in sorted(by_series.items()):
        reference = members[0].orientation
        if not all(are_parallel(reference, member.orientation) for member in members):
            skips += _skip_all(members, "mixed_orientation", f"series {series_uid}")
            continue
        parts = _split_same_position(members)
        if parts is None:
            skips += _skip_all(members, "same_position_slices", f"series {series_uid}")
            continue
        for part_uid, description, part in parts:
            rows += _ordered_rows(series_uid, part_uid, description, part)
    return rows, skips


def _has_unique_positions(members: list[SliceHeader]) -> bool:
    rounded = [round(member.location_mm, SAME_POSITION_DECIMALS) for member in members]
    return len(set(rounded)) == len(rounded)


def _split_same_position(members: list[SliceHeader]) -> list[tuple[str, str, list[SliceHeader]]] | None:
    """[(series_uid, split description, slices)]: several parts for multi-echo or magnitude + phase.

    None when no header field separates the slices that share a position.
    """
    series_uid = members[0].series_uid
    if _has_unique_positions(members):
        return [(series_uid, "", members)]
    for field, uid_suffix in (("echo_number", "echo"), ("te_ms", "te"), ("image_type", "part")):
        groups: dict[Any, list[SliceHeader]] = defaultdict(list)
        for member in members:
            groups[getattr(member, field)].append(member)
        if len(groups) > 1 and all(_has_unique_positions(group) for group in groups.values()):
            ordered_keys = sorted(groups, key=str)
            return [
                (
                    f"{series_uid}.{uid_suffix}{key if field == 'echo_number' else index + 1}",
                    f"{field}={key}",
                    groups[key],
                )
                for index, key in enumerate(ordered_keys)
            ]
    return None


def _ordered_rows(source_uid: str, series_uid: str, split: str, members: list[SliceHeader]) -> list[dict[str, Any]]:
    ordered = sorted(members, key=lambda member: member.location_mm)
    first = members[0]
    modality = weighting(
        _median(member.te_ms for member in members),
        _median(member.tr_ms for member in members),
        first.series_description,
        _median(member.ti_ms for member in members),
        first.scanning_sequence,
    )
    fat_suppressed = modality == STIR or is_fat_suppressed(first.scan_options, first.series_description)
    return [
        {
            "path": member.path,
            "patient_key": member.patient_key,
            "study_uid": member.study_uid,
            "series_uid": series_uid,
            "sop_uid": member.sop_uid,
            "frame": member.frame,
            "modality": modality,
            "modality_source": first.modality_source,
            "fat_suppressed": fat_suppressed,
            "plane": "sagittal",
            "slice_location_mm": round(member.location_mm, 4),
            "stored_slice_location_mm": member.stored_slice_location_mm,
            "slice_index": index,
            "n_slices": len(ordered),
            "tr_ms": member.tr_ms,
            "te_ms": member.te_ms,
            "source_series_uid": source_uid,
            "series_split": split,
        }
        for index, member in enumerate(ordered)
    ]


def _median(values: Iterable[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return statistics.median(present) if present else None


def _skip_all(members: list[SliceHeader], reason: str, detail: str) -> list[Skip]:
    return [Skip(path, reason, detail) for path in sorted({member.path for member in members})]
