"""Float pixels of one slice for the data module: rescaled, MONOCHROME1 inverted, any supported syntax;
a slice of a volume (.mha / .nii / .nii.gz) laid out as the indexer laid it out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset

from lss.dicom.headers import number_of_frames
from lss.dicom.volumes import is_volume, read_volume_slice


class DicomPixelError(RuntimeError):
    """A slice's pixels cannot be turned into a 2-D grayscale image; the message names the file."""


def read_slice_pixels(path: str | Path, frame: int = 0) -> np.ndarray:
    """2-D float32 modality values of `frame`: RescaleSlope/Intercept applied, MONOCHROME1 flipped to MONOCHROME2.

    Compressed transfer syntaxes (JPEG Lossless, JPEG 2000, RLE, ...) decode through pydicom's
    pylibjpeg plugins; only the requested frame of a multi-frame file is decoded.
    """
    if is_volume(Path(path)):
        try:
            return read_volume_slice(Path(path), frame)
        except Exception as error:
            raise DicomPixelError(f"{path}: cannot read slice {frame} ({type(error).__name__}: {error})") from error
    try:
        dataset = pydicom.dcmread(path)
    except Exception as error:
        raise DicomPixelError(f"{path}: cannot read DICOM ({type(error).__name__}: {error})") from error
    if "PixelData" not in dataset:
        raise DicomPixelError(f"{path}: no Pixel Data (7FE0,0010) element")
    photometric = str(dataset.get("PhotometricInterpretation", "")).strip()
    if int(dataset.get("SamplesPerPixel") or 1) != 1 or photometric not in ("MONOCHROME1", "MONOCHROME2"):
        raise DicomPixelError(f"{path}: PhotometricInterpretation {photometric!r}, expected MONOCHROME1 or MONOCHROME2")
    n_frames = number_of_frames(dataset)
    if not 0 <= frame < n_frames:
        raise DicomPixelError(f"{path}: frame {frame} requested, NumberOfFrames is {n_frames}")
    try:
        stored = dataset.pixel_array if n_frames == 1 else pydicom.pixels.pixel_array(dataset, index=frame)
    except Exception as error:
        syntax = dataset.file_meta.get("TransferSyntaxUID", "unknown")
        raise DicomPixelError(
            f"{path}: cannot decode Pixel Data with TransferSyntaxUID {syntax} ({getattr(syntax, 'name', '')}): "
            f"{error}. Is the matching pylibjpeg plugin installed?"
        ) from error
    if stored.ndim != 2:
        raise DicomPixelError(f"{path}: decoded pixels have shape {stored.shape}, expected 2-D")
    slope, intercept = _rescale(dataset, frame)
    pixels = stored.astype(np.float32) * np.float32(slope) + np.float32(intercept)
    if photometric == "MONOCHROME1":
        low, high = sorted(value * slope + intercept for value in _stored_range(dataset))
        pixels = np.float32(low + high) - pixels
    return pixels


def _rescale(dataset: Dataset, frame: int) -> tuple[float, float]:
    """RescaleSlope/Intercept from the frame's PixelValueTransformationSequence, the shared groups, or the top level."""
    sources: list[Dataset] = []
    for groups_keyword, index in (("PerFrameFunctionalGroupsSequence", frame), ("SharedFunctionalGroupsSequence", 0)):
        groups = dataset.get(groups_keyword)
        if groups and len(groups) > index:
            sources += list(groups[index].get("PixelValueTransformationSequence") or [])
    sources.append(dataset)
    for source in sources:
        if source.get("RescaleSlope") is not None or source.get("RescaleIntercept") is not None:
            return float(source.get("RescaleSlope", 1.0) or 1.0), float(source.get("RescaleIntercept", 0.0) or 0.0)
    return 1.0, 0.0


def _stored_range(dataset: Dataset) -> tuple[int, int]:
    """The representable stored values, so MONOCHROME1 inversion does not depend on image content."""
    bits = int(dataset.get("BitsStored") or dataset.get("BitsAllocated") or 16)
    if int(dataset.get("PixelRepresentation") or 0) == 1:
        return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    return 0, 2**bits - 1
