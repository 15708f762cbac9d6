"""Header-only reading: one SliceHeader per image slice (or frame), or one Skip saying why not.

Reads with `stop_before_pixels` and `specific_tags`, so indexing costs a fraction of a full read.
Files named .mha / .nii / .nii.gz are volumes (lss/dicom/volumes.py), one SliceHeader per slice;
any other file, whatever its extension (.dcm, .ima, none), is read as DICOM.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import UID, MediaStorageDirectoryStorage

from lss.dicom.geometry import OrientationError, plane_of
from lss.dicom.privacy import patient_key
from lss.dicom.skips import Skip, SkipFile
from lss.dicom.volumes import (
    MASKS_FOLDER,
    is_volume,
    read_volume_geometry,
    volume_patient_id,
    volume_series_uid,
    volume_sop_uid,
    volume_study_uid,
)
from lss.dicom.weighting import FROM_FILE_NAME, FROM_HEADERS

HEADER_TAGS: list[str] = [
    "SOPClassUID",
    "SOPInstanceUID",
    "InstanceNumber",
    "StudyInstanceUID",
    "SeriesInstanceUID",
    "PatientID",
    "SeriesDescription",
    "ImageType",
    "EchoNumbers",
    "RepetitionTime",
    "EchoTime",
    "ImageOrientationPatient",
    "ImagePositionPatient",
    "SliceLocation",
    "SamplesPerPixel",
    "PhotometricInterpretation",
    "NumberOfFrames",
    "SharedFunctionalGroupsSequence",
    "PerFrameFunctionalGroupsSequence",
]

_UNDEFINED_LENGTH = 0xFFFFFFFF
_GRAYSCALE = ("MONOCHROME1", "MONOCHROME2")


@dataclass(frozen=True)
class SliceHeader:
    """What the manifest needs from one image slice; patient identity only as patient_key."""

    path: str
    frame: int
    patient_key: str
    study_uid: str
    series_uid: str
    sop_uid: str
    instance_number: int | None
    series_description: str
    modality_source: str
    image_type: str
    echo_number: int | None
    tr_ms: float | None
    te_ms: float | None
    orientation: tuple[float, ...]
    position: tuple[float, ...] | None
    stored_slice_location_mm: float | None


def read_slice_headers(path: Path, root: Path, secret: bytes) -> list[SliceHeader] | Skip:
    """Headers of every sagittal image slice in `path`, or the Skip that explains its absence."""
    relative = path.relative_to(root).as_posix()
    try:
        return _read(path, relative, secret)
    except SkipFile as skip:
        return Skip(relative, skip.reason, skip.detail)
    except PermissionError as error:
        return Skip(relative, "permission_denied", str(error.strerror))
    except Exception as error:  # a corrupt header must not kill a long indexing run
        return Skip(relative, "unreadable", f"{type(error).__name__}: {error}"[:200])


def _read(path: Path, relative: str, secret: bytes) -> list[SliceHeader]:
    if path.is_symlink() and not path.exists():
        raise SkipFile("broken_symlink")
    if path.stat().st_size == 0:
        raise SkipFile("empty_file")
    if is_volume(path):
        return _read_volume(path, relative, secret)
    with path.open("rb") as file:
        dataset = _read_dataset(file)
        has_pixel_data = _check_pixel_data(file, dataset, path.stat().st_size)
    sop_class = UID(str(dataset.get("SOPClassUID") or dataset.file_meta.get("MediaStorageSOPClassUID", "")))
    if sop_class == MediaStorageDirectoryStorage:
        raise SkipFile("dicomdir")
    if sop_class.is_valid and sop_class.name != str(sop_class) and "Image" not in sop_class.name:
        raise SkipFile("non_image_sop_class", sop_class.name)
    if not has_pixel_data:
        raise SkipFile("no_pixel_data", sop_class.name)
    if not dataset.get("SOPInstanceUID") or not dataset.get("SeriesInstanceUID"):
        raise SkipFile("missing_uid")
    photometric = str(dataset.get("PhotometricInterpretation", "MONOCHROME2")).strip()
    if int(dataset.get("SamplesPerPixel") or 1) != 1 or photometric not in _GRAYSCALE:
        raise SkipFile("not_grayscale", f"PhotometricInterpretation={photometric}")
    common: dict[str, Any] = {
        "path": relative,
        "patient_key": patient_key(str(dataset.get("PatientID", "")).strip(), secret),
        "study_uid": str(dataset.get("StudyInstanceUID", "")),
        "series_uid": str(dataset.SeriesInstanceUID),
        "sop_uid": str(dataset.SOPInstanceUID),
        "instance_number": _as_int(dataset.get("InstanceNumber")),
        "series_description": str(dataset.get("SeriesDescription", "")),
        "modality_source": FROM_HEADERS,
    }
    return [SliceHeader(**common, **fields) for fields in _frame_fields(dataset)]


def _read_volume(path: Path, relative: str, secret: bytes) -> list[SliceHeader]:
    """One header per slice of a sagittal volume; identity and weighting from the file name (see volumes.py)."""
    if MASKS_FOLDER in (part.lower() for part in Path(relative).parent.parts):
        raise SkipFile("segmentation_mask", f"inside a folder named {MASKS_FOLDER}")
    geometry = read_volume_geometry(path)
    try:
        plane = plane_of(geometry.orientation)
    except OrientationError as error:
        raise SkipFile("invalid_orientation", f"volume direction: {error}") from error
    if plane != "sagittal":
        raise SkipFile("not_sagittal", plane)
    patient_id = volume_patient_id(geometry.name)
    return [
        SliceHeader(
            path=relative,
            frame=frame,
            patient_key=patient_key(patient_id, secret),
            study_uid=volume_study_uid(patient_id),
            series_uid=volume_series_uid(geometry.name),
            sop_uid=volume_sop_uid(geometry.name, frame),
            instance_number=None,
            series_description=geometry.name,
            modality_source=FROM_FILE_NAME,
            image_type="",
            echo_number=None,
            tr_ms=None,
            te_ms=None,
            orientation=geometry.orientation,
            position=position,
            stored_slice_location_mm=None,
        )
        for frame, position in enumerate(geometry.positions)
    ]


def _read_dataset(file: BinaryIO) -> Dataset:
    """Strict read first; files without the 128-byte preamble are accepted only if they carry SOP UIDs."""
    try:
        return pydicom.dcmread(file, stop_before_pixels=True, specific_tags=HEADER_TAGS)
    except InvalidDicomError:
        pass
    file.seek(0)
    try:
        dataset = pydicom.dcmread(file, stop_before_pixels=True, specific_tags=HEADER_TAGS, force=True)
    except Exception as error:
        raise SkipFile("not_dicom", type(error).__name__) from error
    if not dataset.get("SOPInstanceUID") or not dataset.get("SOPClassUID"):
        raise SkipFile("not_dicom", "no DICM preamble and no SOP UIDs")
    return dataset


def _check_pixel_data(file: BinaryIO, dataset: Dataset, file_size: int) -> bool:
    """stop_before_pixels leaves the file at (7FE0,0010) when present; its length header reveals truncation."""
    start = file.tell()
    if start >= file_size:
        return False
    is_implicit, is_little = dataset.original_encoding
    endian = "<" if is_little in (True, None) else ">"
    header = file.read(12)
    if len(header) < 8:
        raise SkipFile("truncated_pixel_data", "file ends inside the Pixel Data tag")
    if is_implicit:
        (length,) = struct.unpack(endian + "I", header[4:8])
        value_start = start + 8
    else:
        (length,) = struct.unpack(endian + "I", header[8:12])
        value_start = start + 12
    if length != _UNDEFINED_LENGTH and value_start + length > file_size:
        raise SkipFile("truncated_pixel_data", f"declared {length} bytes, {file_size - value_start} present")
    return True


def number_of_frames(dataset: Dataset) -> int:
    """NumberOfFrames, 1 when absent or empty (single-frame objects)."""
    return int(dataset.get("NumberOfFrames") or 1)


def _frame_fields(dataset: Dataset) -> list[dict[str, Any]]:
    """Per-slice geometry and timing; enhanced multi-frame objects frame by frame from functional groups."""
    per_frame = dataset.get("PerFrameFunctionalGroupsSequence")
    n_frames = number_of_frames(dataset)
    if not per_frame:
        if n_frames > 1:
            raise SkipFile("multiframe_without_frame_geometry", f"NumberOfFrames={n_frames}")
        return [_slice_fields(dataset, [dataset])]
    shared = dataset.get("SharedFunctionalGroupsSequence") or [Dataset()]
    return [
        _slice_fields(dataset, [frame_groups, shared[0], dataset], frame=index)
        for index, frame_groups in enumerate(per_frame)
    ]


def _slice_fields(dataset: Dataset, sources: Sequence[Dataset], frame: int = 0) -> dict[str, Any]:
    """Fields of one slice, looking in per-frame groups, then shared groups, then the top level."""
    where = f"frame {frame}" if len(sources) > 1 else "top level"
    orientation = _find(sources, "PlaneOrientationSequence", "ImageOrientationPatient")
    if orientation is None:
        raise SkipFile("missing_orientation", f"ImageOrientationPatient absent ({where})")
    try:
        plane = plane_of([float(value) for value in orientation])
    except (OrientationError, ValueError, TypeError) as error:
        raise SkipFile("invalid_orientation", f"ImageOrientationPatient ({where}): {error}") from error
    if plane != "sagittal":
        raise SkipFile("not_sagittal", plane)
    position = _find(sources, "PlanePositionSequence", "ImagePositionPatient")
    if position is None or len(position) != 3:
        raise SkipFile("missing_position", f"ImagePositionPatient absent ({where})")
    image_type = _find(sources, "MRImageFrameTypeSequence", "FrameType") or dataset.get("ImageType") or []
    return {
        "frame": frame,
        "orientation": tuple(float(value) for value in orientation),
        "position": tuple(float(value) for value in position),
        "tr_ms": _as_float(_find(sources, "MRTimingAndRelatedParametersSequence", "RepetitionTime")),
        "te_ms": _as_float(_find(sources, "MREchoSequence", "EffectiveEchoTime") or dataset.get("EchoTime")),
        "echo_number": _as_int(dataset.get("EchoNumbers")),
        "image_type": "\\".join(str(value) for value in _as_list(image_type)),
        "stored_slice_location_mm": _as_float(dataset.get("SliceLocation")) if len(sources) == 1 else None,
    }


def _find(sources: Sequence[Dataset], group_sequence: str, keyword: str) -> Any:
    """First value of `keyword` inside `group_sequence` of a functional group, or at the top level."""
    for source in sources:
        group = source.get(group_sequence)
        if group and keyword in group[0] and group[0][keyword].value not in (None, ""):
            return group[0][keyword].value
        if keyword in source and source[keyword].value not in (None, ""):
            return source[keyword].value
    return None


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple, pydicom.multival.MultiValue)) else [value]


def _as_float(value: Any) -> float | None:
    try:
        return float(_as_list(value)[0]) if value is not None else None
    except (TypeError, ValueError, IndexError):
        return None


def _as_int(value: Any) -> int | None:
    number = _as_float(value)
    return int(number) if number is not None else None
