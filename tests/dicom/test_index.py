"""index_repository / lss-index end to end on repositories written to disk."""

from pathlib import Path

import pandas as pd
import pytest

from helpers import unpadded
from helpers.dicom_factory import AXIAL, mr_dataset, write, write_sagittal_series
from lss.dicom.index import index_repository
from lss.dicom.privacy import load_patient_secret, patient_key
from lss.index_cli import main
from lss.manifest import COLUMNS
from lss.phantom import write_phantom

PATIENT_ID = "PATIENT-ID-7c1f-UNIQUE"


@pytest.fixture(autouse=True)
def patient_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LSS_PATIENT_KEY", "test-secret")


@pytest.fixture
def two_series_repository(tmp_path: Path) -> Path:
    """A study with sagittal T1 and T2 (15 slices each, shuffled file names, no extensions) and an axial series."""
    root = tmp_path / "repo"
    write_sagittal_series(
        root / "study" / "t1",
        series_uid="1.2.1",
        te_ms=11.0,
        tr_ms=600.0,
        description="t1_tse_sag",
        patient_id=PATIENT_ID,
        EchoTrainLength=200,
    )
    write_sagittal_series(root / "study" / "t2", series_uid="1.2.2", te_ms=90.0, tr_ms=3500.0, patient_id=PATIENT_ID)
    for index in range(3):
        write(
            mr_dataset(series_uid="1.2.3", orientation=AXIAL, position=(0, 0, 10.0 * index), patient_id=PATIENT_ID),
            root / "study" / "ax" / f"ax{index}.dcm",
        )
    return root


def test_indexing_keeps_sagittal_slices_ordered_by_n_dot_p(two_series_repository: Path, tmp_path: Path) -> None:
    result = index_repository(two_series_repository, tmp_path / "out", progress=False)
    manifest = result.manifest
    assert list(manifest.columns) == list(COLUMNS)
    assert len(manifest) == 30 and set(manifest["plane"]) == {"sagittal"}
    t1 = manifest[manifest["series_uid"] == "1.2.1"]
    assert set(t1["modality"]) == {"T1"}  # ETL 200 does not make it T2
    assert set(manifest.loc[manifest["series_uid"] == "1.2.2", "modality"]) == {"T2"}
    # HFS sagittal: n·p = -x, slices at x = -28 .. 28 mm -> locations ascending -28 .. 28
    assert t1["slice_location_mm"].tolist() == [-28.0 + 4 * k for k in range(15)]
    assert t1["slice_index"].tolist() == list(range(15)) and set(t1["n_slices"]) == {15}
    assert t1["label"].tolist() == ["Lateral"] * 5 + ["Mid"] * 5 + ["Lateral"] * 5
    assert set(result.skipped["reason"]) == {"not_sagittal"} and len(result.skipped) == 3


def test_every_file_is_accounted_for_exactly_once(two_series_repository: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    index_repository(two_series_repository, out, progress=False)
    manifest, skipped = pd.read_csv(out / "manifest.csv", dtype=str), pd.read_csv(out / "skipped.csv", dtype=str)
    on_disk = {p.relative_to(two_series_repository).as_posix() for p in two_series_repository.rglob("*") if p.is_file()}
    assert set(manifest["path"]).isdisjoint(skipped["path"])
    assert set(manifest["path"]) | set(skipped["path"]) == on_disk
    assert not skipped["path"].duplicated().any()


def test_stored_slice_location_is_reported_but_never_used_for_order(tmp_path: Path) -> None:
    # Philips-style stored SliceLocation = -n·p: order must still follow n·p
    root = tmp_path / "repo"
    for k in range(5):
        write(mr_dataset(series_uid="1.5", position=(4.0 * k, 0, 0), SliceLocation=4.0 * k), root / f"s{k}")
    manifest = index_repository(root, progress=False).manifest
    assert manifest["slice_location_mm"].tolist() == [-16.0, -12.0, -8.0, -4.0, 0.0]
    assert manifest["stored_slice_location_mm"].tolist() == [16.0, 12.0, 8.0, 4.0, 0.0]


def test_multi_echo_series_is_split_into_one_series_per_echo(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    for echo, te_ms in ((1, 15.0), (2, 90.0)):
        write_sagittal_series(
            root, n_slices=5, series_uid="1.6", name_prefix=f"e{echo}_", te_ms=te_ms, tr_ms=3000.0, EchoNumbers=echo
        )
    manifest = index_repository(root, progress=False).manifest
    assert sorted(set(manifest["series_uid"])) == ["1.6.echo1", "1.6.echo2"]
    assert set(manifest["source_series_uid"]) == {"1.6"} and set(manifest["series_split"]) == {
        "echo_number=1",
        "echo_number=2",
    }
    assert set(manifest.groupby("series_uid")["n_slices"].first()) == {5}


def test_magnitude_and_phase_are_split_and_inseparable_copies_are_skipped(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    write_sagittal_series(
        root / "mp", n_slices=3, series_uid="1.7", name_prefix="m", ImageType=["ORIGINAL", "PRIMARY", "M"]
    )
    write_sagittal_series(
        root / "mp", n_slices=3, series_uid="1.7", name_prefix="p", ImageType=["ORIGINAL", "PRIMARY", "P"]
    )
    write_sagittal_series(root / "dup", n_slices=3, series_uid="1.8", name_prefix="a")
    write_sagittal_series(root / "dup", n_slices=3, series_uid="1.8", name_prefix="b")
    result = index_repository(root, progress=False)
    assert sorted(set(result.manifest["series_uid"])) == ["1.7.part1", "1.7.part2"]
    assert result.skipped["reason"].tolist() == ["same_position_slices"] * 6


def test_non_parallel_slices_in_one_series_are_skipped_as_mixed_orientation(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    write(mr_dataset(series_uid="1.9", position=(0, 0, 0)), root / "a")
    write(mr_dataset(series_uid="1.9", position=(4, 0, 0), orientation=(0.2, 0.9797959, 0, 0, 0, -1)), root / "b")
    assert index_repository(root, progress=False).skipped["reason"].tolist() == ["mixed_orientation"] * 2


def test_patient_key_is_a_stable_keyed_hash_and_the_raw_id_is_nowhere(
    two_series_repository: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    result = index_repository(two_series_repository, out, progress=False, montage=True)
    assert set(result.manifest["patient_key"]) == {patient_key(PATIENT_ID, b"test-secret")}
    assert patient_key(PATIENT_ID, b"other-secret") != patient_key(PATIENT_ID, b"test-secret")
    for written in out.rglob("*"):
        if written.is_file():
            content = written.read_bytes()
            assert PATIENT_ID.encode() not in content and b"Test^Patient" not in content, written


def test_secret_file_is_created_once_and_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LSS_PATIENT_KEY")
    secret_file = tmp_path / "cache" / "patient_key.secret"
    first = load_patient_secret(secret_file)
    assert load_patient_secret(secret_file) == first and len(first) == 64
    assert oct(secret_file.stat().st_mode & 0o777) == "0o600"


def test_cli_writes_outputs_montages_and_prints_table_2(
    two_series_repository: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    main(["--root", str(two_series_repository), "--out", str(out), "--montage", "--no-progress", "--workers", "2"])
    printed = unpadded(capsys.readouterr().out)
    assert "| Class \\ Sequence Types | T1-weighted | T2-weighted |" in printed
    assert "| Mid | 5 | 5 |" in printed and "| Total | 15 | 15 |" in printed
    assert sorted(p.name for p in (out / "montages").iterdir()) == ["1.2.1.png", "1.2.2.png"]
    assert {"manifest.csv", "skipped.csv", "summary.md", "label_findings.csv"} <= {p.name for p in out.iterdir()}


def test_output_folder_inside_the_root_is_not_indexed(two_series_repository: Path) -> None:
    out = two_series_repository / "index_out"
    index_repository(two_series_repository, out, progress=False)
    second = index_repository(two_series_repository, out, progress=False)
    assert not second.skipped["path"].str.startswith("index_out").any()


def test_parallel_and_serial_reading_give_the_same_manifest(two_series_repository: Path) -> None:
    serial = index_repository(two_series_repository, workers=1, progress=False).manifest
    parallel = index_repository(two_series_repository, workers=2, progress=False).manifest
    pd.testing.assert_frame_equal(serial, parallel)


def test_help_exits_cleanly() -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0


@pytest.fixture(scope="module")
def phantom_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("phantom")
    write_phantom(root, n_patients=4, seed=3)
    return root


def test_indexing_a_phantom_with_its_labels_reproduces_labels_csv_exactly(phantom_root: Path, tmp_path: Path) -> None:
    result = index_repository(phantom_root, tmp_path / "out", labels_csv=phantom_root / "labels.csv", progress=False)
    truth = pd.read_csv(phantom_root / "labels.csv", dtype=str)
    indexed = result.manifest[["sop_uid", "label"]].rename(columns={"sop_uid": "sop_instance_uid"})
    assert sorted(map(tuple, indexed.values)) == sorted(map(tuple, truth[["sop_instance_uid", "label"]].values))
    assert set(result.manifest["label_source"]) == {"labels"}
    assert result.label_findings.query("finding == 'mid_beyond_half_ivd_width'").empty


def test_the_rule_alone_agrees_with_the_phantom_labels_where_the_spine_is_centred(phantom_root: Path) -> None:
    manifest = index_repository(phantom_root, progress=False).manifest
    truth = pd.read_csv(phantom_root / "labels.csv", dtype=str).set_index("sop_instance_uid")["label"]
    series_truth = pd.read_csv(phantom_root / "series_truth.csv", dtype=str)
    centred = set(series_truth.loc[series_truth["centred"].str.lower().isin(["true", "1"]), "series_instance_uid"])
    assert centred, "the phantom should centre the spine in some series"
    on_centred = manifest[manifest["series_uid"].isin(centred)]
    assert (on_centred["label"].values == on_centred["sop_uid"].map(truth).values).all()
