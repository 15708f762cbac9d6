"""Header-only reading: one SliceHeader per image slice (or frame), or one Skip saying why not.

Reads with `stop_before_pixels` and `specific_tags`, so indexing costs a fraction of a full read.
Files named .mha / .nii / .nii.gz are volumes (lss/dicom/volumes.py), one SliceHeader per slice;
any other file, whatever its extension (.dcm, .ima, none), is read as DICOM.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import UID, MediaStorageDirectoryStorage

from lss.dicom.geometry import OrientationError, plane_of, slice_location_mm
from lss.dicom.header_bytes import UNDEFINED_LENGTH, NotFast, TopLevel, read_header_text
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
    "InversionTime",
    "ScanningSequence",
    "ScanOptions",
    "ImageOrientationPatient",
    "ImagePositionPatient",
    "SliceLocation",
    "SamplesPerPixel",
    "PhotometricInterpretation",
    "NumberOfFrames",
    "SharedFunctionalGroupsSequence",
    "PerFrameFunctionalGroupsSequence",
]

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
    ti_ms: float | None
    scanning_sequence: str
    scan_options: str
    orientation: tuple[float, ...]
    position: tuple[float, ...]
    location_mm: float
    """n·p (paper §3), computed where the header is read (in the indexing worker)."""
    stored_slice_location_mm: float | None


def read_slice_headers(path: Path, root: Path, secret: bytes, fast: bool = True) -> list[SliceHeader] | Skip:
    """Headers of every sagittal image slice in `path`, or the Skip that explains its absence.

    ``fast=False`` reads every DICOM file with pydicom: the reference the fast path is tested against.
    """
    relative = path.relative_to(root).as_posix()
    return _headers_or_skip(relative, lambda: _read(path, relative, secret, fast))


def read_metadata_headers(
    dataset: Dataset, has_pixel_data: bool, relative: str, secret: bytes
) -> list[SliceHeader] | Skip:
    """As read_slice_headers, for an instance's DICOMweb metadata (its header without the Pixel Data bytes):
    the same checks in the same order, so a PACS and a folder of the same studies give the same manifest."""
    top = TopLevel(
        str(dataset.get("SOPClassUID", "")), _samples_per_pixel(dataset), 0 if has_pixel_data else None, None
    )
    return _headers_or_skip(relative, lambda: _dataset_headers(dataset, top, 0, relative, secret))


def _headers_or_skip(relative: str, read: Callable[[], list[SliceHeader]]) -> list[SliceHeader] | Skip:
    try:
        return read()
    except SkipFile as skip:
        return Skip(relative, skip.reason, skip.detail)
    except PermissionError as error:
        return Skip(relative, "permission_denied", str(error.strerror))
    except Exception as error:  # a corrupt header must not kill a long indexing run
        return Skip(relative, "unreadable", f"{type(error).__name__}: {error}"[:200])


def _read(path: Path, relative: str, secret: bytes, fast: bool) -> list[SliceHeader]:
    if path.is_symlink() and not path.exists():
        raise SkipFile("broken_symlink")
    file_size = path.stat().st_size
    if file_size == 0:
        raise SkipFile("empty_file")
    if is_volume(path):
        return _read_volume(path, relative, secret)
    with path.open("rb") as file:
        try:
            if not fast:
                raise NotFast("asked for pydicom")
            header = read_header_text(file, file_size)
        except NotFast:  # anything but the classic little-endian single-frame file: pydicom reads it
            file.seek(0)
            return _read_with_pydicom(file, file_size, relative, secret)

    def from_text(group: str | None, keyword: str) -> str | None:
        return header.texts.get(keyword) or None

    return _headers(header.top, from_text, [(0, from_text)], False, file_size, relative, secret)


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
            ti_ms=None,
            scanning_sequence="",
            scan_options="",
            orientation=geometry.orientation,
            position=position,
            location_mm=slice_location_mm(geometry.orientation, position),
            stored_slice_location_mm=None,
        )
        for frame, position in enumerate(geometry.positions)
    ]


Lookup = Callable[[str | None, str], str | None]
"""(functional group sequence or None for the top level, keyword) -> the value as text, None when absent or empty."""


def _headers(
    top: TopLevel,
    find: Lookup,
    frames: Sequence[tuple[int, Lookup]],
    functional_groups: bool,
    file_size: int,
    relative: str,
    secret: bytes,
) -> list[SliceHeader]:
    """The checks every image file goes through, in order, then one SliceHeader per frame (``frames``: each
    frame's Lookup; several for an enhanced multi-frame object whose ``functional_groups`` give their geometry)."""
    if top.pixel_data_start is not None and top.pixel_data_length != UNDEFINED_LENGTH:
        present = file_size - top.pixel_data_start
        if top.pixel_data_length is not None and top.pixel_data_length > present:
            raise SkipFile("truncated_pixel_data", f"declared {top.pixel_data_length} bytes, {present} present")
    sop_class = UID(find(None, "SOPClassUID") or top.media_sop_class)
    if sop_class == MediaStorageDirectoryStorage:
        raise SkipFile("dicomdir")
    if sop_class.is_valid and sop_class.name != str(sop_class) and "Image" not in sop_class.name:
        raise SkipFile("non_image_sop_class", sop_class.name)
    if top.pixel_data_start is None:
        raise SkipFile("no_pixel_data", sop_class.name)
    sop_uid, series_uid = find(None, "SOPInstanceUID"), find(None, "SeriesInstanceUID")
    if not sop_uid or not series_uid:
        raise SkipFile("missing_uid")
    photometric = (find(None, "PhotometricInterpretation") or "MONOCHROME2").strip()
    if (top.samples_per_pixel or 1) != 1 or photometric not in _GRAYSCALE:
        raise SkipFile("not_grayscale", f"PhotometricInterpretation={photometric}")
    if not functional_groups and (_as_int(find(None, "NumberOfFrames")) or 1) > 1:
        raise SkipFile("multiframe_without_frame_geometry", f"NumberOfFrames={find(None, 'NumberOfFrames')}")
    common: dict[str, Any] = {
        "path": relative,
        "patient_key": patient_key((find(None, "PatientID") or "").strip(), secret),
        "study_uid": find(None, "StudyInstanceUID") or "",
        "series_uid": series_uid,
        "sop_uid": sop_uid,
        "instance_number": _as_int(find(None, "InstanceNumber")),
        "series_description": find(None, "SeriesDescription") or "",
        "modality_source": FROM_HEADERS,
        "scanning_sequence": find(None, "ScanningSequence") or "",
        "scan_options": find(None, "ScanOptions") or "",
    }
    return [
        SliceHeader(**common, **_slice_fields(frame_find, frame, not functional_groups)) for frame, frame_find in frames
    ]


def _slice_fields(find: Lookup, frame: int, single_frame: bool) -> dict[str, Any]:
    """Fields of one slice: per-frame functional groups first, then shared groups, then the top level."""
    where = "top level" if single_frame else f"frame {frame}"
    orientation = find("PlaneOrientationSequence", "ImageOrientationPatient")
    if orientation is None:
        raise SkipFile("missing_orientation", f"ImageOrientationPatient absent ({where})")
    try:
        orientation_values = tuple(float(value) for value in orientation.split("\\"))
        plane = plane_of(orientation_values)
    except (OrientationError, ValueError) as error:
        raise SkipFile("invalid_orientation", f"ImageOrientationPatient ({where}): {error}") from error
    if plane != "sagittal":
        raise SkipFile("not_sagittal", plane)
    position = find("PlanePositionSequence", "ImagePositionPatient")
    if position is None or len(position.split("\\")) != 3:
        raise SkipFile("missing_position", f"ImagePositionPatient absent ({where})")
    position_values = tuple(float(value) for value in position.split("\\"))
    return {
        "frame": frame,
        "orientation": orientation_values,
        "position": position_values,
        "location_mm": slice_location_mm(orientation_values, position_values),
        "tr_ms": _as_float(find("MRTimingAndRelatedParametersSequence", "RepetitionTime")),
        "te_ms": _as_float(find("MREchoSequence", "EffectiveEchoTime") or find(None, "EchoTime")),
        "ti_ms": _as_float(find("MRModifierSequence", "InversionTimes") or find(None, "InversionTime")),
        "echo_number": _as_int(find(None, "EchoNumbers")),
        "image_type": find("MRImageFrameTypeSequence", "FrameType") or find(None, "ImageType") or "",
        "stored_slice_location_mm": _as_float(find(None, "SliceLocation")) if single_frame else None,
    }


def _as_float(text: str | None) -> float | None:
    """The first value of a DS/IS text as a float, None when absent or not a number."""
    try:
        return float(text.split("\\")[0]) if text else None
    except ValueError:
        return None


def _as_int(text: str | None) -> int | None:
    number = _as_float(text)
    return int(number) if number is not None else None


def _read_with_pydicom(file: BinaryIO, file_size: int, relative: str, secret: bytes) -> list[SliceHeader]:
    """What the fast path declines: no preamble, big endian, deflate, enhanced multi-frame, anything unusual."""
    dataset = _read_dataset(file)
    pixel_data = _pixel_data_element(file, dataset, file_size)
    top = TopLevel(
        str(dataset.file_meta.get("MediaStorageSOPClassUID", "")),
        _samples_per_pixel(dataset),
        *(pixel_data or (None, None)),
    )
    return _dataset_headers(dataset, top, file_size, relative, secret)


def _samples_per_pixel(dataset: Dataset) -> int | None:
    samples = dataset.get("SamplesPerPixel")
    return int(samples) if samples not in (None, "") else None


def _dataset_headers(
    dataset: Dataset, top: TopLevel, file_size: int, relative: str, secret: bytes
) -> list[SliceHeader]:
    """The SliceHeaders of a pydicom dataset: one per frame of an enhanced multi-frame object, else one."""
    per_frame = dataset.get("PerFrameFunctionalGroupsSequence")
    shared = (dataset.get("SharedFunctionalGroupsSequence") or [Dataset()])[0]
    top_level = _dataset_lookup([dataset])
    frames = (
        [(index, _dataset_lookup([groups, shared, dataset])) for index, groups in enumerate(per_frame)]
        if per_frame
        else [(0, top_level)]
    )
    return _headers(top, top_level, frames, bool(per_frame), file_size, relative, secret)


def _dataset_lookup(sources: Sequence[Dataset]) -> Lookup:
    """A Lookup over pydicom datasets: the first of ``sources`` whose functional group (or top level) has the value."""

    def find(group_sequence: str | None, keyword: str) -> str | None:
        for source in sources if group_sequence else sources[-1:]:  # top-level keywords: the dataset itself
            group = source.get(group_sequence) if group_sequence else None
            for holder in ((group[0],) if group else ()) + (source,):
                if keyword in holder and holder[keyword].value not in (None, ""):
                    return _text_of(holder[keyword].value)
        return None

    return find


def _text_of(value: Any) -> str:
    """A pydicom value as the text the file holds: multi-values joined by backslashes."""
    if isinstance(value, (list, tuple, pydicom.multival.MultiValue)):
        return "\\".join(str(item) for item in value)
    return str(value)


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


def _pixel_data_element(file: BinaryIO, dataset: Dataset, file_size: int) -> tuple[int, int] | None:
    """(value offset, declared length) of Pixel Data: stop_before_pixels leaves the file at (7FE0,0010) when present."""
    start = file.tell()
    if start >= file_size:
        return None
    is_implicit, is_little = dataset.original_encoding
    endian = "<" if is_little in (True, None) else ">"
    header = file.read(12)
    if len(header) < 8:
        raise SkipFile("truncated_pixel_data", "file ends inside the Pixel Data tag")
    if is_implicit:
        (length,) = struct.unpack(endian + "I", header[4:8])
        return start + 8, length
    (length,) = struct.unpack(endian + "I", header[8:12])
    return start + 12, length


def number_of_frames(dataset: Dataset) -> int:
    """NumberOfFrames, 1 when absent or empty (single-frame objects)."""
    return int(dataset.get("NumberOfFrames") or 1)
