"""Mid/Lateral labels: per-slice CSV wins, per-series mid ± K/2, the centring rule, and the §3 validation."""

from pathlib import Path

import pandas as pd
import pytest

from lss.dicom.index_params import NORMAL_LUMBAR_IVD_WIDTH_MM
from lss.dicom.labels import LabelCoverage, label_slices, read_labels_csv, validate_labels
from lss.errors import UserError
from lss.manifest import mid_band


def series_rows(series_uid: str, n_slices: int, spacing_mm: float = 4.0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "series_uid": series_uid,
            "sop_uid": [f"{series_uid}.{index}" for index in range(n_slices)],
            "slice_index": range(n_slices),
            "slice_location_mm": [index * spacing_mm for index in range(n_slices)],
        }
    )


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_rule_marks_the_middle_slice_and_two_each_side_as_in_paper_fig2() -> None:
    labelled = label_slices(series_rows("1.1", 15), labels=None)
    assert labelled["label"].tolist() == ["Lateral"] * 5 + ["Mid"] * 5 + ["Lateral"] * 5
    assert set(labelled["label_source"]) == {"rule"}
    assert labelled.loc[labelled["is_mid_sagittal"], "slice_index"].tolist() == [7]


def test_the_mid_band_shifts_inside_the_series_at_its_edges() -> None:
    assert list(mid_band(7, 15, 5)) == [5, 6, 7, 8, 9]
    assert list(mid_band(0, 15, 5)) == [0, 1, 2, 3, 4]
    assert list(mid_band(14, 15, 3)) == [12, 13, 14]
    assert list(mid_band(1, 3, 5)) == [0, 1, 2]


def test_per_series_csv_centres_on_the_given_mid_slice(tmp_path: Path) -> None:
    labels = read_labels_csv(
        write_csv(tmp_path / "series.csv", "series_instance_uid,mid_sop_instance_uid\n1.1,1.1.4\n")
    )
    labelled = label_slices(series_rows("1.1", 15), labels, band_size=3)
    assert labelled.loc[labelled["label"] == "Mid", "slice_index"].tolist() == [3, 4, 5]
    assert set(labelled["label_source"]) == {"labels"}


def test_per_slice_csv_wins_and_other_series_fall_back_to_the_rule(tmp_path: Path) -> None:
    labels = read_labels_csv(
        write_csv(tmp_path / "slices.csv", "sop_instance_uid,label\n1.1.0,mid\n1.1.1,Lateral\n1.1.2,Lateral\n")
    )
    manifest = pd.concat([series_rows("1.1", 3), series_rows("2.2", 5)], ignore_index=True)
    labelled = label_slices(manifest, labels).set_index("sop_uid")
    assert labelled.loc[["1.1.0", "1.1.1", "1.1.2"], "label"].tolist() == ["Mid", "Lateral", "Lateral"]
    assert labelled.loc["1.1.0", "label_source"] == "labels"
    assert set(labelled.loc[labelled["series_uid"] == "2.2", "label_source"]) == {"rule"}


def test_validation_reports_mid_slices_beyond_half_the_disc_width() -> None:
    # 12 mm spacing: slices two away from the mid lie 24 mm off, beyond 20 mm (half of 40 mm, ref. 18)
    assert NORMAL_LUMBAR_IVD_WIDTH_MM / 2 == 20.0
    labelled = label_slices(series_rows("1.1", 15, spacing_mm=12.0), labels=None)
    findings = validate_labels(labelled, labels=None)
    assert findings["finding"].tolist() == ["mid_beyond_half_ivd_width"] * 2
    assert sorted(findings["sop_uid"]) == ["1.1.5", "1.1.9"]
    assert (labelled["label"] == "Mid").sum() == 5  # reported, never dropped or relabelled


def test_validation_reports_labels_that_match_no_slice_and_unlabelled_slices(tmp_path: Path) -> None:
    labels = read_labels_csv(write_csv(tmp_path / "slices.csv", "sop_instance_uid,label\n1.1.0,Mid\n9.9.9,Mid\n"))
    findings = validate_labels(label_slices(series_rows("1.1", 3), labels), labels)
    assert set(findings["finding"]) == {"unlabelled_slices", "label_without_indexed_slice"}


def test_bad_label_values_and_unknown_columns_name_the_file_and_the_expected_columns(tmp_path: Path) -> None:
    bad_value = write_csv(tmp_path / "bad.csv", "sop_instance_uid,label\n1.1.0,Middle\n")
    with pytest.raises(UserError, match=r"bad\.csv: row 2 has label 'Middle'"):
        read_labels_csv(bad_value)
    expected = (
        r"odd\.csv has columns \['class', 'uid'\]; expected sop_instance_uid,label .* series_instance_uid,mid_sop"
    )
    with pytest.raises(UserError, match=expected):
        read_labels_csv(write_csv(tmp_path / "odd.csv", "uid,class\n1,Mid\n"))
    with pytest.raises(UserError, match=r"empty\.csv is not a readable CSV"):
        read_labels_csv(write_csv(tmp_path / "empty.csv", ""))


def test_conflicting_duplicate_rows_are_refused_naming_the_uids_and_agreeing_ones_kept(tmp_path: Path) -> None:
    rows = "sop_instance_uid,label\n1.1.0,Mid\n1.1.1,Lateral\n1.1.0,Lateral\n1.1.1,lateral\n1.1.2,Mid\n1.1.2,Mid\n"
    with pytest.raises(UserError, match=r"1 UID\(s\) have rows that disagree \(1\.1\.0\)"):
        read_labels_csv(write_csv(tmp_path / "slices.csv", rows))
    agreeing = read_labels_csv(write_csv(tmp_path / "ok.csv", "sop_instance_uid,label\n1.1.0,Mid\n1.1.0,mid\n"))
    assert agreeing.per_slice == {"1.1.0": "Mid"}
    series = "series_instance_uid,mid_sop_instance_uid\n1.1,1.1.4\n2.2,2.2.1\n1.1,1.1.5\n"
    with pytest.raises(UserError, match=r"disagree \(1\.1\)"):
        read_labels_csv(write_csv(tmp_path / "series.csv", series))


def test_label_coverage_counts_csv_and_rule_slices_and_refuses_none_or_partial_unless_told_what_to_do(
    tmp_path: Path,
) -> None:
    manifest = pd.concat([series_rows("1.1", 3), series_rows("2.2", 5)], ignore_index=True)
    partial = read_labels_csv(write_csv(tmp_path / "some.csv", "sop_instance_uid,label\n1.1.0,Mid\n1.1.1,Lateral\n"))
    coverage = LabelCoverage.of(label_slices(manifest, partial))
    assert coverage == LabelCoverage(from_csv=2, from_rule=5, unlabelled=1)
    assert coverage.as_params() == {"labels.from_csv": 2, "labels.from_rule": 5, "labels.unlabelled": 1}
    refusal = r"labels 2 of 8 indexed slices \(5 would get the centre rule, 1 no label\).*data\.unlabelled=drop"
    with pytest.raises(UserError, match=refusal):
        coverage.require(tmp_path / "some.csv", unlabelled="error")
    coverage.require(tmp_path / "some.csv", unlabelled="drop")
    coverage.require(tmp_path / "some.csv", unlabelled="centre_rule")
    unknown = read_labels_csv(write_csv(tmp_path / "other.csv", "sop_instance_uid,label\n9.9.9,Mid\n"))
    for unlabelled in ("drop", "centre_rule"):
        with pytest.raises(UserError, match=r"labels none of the 8 indexed slices"):
            LabelCoverage.of(label_slices(manifest, unknown)).require(tmp_path / "other.csv", unlabelled=unlabelled)
