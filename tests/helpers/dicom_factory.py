"""Small DICOM writers for tests: one slice, one sagittal series, one enhanced multi-frame MR, one JPEG Lossless slice.

Tests need files the phantom does not write (broken, exotic or vendor-specific headers), so they build
them here with pydicom, on disk, the way the indexer will meet them.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import (
    UID,
    ExplicitVRLittleEndian,
    JPEGLosslessSV1,
    MRImageStorage,
    generate_uid,
)

SAGITTAL_HFS = (0.0, 1.0, 0.0, 0.0, 0.0, -1.0)
"""Rows run anterior->posterior, columns head->feet: normal = (-1, 0, 0), so n·p = -x."""
AXIAL = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
CORONAL = (1.0, 0.0, 0.0, 0.0, 0.0, -1.0)
ENHANCED_MR_STORAGE = UID("1.2.840.10008.5.1.4.1.1.4.1")


def ramp_pixels(rows: int = 16, columns: int = 16, offset: int = 0) -> np.ndarray:
    return (np.arange(rows * columns, dtype=np.uint16).reshape(rows, columns) + offset) % 4096


def mr_dataset(
    *,
    series_uid: str,
    sop_uid: str | None = None,
    sop_class: str = MRImageStorage,
    patient_id: str = "PATIENT-1",
    study_uid: str = "1.2.826.0.1.3680043.8.498.1",
    orientation: tuple[float, ...] | None = SAGITTAL_HFS,
    position: tuple[float, float, float] | None = (0.0, -100.0, 100.0),
    te_ms: float | None = 90.0,
    tr_ms: float | None = 3500.0,
    description: str = "t2_tse_sag",
    pixels: np.ndarray | None = None,
    photometric: str = "MONOCHROME2",
    **extra: object,
) -> Dataset:
    """A single-frame MR image dataset with explicit little-endian meta; pixels=None means a 16x16 ramp."""
    dataset = Dataset()
    dataset.file_meta = FileMetaDataset()
    dataset.file_meta.MediaStorageSOPClassUID = sop_class
    dataset.file_meta.MediaStorageSOPInstanceUID = sop_uid or generate_uid()
    dataset.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset.SOPClassUID = sop_class
    dataset.SOPInstanceUID = dataset.file_meta.MediaStorageSOPInstanceUID
    dataset.StudyInstanceUID = study_uid
    dataset.SeriesInstanceUID = series_uid
    dataset.PatientID = patient_id
    dataset.PatientName = "Test^Patient"
    dataset.Modality = "MR"
    dataset.SeriesDescription = description
    if orientation is not None:
        dataset.ImageOrientationPatient = list(orientation)
    if position is not None:
        dataset.ImagePositionPatient = list(position)
    if te_ms is not None:
        dataset.EchoTime = te_ms
    if tr_ms is not None:
        dataset.RepetitionTime = tr_ms
    for keyword, value in extra.items():
        setattr(dataset, keyword, value)
    image = ramp_pixels() if pixels is None else pixels
    dataset.SamplesPerPixel = 1 if image.ndim == 2 else image.shape[-1]
    dataset.PhotometricInterpretation = photometric
    dataset.Rows, dataset.Columns = image.shape[:2]
    dataset.BitsAllocated, dataset.BitsStored, dataset.HighBit = 16, 12, 11
    dataset.PixelRepresentation = 0
    if image.ndim == 3:
        dataset.PlanarConfiguration = 0
        dataset.BitsAllocated, dataset.BitsStored, dataset.HighBit = 8, 8, 7
        image = image.astype(np.uint8)
    else:
        image = image.astype(np.uint16)
    dataset.PixelData = image.tobytes()
    return dataset


def write(dataset: Dataset, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    dataset.save_as(path, enforce_file_format=True)
    return path


def write_sagittal_series(
    directory: Path,
    n_slices: int = 15,
    spacing_mm: float = 4.0,
    series_uid: str | None = None,
    name_prefix: str = "IM",
    first_x_mm: float = -28.0,
    **fields: object,
) -> list[Path]:
    """n_slices parallel sagittal slices at x = first_x + k*spacing, written in a shuffled file-name order."""
    series_uid = series_uid or generate_uid()
    order = np.random.default_rng(0).permutation(n_slices)
    paths = []
    for file_number, k in enumerate(order):
        dataset = mr_dataset(series_uid=series_uid, position=(first_x_mm + k * spacing_mm, -100.0, 100.0), **fields)
        paths.append(write(dataset, directory / f"{name_prefix}{file_number:04d}"))
    return paths


def write_enhanced_mr(path: Path, x_positions_mm: list[float], te_ms: float = 12.0, tr_ms: float = 600.0) -> Path:
    """Enhanced MR Image Storage: orientation and timing in shared groups, one position per frame."""
    dataset = mr_dataset(
        series_uid=generate_uid(),
        sop_class=ENHANCED_MR_STORAGE,
        orientation=None,
        position=None,
        te_ms=None,
        tr_ms=None,
        description="t1_3d_sag",
        pixels=ramp_pixels(),
    )
    frames = np.stack([ramp_pixels(offset=100 * index) for index in range(len(x_positions_mm))])
    dataset.NumberOfFrames = len(x_positions_mm)
    dataset.PixelData = frames.astype(np.uint16).tobytes()
    shared = Dataset()
    shared.PlaneOrientationSequence = [Dataset()]
    shared.PlaneOrientationSequence[0].ImageOrientationPatient = list(SAGITTAL_HFS)
    shared.MRTimingAndRelatedParametersSequence = [Dataset()]
    shared.MRTimingAndRelatedParametersSequence[0].RepetitionTime = tr_ms
    shared.PixelValueTransformationSequence = [Dataset()]
    shared.PixelValueTransformationSequence[0].RescaleSlope = 2.0
    shared.PixelValueTransformationSequence[0].RescaleIntercept = -5.0
    dataset.SharedFunctionalGroupsSequence = [shared]
    per_frame = []
    for x_mm in x_positions_mm:
        groups = Dataset()
        groups.PlanePositionSequence = [Dataset()]
        groups.PlanePositionSequence[0].ImagePositionPatient = [x_mm, -100.0, 100.0]
        groups.MREchoSequence = [Dataset()]
        groups.MREchoSequence[0].EffectiveEchoTime = te_ms
        per_frame.append(groups)
    dataset.PerFrameFunctionalGroupsSequence = per_frame
    return write(dataset, path)


def jpeg_lossless_sv1(image: np.ndarray, precision: int = 16) -> bytes:
    """A minimal JPEG Lossless, Non-Hierarchical, First-Order Prediction (SV1) codestream.

    No encoder for this syntax ships with pydicom's plugins, so the test writes one: predictor 1
    (left neighbour), one Huffman table giving every difference category a 5-bit code.
    """
    rows, columns = image.shape
    values = image.astype(np.int64)
    modulus = 1 << 16
    bits: list[str] = []
    for row in range(rows):
        for column in range(columns):
            if row == 0 and column == 0:
                predicted = 1 << (precision - 1)
            elif column == 0:
                predicted = values[row - 1, 0]
            else:
                predicted = values[row, column - 1]
            difference = (int(values[row, column]) - int(predicted)) % modulus
            if difference >= 1 << 15:
                difference -= modulus
            category = abs(difference).bit_length() if difference != -(1 << 15) else 16
            bits.append(format(category, "05b"))
            if 0 < category < 16:
                extra = difference if difference > 0 else difference - 1
                bits.append(format(extra & ((1 << category) - 1), f"0{category}b"))
    stream = "".join(bits)
    stream += "1" * (-len(stream) % 8)
    scan = bytearray()
    for start in range(0, len(stream), 8):
        byte = int(stream[start : start + 8], 2)
        scan.append(byte)
        if byte == 0xFF:
            scan.append(0x00)
    counts = [0] * 16
    counts[4] = 17  # 17 codes of length 5: categories 0..16
    huffman = bytes([0x00]) + bytes(counts) + bytes(range(17))
    frame = struct.pack(">BHHB", precision, rows, columns, 1) + bytes([1, 0x11, 0])
    start_of_scan = bytes([1, 1, 0x00]) + bytes([1, 0, 0])  # component 1, table 0; Ss=1 (predictor), Se=0, Ah/Al=0

    def segment(marker: int, body: bytes) -> bytes:
        return struct.pack(">HH", marker, len(body) + 2) + body

    return (
        b"\xff\xd8"
        + segment(0xFFC4, huffman)
        + segment(0xFFC3, frame)
        + segment(0xFFDA, start_of_scan)
        + bytes(scan)
        + b"\xff\xd9"
    )


def write_jpeg_lossless(path: Path, image: np.ndarray, series_uid: str, **fields: object) -> Path:
    dataset = mr_dataset(series_uid=series_uid, pixels=image, **fields)
    dataset.file_meta.TransferSyntaxUID = JPEGLosslessSV1
    dataset.BitsStored, dataset.HighBit = 16, 15
    dataset.PixelData = encapsulate([jpeg_lossless_sv1(image)])
    dataset["PixelData"].VR = "OB"
    return write(dataset, path)
