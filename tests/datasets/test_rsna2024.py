"""RSNA 2024: `lss-labels rsna2024` turns the radiologists' marks into Mid labels and weightings the indexer uses."""

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lss.datasets.cli import main
from lss.datasets.rsna2024 import COORDINATES_FILE, IMAGES_FOLDER, LEFT_FORAMEN, RIGHT_FORAMEN, SERIES_FILE
from lss.dicom.index import IndexResult, index_repository
from lss.manifest import centre_index
from lss.phantom.replicas import Replica, write_rsna2024_replica


@pytest.fixture(scope="module")
def replica(tmp_path_factory: pytest.TempPathFactory) -> Replica:
    """4 studies (seed 0): study 2 has an off-centre T1 and T2, study 4 has no marks, study 1's T2 is a STIR."""
    return write_rsna2024_replica(tmp_path_factory.mktemp("rsna") / "rsna-2024", n_studies=4, seed=0)


@pytest.fixture(scope="module")
def labelled(replica: Replica, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("rsna-labels")
    main(["rsna2024", "--root", str(replica.root), "--out", str(out), "--no-progress"])
    return out


@pytest.fixture(scope="module")
def index(replica: Replica, labelled: Path) -> IndexResult:
    return index_repository(
        replica.root / IMAGES_FOLDER,
        labels_csv=labelled / "labels.csv",
        weighting_csv=labelled / "weighting.csv",
        progress=False,
    )


def test_labels_land_on_the_slices_the_marks_point_at(replica: Replica, index: IndexResult) -> None:
    expected = replica.expected.query("mid_sop_instance_uid != ''")
    assert len(expected) == 6 and not expected["centred"].all()  # off-centre series are among them
    mid = index.manifest[index.manifest["is_mid_sagittal"]].set_index("series_uid")["sop_uid"]
    assert mid[expected["series_instance_uid"]].tolist() == expected["mid_sop_instance_uid"].tolist()
    labelled = index.manifest[index.manifest["series_uid"].isin(expected["series_instance_uid"])]
    assert set(labelled["label_source"]) == {"labels"}
    assert labelled.groupby("series_uid")["label"].apply(lambda labels: (labels == "Mid").sum()).eq(5).all()


def test_the_off_centre_t1_is_labelled_between_its_left_and_right_marks_not_at_the_stack_centre(
    replica: Replica, labelled: Path
) -> None:
    """Left marks median 3 slices one way, right marks (3 levels only) 3 the other: the mid is their midpoint."""
    labels = pd.read_csv(labelled / "labels.csv", dtype={"study_id": str, "series_id": str})
    t1 = labels[labels["series_description"] == "Sagittal T1"].merge(replica.expected, on="series_instance_uid")
    off_centre = t1[~t1["centred"]].iloc[0]
    assert off_centre["mid_slice_index"] != centre_index(off_centre["n_slices"])
    marks = pd.read_csv(replica.root / COORDINATES_FILE, dtype={"study_id": str, "series_id": str})
    marks = marks[(marks["study_id"] == off_centre["study_id"]) & (marks["series_id"] == off_centre["series_id"])]
    left = marks.loc[marks["condition"] == LEFT_FORAMEN, "instance_number"]
    right = marks.loc[marks["condition"] == RIGHT_FORAMEN, "instance_number"]
    assert off_centre["mid_instance_number"] == (left.median() + right.median()) / 2
    assert off_centre["mid_instance_number"] != round(float(np.median([*left, *right])))  # not the median of all marks


def test_series_without_the_marks_they_need_are_counted_and_fall_back_to_the_centre_rule(
    labelled: Path, index: IndexResult, replica: Replica
) -> None:
    status = pd.read_csv(labelled / "series_status.csv")
    assert status["status"].value_counts().to_dict() == {"labelled": 6, "missing_annotations": 2, "not_sagittal": 1}
    unmarked = replica.expected.query("mid_sop_instance_uid == ''")["series_instance_uid"]
    assert len(unmarked) == 2
    assert set(index.manifest.loc[index.manifest["series_uid"].isin(unmarked), "label_source"]) == {"rule"}


def test_the_printed_report_counts_series_by_description_and_status(
    replica: Replica, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["rsna2024", "--root", str(replica.root), "--out", str(tmp_path / "labels"), "--no-progress"])
    printed = " ".join(capsys.readouterr().out.split())
    assert "| Sagittal T1 | 3 | 1 | 0 |" in printed and "| Sagittal T2/STIR | 3 | 1 | 0 |" in printed
    assert "6 series labelled" in printed and "0 sagittal marks match no readable instance" in printed
    assert f"--weighting {tmp_path / 'labels' / 'weighting.csv'}" in printed


def test_a_stir_series_is_t2_from_the_weighting_csv_whatever_its_te_and_tr(
    replica: Replica, labelled: Path, index: IndexResult
) -> None:
    by_headers = index_repository(replica.root / IMAGES_FOLDER, progress=False).manifest
    assert (by_headers.groupby("series_uid")["modality"].first() == "unknown").sum() == 1  # the STIR: TE 25 ms
    weighting = pd.read_csv(labelled / "weighting.csv")
    assert len(weighting) == 8 and set(weighting["modality"]) == {"T1", "T2"}
    series = index.manifest.drop_duplicates("series_uid")
    assert set(series["modality_source"]) == {"weighting_csv"} and "unknown" not in set(series["modality"])
    assert "Weighting sources (series): weighting_csv 8." in index.summary_markdown


def test_marks_are_matched_by_folder_and_instance_number_not_by_file_name(
    replica: Replica, labelled: Path, tmp_path: Path
) -> None:
    renamed = tmp_path / "renamed"
    shutil.copytree(replica.root, renamed)
    for number, path in enumerate(sorted((renamed / IMAGES_FOLDER).rglob("*.dcm"))):
        path.rename(path.with_name(f"IMG{(number * 7919) % 1000:04d}.dcm"))  # file names no longer say the instance
    main(["rsna2024", "--root", str(renamed), "--out", str(tmp_path / "out"), "--no-progress"])
    assert (tmp_path / "out" / "labels.csv").read_text() == (labelled / "labels.csv").read_text()


def test_missing_competition_files_and_an_output_inside_the_dataset_are_one_line_errors(
    replica: Replica, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    partial = tmp_path / "partial"
    partial.mkdir()
    shutil.copy(replica.root / SERIES_FILE, partial)
    for root, out, message in (
        (partial, tmp_path / "out", f"{partial / COORDINATES_FILE} does not exist; point --root at"),
        (replica.root, replica.root / "labels", "lies inside the dataset"),
    ):
        with pytest.raises(SystemExit) as exit_info:
            main(["rsna2024", "--root", str(root), "--out", str(out), "--no-progress"])
        assert exit_info.value.code == 1
        assert message in capsys.readouterr().err
    assert not (replica.root / "labels").exists()
