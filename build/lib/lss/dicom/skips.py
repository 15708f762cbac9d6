"""Why a file or series is not in the manifest: short, stable codes that users can grep and count."""

from __future__ import annotations

from dataclasses import dataclass

SKIP_REASONS: dict[str, str] = {
    "empty_file": "zero bytes",
    "empty_directory": "a directory with no files (listed so nothing under root goes unaccounted)",
    "permission_denied": "the file cannot be opened for reading",
    "unreadable": "an OS or parse error while reading the header",
    "symlink_not_followed": "a symbolic link to a directory (never followed, so loops cannot hang the walk)",
    "broken_symlink": "a symbolic link whose target does not exist",
    "not_dicom": "no DICOM preamble and no parsable DICOM header",
    "dicomdir": "a DICOMDIR media directory, not an image",
    "non_image_sop_class": "a non-image object (Raw Data, SR, RT Plan, ...), even when it shares a series",
    "no_pixel_data": "an image SOP class without a Pixel Data element",
    "truncated_pixel_data": "Pixel Data is shorter than its declared length",
    "missing_uid": "SOPInstanceUID or SeriesInstanceUID is absent",
    "not_grayscale": "SamplesPerPixel > 1 or a colour PhotometricInterpretation (RGB, YBR, PALETTE)",
    "multiframe_without_frame_geometry": "several frames but no PerFrameFunctionalGroupsSequence positions",
    "missing_orientation": "no ImageOrientationPatient (top level or functional groups)",
    "invalid_orientation": "ImageOrientationPatient is not two orthonormal vectors",
    "missing_position": "no ImagePositionPatient, so n·p cannot be computed",
    "not_sagittal": "the slice normal is dominated by y (coronal) or z (axial)",
    "duplicate_sop_instance_uid": "the same SOPInstanceUID (and frame) as an earlier file; the first path is kept",
    "mixed_orientation": "slices of one series are not parallel, so their n·p values are not comparable",
    "same_position_slices": "slices of one series share a position and no echo / image type separates them",
    "not_3d_volume": "a .mha / .nii / .nii.gz image that is not a 3-D volume (2-D, or 4-D with several time points)",
    "segmentation_mask": "a volume in a folder named masks (SPIDER's label masks): labels, not an image",
}


class SkipFile(Exception):
    """Raised while reading a file that cannot give manifest rows; the reader turns it into a Skip."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail


@dataclass(frozen=True)
class Skip:
    """One row of skipped.csv: a path relative to root, a code from SKIP_REASONS, and free-text detail."""

    path: str
    reason: str
    detail: str = ""

    def __post_init__(self) -> None:
        if self.reason not in SKIP_REASONS:
            raise ValueError(f"unknown skip reason {self.reason!r}; add it to SKIP_REASONS with an explanation")
