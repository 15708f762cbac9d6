"""The phantom writer: reproducible, realistic headers (Table 1), consistent geometry (§3) and Mid / Lateral truth."""

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
import pytest

from lss.phantom import PhantomResult, write_phantom, writer
from lss.phantom.cli import main
from lss.phantom.protocol import TABLE_1
from lss.provenance import PHANTOM_STAMP

MARKER = "ZZPRIVACYMARKER"


@pytest.fixture(scope="module")
def phantom(tmp_path_factory: pytest.TempPathFactory) -> PhantomResult:
    return write_phantom(tmp_path_factory.mktemp("phantom"), n_patients=4, seed=11, identity_marker=MARKER)


@pytest.fixture(scope="module")
def headers(phantom: PhantomResult) -> pd.DataFrame:
    rows = []
    for path in sorted(
        p for p in phantom.out_dir.rglob("*") if p.is_file() and p.suffix != ".csv" and p.name != PHANTOM_STAMP
    ):
        dataset = pydicom.dcmread(path)
        rows.append(
            dict(
                path=path,
                dataset=dataset,
                series=dataset.SeriesInstanceUID,
                sop=dataset.SOPInstanceUID,
                description=str(dataset.SeriesDescription),
                instance=int(dataset.InstanceNumber),
            )
        )
    return pd.DataFrame(rows)


def _values(value: object) -> list[str]:
    """A multi-valued element's values; pydicom gives a single value as a plain string."""
    return list(value) if isinstance(value, pydicom.multival.MultiValue) else [str(value)]


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_the_same_seed_writes_byte_identical_files_and_another_seed_does_not(tmp_path: Path) -> None:
    first = _digest(write_phantom(tmp_path / "a", n_patients=2, seed=5, n_slices=7).out_dir)
    again = _digest(write_phantom(tmp_path / "b", n_patients=2, seed=5, n_slices=7).out_dir)
    other = _digest(write_phantom(tmp_path / "c", n_patients=2, seed=6, n_slices=7).out_dir)
    assert first == again
    assert set(first.values()).isdisjoint(other.values())


def test_parallel_writing_changes_no_byte(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    serial = _digest(write_phantom(tmp_path / "serial", n_patients=2, seed=5, n_slices=5).out_dir)
    monkeypatch.setattr(writer, "PATIENTS_PER_WORKER", 1)
    parallel = _digest(write_phantom(tmp_path / "parallel", n_patients=2, seed=5, n_slices=5).out_dir)
    assert serial == parallel


def test_writing_into_a_non_empty_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "old.dcm").write_bytes(b"")
    with pytest.raises(FileExistsError, match="not empty"):
        write_phantom(tmp_path, n_patients=1, seed=0)


def test_every_sagittal_series_has_exactly_five_mid_slices_around_its_truth(
    phantom: PhantomResult, headers: pd.DataFrame
) -> None:
    sagittal = headers[headers["description"].str.lower().str.contains("sag")]
    assert set(phantom.labels["sop_instance_uid"]) == set(sagittal["sop"])
    labels = sagittal.assign(label=sagittal["sop"].map(phantom.labels.set_index("sop_instance_uid")["label"]))
    truth = phantom.series_truth.set_index("series_instance_uid")
    for series_uid, rows in labels.groupby("series"):
        rows = rows.sort_values("instance")
        mid_instance = rows.loc[rows["sop"] == truth.loc[series_uid, "mid_sop_instance_uid"], "instance"].item()
        expected = np.where(np.abs(rows["instance"] - mid_instance) <= 2, "Mid", "Lateral")
        assert (rows["label"].to_numpy() == expected).all(), series_uid
    assert truth["centred"].mean() >= 0.5 or len(truth) < 8


def test_axial_series_are_written_but_not_labelled(phantom: PhantomResult, headers: pd.DataFrame) -> None:
    axial = headers[headers["description"].str.lower().str.contains("tra")]
    assert len(axial) and not set(axial["sop"]) & set(phantom.labels["sop_instance_uid"])


def test_headers_are_inside_the_table_1_ranges(headers: pd.DataFrame) -> None:
    for dataset in headers["dataset"]:
        weighting = "T1" if "t1" in str(dataset.SeriesDescription).lower() else "T2"
        ranges = TABLE_1[weighting]
        assert (dataset.SOPClassUID, dataset.Modality, dataset.Manufacturer) == (
            pydicom.uid.MRImageStorage,
            "MR",
            "SIEMENS",
        )
        assert (float(dataset.MagneticFieldStrength), float(dataset.ImagingFrequency), float(dataset.FlipAngle)) == (
            1.5,
            63.7,
            150.0,
        )
        assert ranges.repetition_time_ms[0] <= float(dataset.RepetitionTime) <= ranges.repetition_time_ms[1]
        assert ranges.echo_time_ms[0] <= float(dataset.EchoTime) <= ranges.echo_time_ms[1]
        assert float(dataset.SliceThickness) in ranges.slice_thicknesses_mm
        assert (
            ranges.spacing_between_slices_mm[0]
            <= float(dataset.SpacingBetweenSlices)
            <= ranges.spacing_between_slices_mm[1]
        )
        assert (
            ranges.phase_encoding_steps[0] <= int(dataset.NumberOfPhaseEncodingSteps) <= ranges.phase_encoding_steps[1]
        )
        assert ranges.percent_sampling[0] <= float(dataset.PercentSampling) <= ranges.percent_sampling[1]
        assert int(dataset.EchoTrainLength) in ranges.echo_train_lengths
        assert int(dataset.NumberOfAverages) in ranges.numbers_of_averages
        assert float(dataset.PixelBandwidth) in ranges.pixel_bandwidths_hz
        assert _values(dataset.ScanOptions) == list(ranges.scan_options)
        assert list(dataset.SequenceVariant) == ["SK", "SP", "OSP"] and dataset.ScanningSequence == "SE"
        assert (dataset.BitsAllocated, dataset.BitsStored, dataset.HighBit, dataset.PixelRepresentation) == (
            16,
            12,
            11,
            0,
        )
        assert dataset.pixel_array.max() <= 4095
        assert float(dataset.PixelSpacing[0]) * dataset.Rows == pytest.approx(280.0, abs=1e-3)


def test_slices_step_along_the_normal_by_the_spacing_between_slices(headers: pd.DataFrame) -> None:
    for _, rows in headers.groupby("series"):
        datasets = list(rows.sort_values("instance")["dataset"])
        orientation = np.array(datasets[0].ImageOrientationPatient, float)
        normal = np.cross(orientation[:3], orientation[3:])
        positions = np.array([d.ImagePositionPatient for d in datasets], float)
        steps = np.diff(positions, axis=0)
        assert np.allclose(steps, float(datasets[0].SpacingBetweenSlices) * normal, atol=1e-3)
        for dataset, position in zip(datasets, positions):
            assert list(map(float, dataset.ImageOrientationPatient)) == pytest.approx(list(orientation))
            if "SliceLocation" in dataset:
                assert float(dataset.SliceLocation) == pytest.approx(normal @ position, abs=1e-3)


def test_the_layout_varies_like_a_real_repository(headers: pd.DataFrame) -> None:
    """Seed 11 is one whose 4 patients show every variant: this guards the variants, not the seed."""
    firsts = headers.groupby("series").first()
    has_location = firsts["dataset"].map(lambda d: "SliceLocation" in d)
    assert 0 < has_location.sum() < len(firsts)
    sagittal = firsts[firsts["description"].str.lower().str.contains("sag")]
    row_x = sagittal["dataset"].map(lambda d: abs(float(d.ImageOrientationPatient[0])))
    assert row_x.max() > 0.01 and row_x.min() < 1e-6  # some oblique, some straight
    assert {Path(p).suffix for p in headers["path"]} == {"", ".dcm"}
    assert {d.PatientPosition for d in firsts["dataset"]} == {"HFS", "FFS"}


def test_the_identity_marker_is_in_name_id_and_birth_date(headers: pd.DataFrame) -> None:
    for dataset in headers["dataset"]:
        assert MARKER in str(dataset.PatientName) and MARKER in dataset.PatientID
        assert dataset.PatientBirthDate == "19010203"


def test_the_cli_writes_a_phantom_and_summarises_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["--out", str(tmp_path / "cli"), "--patients", "1", "--seed", "0", "--slices", "5"])
    assert "wrote" in capsys.readouterr().out
    assert (tmp_path / "cli" / "labels.csv").exists() and (tmp_path / "cli" / "series_truth.csv").exists()


@pytest.mark.parametrize(
    ("layout", "landmark"),
    [("rsna2024", "train_series_descriptions.csv"), ("spider", "masks/2_t1.mha"), ("mendeley", "0002")],
)
def test_the_cli_writes_a_replica_of_each_public_dataset_layout(
    layout: str, landmark: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["--out", str(tmp_path / layout), "--patients", "2", "--seed", "0", "--layout", layout])
    assert f"wrote a {layout} replica" in capsys.readouterr().out
    assert (tmp_path / layout / landmark).exists()


def test_a_replica_is_byte_identical_for_the_same_seed(tmp_path: Path) -> None:
    from lss.phantom.replicas import write_spider_replica

    first, again = (write_spider_replica(tmp_path / name, n_patients=1, seed=3).root for name in ("a", "b"))
    files = sorted(path.relative_to(first) for path in first.rglob("*.mha"))
    assert files and all((first / path).read_bytes() == (again / path).read_bytes() for path in files)
