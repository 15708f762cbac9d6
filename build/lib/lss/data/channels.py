"""What the three input channels of an ImageNet network show, for every sample slice.

The paper copies one slice into all three channels (``data.context=1``). Two ablations use them
for information instead:

- ``data.context=3``: the previous, the current and the next slice of the same series by slice
  position (the end slices repeat themselves), since the canal appears and disappears across the stack.
- ``modality=T1T2``: each T2 slice with the T1 slice of the same study at the nearest slice position
  (within half the T2 slice spacing, else the T2 slice is dropped), channels (T1, T2, T2); labels
  are the T2 slice's.

An ``InputPlan`` names the slices to decode (``sources``, each decoded once into the image cache)
and, per sample, the three source rows its channels show, so neighbours and partners are never
decoded twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lss.errors import ConfigError
from lss.manifest import T1, T2

log = logging.getLogger(__name__)

FUSED = "T1T2"
"""The fused modality: T2 slices with their T1 partners."""
CONTEXTS = (1, 3)


@dataclass(frozen=True)
class InputPlan:
    """``samples``: one row per input (what splits, targets and metrics see); ``sources``: the manifest rows
    whose pixels are decoded; ``channels``: (len(samples), 3) rows of ``sources`` shown in each channel."""

    samples: pd.DataFrame
    sources: pd.DataFrame
    channels: np.ndarray


def context_channels(slices: pd.DataFrame, context: int) -> np.ndarray:
    """(N, 3) rows of ``slices`` per input: the slice itself three times, or its series neighbours by slice position."""
    if context not in CONTEXTS:
        raise ConfigError(f"data.context must be one of {CONTEXTS}, got {context}")
    rows = np.arange(len(slices))
    if context == 1:
        return np.stack([rows, rows, rows], axis=1)
    order = slices.reset_index(drop=True).sort_values(["series_uid", "slice_index"], kind="stable")
    ordered_rows = order.index.to_numpy()
    same_series_before = np.r_[False, order["series_uid"].to_numpy()[1:] == order["series_uid"].to_numpy()[:-1]]
    same_series_after = np.r_[same_series_before[1:], False]
    previous = np.where(same_series_before, np.r_[ordered_rows[:1], ordered_rows[:-1]], ordered_rows)
    following = np.where(same_series_after, np.r_[ordered_rows[1:], ordered_rows[-1:]], ordered_rows)
    channels = np.empty((len(slices), 3), dtype=np.int64)
    channels[ordered_rows] = np.stack([previous, ordered_rows, following], axis=1)
    return channels


def fused_pairs(manifest: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(T2 slices that have a T1 partner, their partners row by row), matched by slice position within each study.

    Counts what is left out in the log: studies without both a sagittal T1 and T2 series, and T2
    slices with no T1 slice within half the T2 spacing.
    """
    t1, t2 = manifest[manifest["modality"] == T1], manifest[manifest["modality"] == T2]
    both = sorted(set(t1["study_uid"]) & set(t2["study_uid"]))
    kept, partners, unmatched = [], [], 0
    for study in both:
        t1_study, t2_study = t1[t1["study_uid"] == study], t2[t2["study_uid"] == study]
        for _, t2_series in t2_study.groupby("series_uid", sort=True):
            locations = np.sort(t2_series["slice_location_mm"].to_numpy(float))
            half_spacing = float(np.median(np.diff(locations))) / 2 if len(locations) > 1 else np.inf
            distance = np.abs(
                t2_series["slice_location_mm"].to_numpy(float)[:, None]
                - t1_study["slice_location_mm"].to_numpy(float)[None, :]
            )
            nearest = distance.argmin(axis=1)
            close = distance[np.arange(len(t2_series)), nearest] <= half_spacing
            unmatched += int((~close).sum())
            kept.append(t2_series[close])
            partners.append(t1_study.iloc[nearest[close]])
    studies = manifest.loc[manifest["modality"].isin([T1, T2]), "study_uid"].nunique()
    log.info(
        "T1T2: %d of %d studies have both sagittal T1 and T2 (the others are skipped); "
        "%d T2 slices have no T1 slice within half the slice spacing and are dropped",
        len(both),
        studies,
        unmatched,
    )
    if not kept:
        return manifest.iloc[:0], manifest.iloc[:0]
    return pd.concat(kept, ignore_index=True), pd.concat(partners, ignore_index=True)


def input_plan(slices: pd.DataFrame, modality: str, context: int) -> InputPlan:
    """The plan for the manifest rows ``slices``: the samples' own modality, and for T1T2 the T1 slices too.

    For T1T2 the samples are the T2 rows that found a partner; every T1 partner is decoded once
    however many T2 slices share it.
    """
    if modality != FUSED:
        samples = slices.reset_index(drop=True)
        return InputPlan(samples, samples, context_channels(samples, context))
    if context != 1:
        raise ConfigError("modality=T1T2 fills the three channels with T1 and T2 already; use it with data.context=1")
    samples, partners = fused_pairs(slices)
    keys = list(zip(partners["sop_uid"], partners["frame"]))
    unique = partners.drop_duplicates(["sop_uid", "frame"]).reset_index(drop=True)
    position = {key: row for row, key in enumerate(zip(unique["sop_uid"], unique["frame"]))}
    rows = np.arange(len(samples))
    t1_rows = np.array([position[key] for key in keys], dtype=np.int64) + len(samples)
    return InputPlan(samples, pd.concat([samples, unique], ignore_index=True), np.stack([t1_rows, rows, rows], axis=1))


def plan_slices(manifest: pd.DataFrame, modality: str, labelled: pd.DataFrame) -> pd.DataFrame:
    """The manifest rows an input plan draws on: the labelled samples, and for T1T2 every T1 slice as a partner."""
    if modality != FUSED:
        return labelled
    return pd.concat([labelled, manifest[manifest["modality"] == T1]], ignore_index=True)
