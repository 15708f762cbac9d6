"""Acquisition parameters of the paper's scanner (Table 1), drawn per series.

The phantom's headers must look like the paper's Siemens MAGNETOM Essenza exams so that the indexer
is tested against the same tag values (and their spread) that it would meet in the real dataset.
"""

from dataclasses import dataclass
from typing import Literal

import numpy as np

Weighting = Literal["T1", "T2"]
Plane = Literal["sagittal", "axial"]

MANUFACTURER = "SIEMENS"
MANUFACTURER_MODEL_NAME = "MAGNETOM Essenza"
MAGNETIC_FIELD_STRENGTH_T = 1.5
IMAGING_FREQUENCY_MHZ = 63.7
FIELD_OF_VIEW_MM = 280.0
PERCENT_PHASE_FIELD_OF_VIEW = 100.0
FLIP_ANGLE_DEG = 150.0
SCANNING_SEQUENCE = "SE"
SEQUENCE_VARIANT = ("SK", "SP", "OSP")
MATRIX_SIZES = (320, 384)  # square: Table 1 gives a 100 % matrix and a 280 mm FOV in both directions


@dataclass(frozen=True)
class SequenceRanges:
    """One column of Table 1: the range (lo, hi) or the allowed values of each parameter."""

    repetition_time_ms: tuple[float, float]
    echo_time_ms: tuple[float, float]
    slice_thicknesses_mm: tuple[float, ...]
    spacing_between_slices_mm: tuple[float, float]
    phase_encoding_steps: tuple[int, int]
    percent_sampling: tuple[float, float]
    echo_train_lengths: tuple[int, ...]
    numbers_of_averages: tuple[int, ...]
    pixel_bandwidths_hz: tuple[float, ...]
    scan_options: tuple[str, ...]


TABLE_1: dict[Weighting, SequenceRanges] = {
    "T1": SequenceRanges(
        repetition_time_ms=(330.0, 926.0),
        echo_time_ms=(9.2, 12.0),
        slice_thicknesses_mm=(3.0, 3.5, 4.0),
        spacing_between_slices_mm=(3.3, 4.8),
        phase_encoding_steps=(288, 540),
        percent_sampling=(50.0, 70.0),
        echo_train_lengths=(3,),
        numbers_of_averages=(1, 2, 3, 4),
        pixel_bandwidths_hz=(150.0, 235.0),
        scan_options=("SAT1", "FS"),
    ),
    "T2": SequenceRanges(
        repetition_time_ms=(3190.0, 4000.0),
        echo_time_ms=(67.0, 96.0),
        slice_thicknesses_mm=(3.0, 3.5, 4.0, 4.5, 5.0),
        spacing_between_slices_mm=(3.3, 6.5),
        phase_encoding_steps=(408, 544),
        percent_sampling=(66.0, 90.0),
        echo_train_lengths=(15, 17),
        numbers_of_averages=(2,),
        pixel_bandwidths_hz=(150.0, 160.0, 195.0),
        scan_options=("SAT1",),
    ),
}

# Technologists type descriptions by hand, so their case and spelling vary between sites and years.
_DESCRIPTIONS: dict[tuple[Weighting, Plane], tuple[str, ...]] = {
    ("T1", "sagittal"): ("t1_tse_sag", "T1_TSE_SAG", "t1_tse_sag_320"),
    ("T2", "sagittal"): ("t2_tse_sag", "T2_TSE_SAG", "t2_tse_sag_384"),
    ("T2", "axial"): ("t2_tse_tra", "T2_TSE_TRA"),
}


@dataclass(frozen=True)
class SeriesProtocol:
    """The Table 1 parameters of one series, as written into its headers."""

    weighting: Weighting
    plane: Plane
    series_description: str
    repetition_time_ms: float
    echo_time_ms: float
    echo_train_length: int
    slice_thickness_mm: float
    spacing_between_slices_mm: float
    phase_encoding_steps: int
    percent_sampling: float
    number_of_averages: int
    pixel_bandwidth_hz: float
    scan_options: tuple[str, ...]
    rows: int

    @property
    def columns(self) -> int:
        return self.rows

    @property
    def pixel_spacing_mm(self) -> float:
        return FIELD_OF_VIEW_MM / self.rows


def draw_series_protocol(weighting: Weighting, plane: Plane, rng: np.random.Generator) -> SeriesProtocol:
    """Draw one series' parameters uniformly inside the Table 1 column of its weighting."""
    ranges = TABLE_1[weighting]
    thickness = float(rng.choice(ranges.slice_thicknesses_mm))
    spacing_lo, spacing_hi = ranges.spacing_between_slices_mm
    spacing_lo = max(spacing_lo, round(thickness * 1.1, 1))  # a slice gap of at least 10 %
    return SeriesProtocol(
        weighting=weighting,
        plane=plane,
        series_description=str(rng.choice(_DESCRIPTIONS[(weighting, plane)])),
        repetition_time_ms=round(float(rng.uniform(*ranges.repetition_time_ms))),
        echo_time_ms=round(float(rng.uniform(*ranges.echo_time_ms)), 1),
        echo_train_length=int(rng.choice(ranges.echo_train_lengths)),
        slice_thickness_mm=thickness,
        spacing_between_slices_mm=round(float(rng.uniform(spacing_lo, spacing_hi)), 1),
        phase_encoding_steps=int(rng.integers(ranges.phase_encoding_steps[0], ranges.phase_encoding_steps[1] + 1)),
        percent_sampling=round(float(rng.uniform(*ranges.percent_sampling)), 1),
        number_of_averages=int(rng.choice(ranges.numbers_of_averages)),
        pixel_bandwidth_hz=float(rng.choice(ranges.pixel_bandwidths_hz)),
        scan_options=ranges.scan_options,
        rows=int(rng.choice(MATRIX_SIZES, p=(0.7, 0.3))),
    )
