"""Write the phantom repository: DICOM files in a varied folder layout, labels.csv and series_truth.csv.

The paper's dataset is not reachable, so lss tests and benchmarks its whole pipeline on this phantom:
headers as in Table 1, sagittal geometry as in §3, and the Mid / Lateral truth that §3 defines
(the slice nearest the spine's midline and its four nearest neighbours are Mid).
"""

import datetime as dt
from contextlib import nullcontext
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import UID, ExplicitVRLittleEndian, MRImageStorage, generate_uid
from tqdm import tqdm

from lss.phantom import protocol
from lss.phantom.anatomy import (
    PatientAnatomy,
    draw_image_frame,
    draw_patient_anatomy,
    render_axial_stack,
    render_sagittal_stack,
)
from lss.phantom.geometry import SagittalStack, StackOrientation, draw_sagittal_stack, stack_orientation
from lss.phantom.identity import PatientIdentity, draw_identity
from lss.provenance import stamp_phantom
from lss.workers import process_pool, worker_count

AXIAL_SLICES = 5
AXIAL_PROBABILITY = 0.25  # the share of patients whose study also holds an axial T2 series
NO_SLICE_LOCATION_PROBABILITY = 0.2  # series whose headers lack SliceLocation (§3: then computed from IPP / IOP)
TILTED_PROBABILITY = 0.3  # series planned a few degrees oblique
FEET_FIRST_PROBABILITY = 0.15  # §3: "mostly" Head-First-Supine
PATIENTS_PER_WORKER = 8  # small phantoms (tests) stay in-process
LABELS_FILE, SERIES_TRUTH_FILE = "labels.csv", "series_truth.csv"


@dataclass(frozen=True)
class PhantomResult:
    """What write_phantom wrote: labels (sop_instance_uid, label) for every sagittal slice, and per-series truth."""

    out_dir: Path
    labels: pd.DataFrame
    series_truth: pd.DataFrame
    n_files: int


def write_phantom(
    out_dir: Path,
    n_patients: int,
    seed: int,
    n_slices: int = 15,
    identity_marker: str | None = None,
    progress: bool = False,
) -> PhantomResult:
    """Write `n_patients` studies (sagittal T1 and T2, sometimes an axial T2) into an empty `out_dir`.

    The same seed gives byte-identical files; patient i depends only on (seed, i), so a smaller
    phantom is a prefix of a larger one, and large phantoms are written by parallel processes
    without changing a byte. See identity.draw_identity for what `identity_marker` marks.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise FileExistsError(
            f"phantom output directory {out_dir} is not empty; choose a new --out directory or delete it"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    write_one = partial(_write_patient, out_dir, seed, n_slices, identity_marker)
    workers = worker_count(n_patients, tasks_per_worker=PATIENTS_PER_WORKER)
    with process_pool(workers) if workers > 1 else nullcontext() as pool:
        written = pool.map(write_one, range(n_patients)) if pool else map(write_one, range(n_patients))
        patients = list(tqdm(written, total=n_patients, desc="phantom patients", unit="patient", disable=not progress))
    labels_frame = pd.DataFrame(
        [row for labels, _, _ in patients for row in labels], columns=["sop_instance_uid", "label"]
    )
    truth_frame = pd.DataFrame(
        [row for _, truths, _ in patients for row in truths],
        columns=["series_instance_uid", "mid_sop_instance_uid", "spine_offset_mm", "centred"],
    )
    labels_frame.to_csv(out_dir / LABELS_FILE, index=False)
    truth_frame.to_csv(out_dir / SERIES_TRUTH_FILE, index=False)
    stamp_phantom(out_dir, f"patients={n_patients} seed={seed} slices={n_slices}")
    return PhantomResult(out_dir, labels_frame, truth_frame, sum(n_files for _, _, n_files in patients))


def _write_patient(
    out_dir: Path, seed: int, n_slices: int, identity_marker: str | None, index: int
) -> tuple[list[dict[str, str]], list[dict[str, object]], int]:
    """Write one patient's study; returns its labels rows, series-truth rows and number of files."""
    rng = np.random.default_rng([seed, index])
    study = _Study.draw(out_dir, seed, index, rng, identity_marker)
    acquisitions: list[tuple[protocol.Weighting, protocol.Plane]] = [("T1", "sagittal"), ("T2", "sagittal")]
    rng.shuffle(acquisitions)
    if rng.random() < AXIAL_PROBABILITY:
        acquisitions.append(("T2", "axial"))
    series_number = int(rng.integers(2, 5))  # the localiser came first and is not exported
    labels: list[dict[str, str]] = []
    truths: list[dict[str, object]] = []
    n_files = 0
    for weighting, plane in acquisitions:
        series = _Series.draw(study, series_number, weighting, plane, n_slices, rng)
        if plane == "sagittal":
            labels += series.labels()
            truths.append(series.truth())
        n_files += series.write(rng)
        series_number += int(rng.integers(1, 3))
    return labels, truths, n_files


def _uid(seed: int, *parts: object) -> str:
    """A UID that depends only on the seed and the object's place in the phantom (reproducible files)."""
    return generate_uid(entropy_srcs=["lss-phantom", str(seed), *map(str, parts)])


@dataclass(frozen=True)
class _Study:
    """One patient's study: identity, anatomy, folder, and the patient-level header attributes."""

    seed: int
    index: int
    identity: PatientIdentity
    anatomy: PatientAnatomy
    folder: Path
    layout: int
    patient_position: str
    midline_centre_mm: np.ndarray  # patient coordinates of the midline point at the sagittal FOV centre

    @classmethod
    def draw(
        cls, out_dir: Path, seed: int, index: int, rng: np.random.Generator, identity_marker: str | None
    ) -> "_Study":
        identity = draw_identity(index, rng, identity_marker)
        anatomy = draw_patient_anatomy(rng)
        layout = int(rng.integers(0, 3))
        folder = (
            out_dir
            / (
                f"PAT{index + 1:05d}/STUDY_{identity.study_date}",
                f"subject_{index + 1:03d}/{_uid(seed, index, 'study')}",
                f"P{index + 1:04d}/S0001",
            )[layout]
        )
        position = "FFS" if rng.random() < FEET_FIRST_PROBABILITY else "HFS"
        centre = np.array([rng.normal(0, 6), rng.uniform(20, 70), rng.normal(0, 30)])
        return cls(seed, index, identity, anatomy, folder, layout, position, centre)

    def attributes(self) -> dict[str, object]:
        identity = self.identity
        return dict(
            PatientName=identity.patient_name,
            PatientID=identity.patient_id,
            PatientBirthDate=identity.birth_date,
            PatientSex=identity.sex,
            PatientAge=identity.age,
            PatientPosition=self.patient_position,
            StudyInstanceUID=_uid(self.seed, self.index, "study"),
            StudyID="1",
            StudyDate=identity.study_date,
            StudyTime=identity.study_time,
            AccessionNumber=identity.accession_number,
            StudyDescription="MRI LUMBAR SPINE",
            ReferringPhysicianName="",
            InstitutionName="LSS Phantom Hospital",
            BodyPartExamined="LSPINE",
            FrameOfReferenceUID=_uid(self.seed, self.index, "frame of reference"),
            Manufacturer=protocol.MANUFACTURER,
            ManufacturerModelName=protocol.MANUFACTURER_MODEL_NAME,
            SoftwareVersions="syngo MR B17",
            StationName="MRC25123",
            DeviceSerialNumber="25123",
        )


@dataclass(frozen=True)
class _Series:
    """One series: its Table 1 protocol, slice layout, orientation and the header attributes they imply."""

    study: _Study
    number: int
    parameters: protocol.SeriesProtocol
    orientation: StackOrientation
    offsets_mm: np.ndarray  # of each slice plane along the normal from the reference centre
    stack: SagittalStack | None  # the Mid / Lateral truth; None for an axial series
    has_slice_location: bool
    extension: str

    @classmethod
    def draw(
        cls,
        study: _Study,
        number: int,
        weighting: protocol.Weighting,
        plane: protocol.Plane,
        n_slices: int,
        rng: np.random.Generator,
    ) -> "_Series":
        parameters = protocol.draw_series_protocol(weighting, plane, rng)
        tilts = rng.uniform(-6, 6, 2) if rng.random() < TILTED_PROBABILITY else np.zeros(2)
        if plane == "sagittal":
            stack = draw_sagittal_stack(n_slices, parameters.spacing_between_slices_mm, rng)
            centre, offsets = study.midline_centre_mm, stack.lateral_mm()
        else:
            stack = None
            centre = study.midline_centre_mm + np.array(
                [0, 0, rng.normal(-20, 5)]
            )  # through L4-L5, below the FOV centre
            offsets = (np.arange(AXIAL_SLICES) - AXIAL_SLICES // 2) * parameters.spacing_between_slices_mm
        orientation = stack_orientation(plane, centre, *tilts)
        has_slice_location = bool(rng.random() >= NO_SLICE_LOCATION_PROBABILITY)
        return cls(
            study, number, parameters, orientation, offsets, stack, has_slice_location, str(rng.choice(["", ".dcm"]))
        )

    @property
    def uid(self) -> str:
        return _uid(self.study.seed, self.study.index, "series", self.number)

    def sop_uid(self, slice_index: int) -> str:
        return _uid(self.study.seed, self.study.index, "series", self.number, "instance", slice_index)

    def labels(self) -> list[dict[str, str]]:
        assert self.stack is not None
        return [
            {"sop_instance_uid": self.sop_uid(k), "label": "Mid" if mid else "Lateral"}
            for k, mid in enumerate(self.stack.is_mid())
        ]

    def truth(self) -> dict[str, object]:
        assert self.stack is not None
        return dict(
            series_instance_uid=self.uid,
            mid_sop_instance_uid=self.sop_uid(self.stack.mid_index),
            spine_offset_mm=self.stack.spine_offset_mm,
            centred=self.stack.centred,
        )

    def folder(self) -> Path:
        description = self.parameters.series_description
        return (
            self.study.folder
            / (f"SER{self.number:03d}_{description}", str(self.number), f"SE{self.number}")[self.study.layout]
        )

    def file_name(self, slice_index: int) -> str:
        stem = ("IM{:05d}", "IMG{:04d}", "I{:04d}")[self.study.layout].format(slice_index + 1)
        return stem + self.extension

    def write(self, rng: np.random.Generator) -> int:
        """Render and write every slice; returns the number of files."""
        parameters = self.parameters
        frame = draw_image_frame(parameters.rows, parameters.pixel_spacing_mm, rng)
        if self.stack is None:
            pixels = render_axial_stack(self.study.anatomy, self.offsets_mm, parameters.weighting, frame, rng)
        else:
            pixels = render_sagittal_stack(self.study.anatomy, self.offsets_mm, parameters.weighting, frame, rng)
        pixels = np.rint(pixels).astype(np.uint16)
        low, high = np.percentile(pixels[:, ::4, ::4], [1, 99.5])
        dataset = Dataset()
        dataset.file_meta = FileMetaDataset()
        dataset.file_meta.MediaStorageSOPClassUID = MRImageStorage
        dataset.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        for keyword, value in (self.study.attributes() | self._attributes()).items():
            setattr(dataset, keyword, value)
        dataset.WindowCenter, dataset.WindowWidth = int((low + high) / 2), int(high - low)
        folder = self.folder()
        folder.mkdir(parents=True, exist_ok=True)
        # one dataset, re-filled per slice: much faster than building each
        for slice_index, slice_pixels in enumerate(pixels):
            self._fill_slice(dataset, slice_index, slice_pixels)
            pydicom.dcmwrite(folder / self.file_name(slice_index), dataset, enforce_file_format=True)
        return len(pixels)

    def _attributes(self) -> dict[str, object]:
        """Series-level attributes: Table 1 parameters, orientation, pixel format."""
        p = self.parameters
        started = dt.datetime.strptime(self.study.identity.study_time, "%H%M%S") + dt.timedelta(minutes=4 * self.number)
        series_time, study_date, orientation = (
            started.strftime("%H%M%S"),
            self.study.identity.study_date,
            self.orientation,
        )
        return dict(
            SOPClassUID=MRImageStorage, Modality="MR", SeriesInstanceUID=self.uid, SeriesNumber=self.number,
            SeriesDate=study_date, SeriesTime=series_time, AcquisitionDate=study_date,
            AcquisitionTime=series_time, ContentDate=study_date, ContentTime=series_time,
            SeriesDescription=p.series_description, ProtocolName=p.series_description, AcquisitionNumber=1,
            ImageType=["ORIGINAL", "PRIMARY", "M", "NORM", "DIS2D"],
            ScanningSequence=protocol.SCANNING_SEQUENCE, SequenceVariant=list(protocol.SEQUENCE_VARIANT),
            ScanOptions=list(p.scan_options), MRAcquisitionType="2D", SequenceName=f"*tse2d1_{p.echo_train_length}",
            SliceThickness=p.slice_thickness_mm, SpacingBetweenSlices=p.spacing_between_slices_mm,
            RepetitionTime=p.repetition_time_ms, EchoTime=p.echo_time_ms, NumberOfAverages=p.number_of_averages,
            ImagingFrequency=protocol.IMAGING_FREQUENCY_MHZ, ImagedNucleus="1H", EchoNumbers=1,
            MagneticFieldStrength=protocol.MAGNETIC_FIELD_STRENGTH_T, NumberOfPhaseEncodingSteps=p.phase_encoding_steps,
            EchoTrainLength=p.echo_train_length, PercentSampling=p.percent_sampling,
            PercentPhaseFieldOfView=protocol.PERCENT_PHASE_FIELD_OF_VIEW, PixelBandwidth=p.pixel_bandwidth_hz,
            ReceiveCoilName="Spine", TransmitCoilName="Body", FlipAngle=protocol.FLIP_ANGLE_DEG,
            AcquisitionMatrix=[p.rows, 0, 0, round(p.columns * p.percent_sampling / 100)],
            InPlanePhaseEncodingDirection="ROW", VariableFlipAngleFlag="N",
            ImageOrientationPatient=[f"{v:.8f}" for v in (*orientation.row_direction, *orientation.column_direction)],
            Rows=p.rows, Columns=p.columns, PixelSpacing=[round(p.pixel_spacing_mm, 6)] * 2,
            SamplesPerPixel=1, PhotometricInterpretation="MONOCHROME2",
            BitsAllocated=16, BitsStored=12, HighBit=11, PixelRepresentation=0,
        )  # fmt: skip  # a DICOM header reads as a table: related attributes share a line

    def _fill_slice(self, dataset: Dataset, slice_index: int, pixels: np.ndarray) -> None:
        """Set the attributes that differ between the slices of a series: UID, number, position, pixels."""
        p = self.parameters
        dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID = UID(self.sop_uid(slice_index))
        dataset.InstanceNumber = slice_index + 1
        position = self.orientation.image_position(
            float(self.offsets_mm[slice_index]), p.rows, p.columns, p.pixel_spacing_mm
        )
        dataset.ImagePositionPatient = [f"{v:.4f}" for v in position]
        if self.has_slice_location:
            dataset.SliceLocation = f"{float(self.orientation.normal @ position):.4f}"  # §3: s = n . p
        dataset.PixelData = pixels.tobytes()
