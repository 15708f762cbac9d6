"""Fake but plausible patient identities, or marked ones that a privacy test can find anywhere they leak."""

import datetime as dt
from dataclasses import dataclass

import numpy as np

MARKED_BIRTH_DATE = "19010203"  # an unusual date no real patient of the phantom gets

_FAMILY_NAMES = (
    "Santoso",
    "Wijaya",
    "Smith",
    "Jones",
    "Taylor",
    "Brown",
    "Nguyen",
    "Kurniawan",
    "Evans",
    "Hughes",
    "Patel",
    "Lestari",
)
_GIVEN_NAMES = ("Adi", "Budi", "Citra", "Dewi", "Emma", "Oliver", "Amelia", "Harry", "Sari", "Putri", "George", "Isla")
_FIRST_STUDY = dt.date(2015, 1, 5)


@dataclass(frozen=True)
class PatientIdentity:
    """The identifying and study-scheduling attributes of one phantom patient."""

    patient_name: str
    patient_id: str
    birth_date: str
    sex: str
    age: str
    study_date: str
    study_time: str
    accession_number: str


def draw_identity(index: int, rng: np.random.Generator, identity_marker: str | None = None) -> PatientIdentity:
    """Draw a patient's identity and study date.

    With `identity_marker`, PatientName is f"{marker}^P{index}", PatientID f"{marker}{index:04d}" and
    PatientBirthDate is MARKED_BIRTH_DATE, so that a test can grep outputs for all three.
    """
    study_date = _FIRST_STUDY + dt.timedelta(days=int(rng.integers(0, 5 * 365)))
    age_years = int(rng.integers(22, 80))
    birth_date = study_date - dt.timedelta(days=int(365.25 * age_years + rng.integers(0, 365)))
    name = f"{rng.choice(_FAMILY_NAMES)}^{rng.choice(_GIVEN_NAMES)}"
    patient_id, birth = f"{rng.integers(10**7, 10**8)}", birth_date.strftime("%Y%m%d")
    if identity_marker is not None:  # drawn anyway, so that the marker changes no other byte of the phantom
        name, patient_id, birth = f"{identity_marker}^P{index}", f"{identity_marker}{index:04d}", MARKED_BIRTH_DATE
    return PatientIdentity(
        patient_name=name,
        patient_id=patient_id,
        birth_date=birth,
        sex=str(rng.choice(["F", "M"])),
        age=f"{age_years:03d}Y",
        study_date=study_date.strftime("%Y%m%d"),
        study_time=f"{rng.integers(7, 19):02d}{rng.integers(0, 60):02d}{rng.integers(0, 60):02d}",
        accession_number=f"A{rng.integers(10**8, 10**9)}",
    )
