"""T1/T2 weighting on the Table 1 ranges and on the traps of real 3D T1 and MP-RAGE headers; the weighting CSV."""

from pathlib import Path

import pandas as pd
import pytest

from helpers.dicom_factory import write_sagittal_series
from lss.dicom.index import index_repository
from lss.dicom.index_cache import indexed_manifest
from lss.dicom.index_params import IndexParams
from lss.dicom.weighting import description_vote, is_fat_suppressed, weighting
from lss.errors import UserError
from lss.index_cli import main
from lss.manifest import STIR, T1, T2, UNKNOWN


@pytest.mark.parametrize("te_ms", [9.2, 12.0])
@pytest.mark.parametrize("tr_ms", [330.0, 926.0])
def test_table1_t1_corners_are_t1(te_ms: float, tr_ms: float) -> None:
    assert weighting(te_ms, tr_ms, "") == T1


@pytest.mark.parametrize("te_ms", [67.0, 96.0])
@pytest.mark.parametrize("tr_ms", [3190.0, 4000.0])
def test_table1_t2_corners_are_t2(te_ms: float, tr_ms: float) -> None:
    assert weighting(te_ms, tr_ms, "") == T2


def test_3d_t1_with_a_long_echo_train_is_still_t1() -> None:
    # 3D T1 (SPACE/CUBE/VISTA) report ETL 160-256; ETL is not even an input, TE and TR decide.
    assert weighting(20.0, 700.0, "t1_space_sag_iso") == T1


def test_mprage_long_tr_short_te_needs_the_description() -> None:
    assert weighting(3.0, 2300.0, "t1_mprage_sag") == T1
    assert weighting(3.0, 2300.0, "") == UNKNOWN  # evidence disagrees and nothing breaks the tie


def test_tr_never_decides_alone() -> None:
    assert weighting(None, 4000.0, "") == UNKNOWN
    assert weighting(None, 500.0, "") == UNKNOWN
    assert weighting(45.0, 4000.0, "") == UNKNOWN  # intermediate TE (proton density) is no evidence


def test_description_breaks_ties_but_not_against_tr() -> None:
    assert weighting(None, None, "sag T2 FSE") == T2
    assert weighting(None, 500.0, "sag T2 FSE") == UNKNOWN
    assert weighting(90.0, 500.0, "t1_se_sag") == UNKNOWN  # TE says T2, TR and text say T1: disagreement


@pytest.mark.parametrize(
    ("description", "expected"),
    [
        ("t2_tse_sag", T2),
        ("T1W_SE", T1),
        ("SAG T1 FLAIR", T1),
        ("t1_mp-rage", T1),
        ("T1 and T2", None),
        ("localizer", None),
        ("t12 map", None),
    ],
)
def test_series_description_vote(description: str, expected: str | None) -> None:
    assert description_vote(description) == expected


# -- a weighting CSV (series_instance_uid, modality) overrides the headers --------------------------


@pytest.fixture
def t1_and_t2_repository(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    write_sagittal_series(root / "t1", n_slices=5, series_uid="1.2.1", te_ms=11.0, tr_ms=600.0, description="t1")
    write_sagittal_series(root / "stir", n_slices=5, series_uid="1.2.2", te_ms=25.0, tr_ms=3500.0, description="stir")
    return root


def write_csv(path: Path, rows: list[tuple[str, ...]]) -> Path:
    path.write_text("\n".join(",".join(row) for row in rows) + "\n")
    return path


def test_a_weighting_csv_decides_whatever_te_and_tr_say_and_the_summary_counts_the_sources(
    t1_and_t2_repository: Path, tmp_path: Path
) -> None:
    by_headers = index_repository(t1_and_t2_repository, progress=False).manifest.groupby("series_uid")["modality"]
    assert by_headers.first().to_dict() == {"1.2.1": "T1", "1.2.2": "STIR"}  # the description, no IR header against it
    csv = write_csv(tmp_path / "weighting.csv", [("series_instance_uid", "modality"), ("1.2.2", "t2"), ("9.9.9", "T1")])
    result = index_repository(t1_and_t2_repository, weighting_csv=csv, progress=False)
    series = result.manifest.groupby("series_uid")[["modality", "modality_source"]].first()
    assert series.to_dict("index") == {
        "1.2.1": {"modality": "T1", "modality_source": "headers"},
        "1.2.2": {"modality": "T2", "modality_source": "weighting_csv"},
    }
    assert "Weighting sources (series): headers 1, weighting_csv 1." in result.summary_markdown
    assert f"Weighting CSV {csv}: 2 series, 1 of them not indexed (first: 9.9.9)." in result.summary_markdown


def test_the_parts_of_a_split_series_take_the_weighting_of_the_series_they_came_from(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    for echo, te_ms in ((1, 15.0), (2, 90.0)):
        write_sagittal_series(
            root, n_slices=5, series_uid="1.6", name_prefix=f"e{echo}_", te_ms=te_ms, EchoNumbers=echo
        )
    csv = write_csv(tmp_path / "weighting.csv", [("series_instance_uid", "modality"), ("1.6", "T2")])
    manifest = index_repository(root, weighting_csv=csv, progress=False).manifest
    assert set(manifest["series_uid"]) == {"1.6.echo1", "1.6.echo2"} and set(manifest["modality"]) == {"T2"}


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([("series_uid", "weighting"), ("1.2.1", "T1")], r"lacks column\(s\) \['series_instance_uid', 'modality'\]"),
        ([("series_instance_uid", "modality"), ("1.2.1", "T1"), ("1.2.2", "PD")], "row 3 has modality 'PD'"),
        (
            [("series_instance_uid", "modality"), ("1.2.1", "T1"), ("1.2.1", "T2")],
            "1.2.1 is listed with two weightings",
        ),
    ],
)
def test_a_bad_weighting_csv_is_refused_naming_the_file_and_the_fix(
    rows: list[tuple[str, ...]], message: str, t1_and_t2_repository: Path, tmp_path: Path
) -> None:
    csv = write_csv(tmp_path / "weighting.csv", rows)
    with pytest.raises(UserError, match=message):
        index_repository(t1_and_t2_repository, weighting_csv=csv, progress=False)


def test_lss_index_takes_a_weighting_csv_and_the_cache_keys_on_its_content(
    t1_and_t2_repository: Path, tmp_path: Path
) -> None:
    csv = write_csv(tmp_path / "weighting.csv", [("series_instance_uid", "modality"), ("1.2.2", "T2")])
    main(
        ["--root", str(t1_and_t2_repository), "--out", str(tmp_path / "out"), "--weighting", str(csv), "--no-progress"]
    )
    assert set(pd.read_csv(tmp_path / "out" / "manifest.csv")["modality"]) == {"T1", "T2"}
    cache = tmp_path / "cache"
    as_t2 = indexed_manifest(t1_and_t2_repository, cache, None, IndexParams(), progress=False, weighting=csv)
    assert indexed_manifest(t1_and_t2_repository, cache, None, IndexParams(), False, weighting=csv) == as_t2
    write_csv(csv, [("series_instance_uid", "modality"), ("1.2.2", "T1")])
    as_t1 = indexed_manifest(t1_and_t2_repository, cache, None, IndexParams(), progress=False, weighting=csv)
    without = indexed_manifest(t1_and_t2_repository, cache, None, IndexParams(), progress=False)
    assert len({as_t2, as_t1, without}) == 3
    assert set(pd.read_csv(as_t1)["modality"]) == {"T1"}


def test_lss_index_names_a_missing_weighting_csv_in_one_line(
    t1_and_t2_repository: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--root", str(t1_and_t2_repository), "--out", str(tmp_path / "out"), "--weighting", "/no/such.csv"])
    assert exit_info.value.code == 1
    assert capsys.readouterr().err == (
        "Error: weighting CSV /no/such.csv does not exist; give a CSV with columns series_instance_uid,modality\n"
    )


# -- STIR / TIRM and fat suppression ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("te_ms", "tr_ms", "description", "ti_ms", "scanning_sequence", "expected"),
    [
        (25.0, 3000.0, "STIR SAG", 110.0, "IR", STIR),  # the Hitachi study of issue 21
        (60.0, 4000.0, "t2_tirm_sag", 150.0, "SE\\IR", STIR),  # Siemens TIRM: TE/TR alone say T2
        (70.0, 3500.0, "", 220.0, "IR", STIR),  # 3 T STIR, no description
        (10.0, 2000.0, "t1_flair_sag", 800.0, "IR", T1),  # T1-weighted IR: a long TI is no STIR
        (120.0, 9000.0, "t2_flair_sag", 2500.0, "SE\\IR", T2),  # FLAIR
        (90.0, 4000.0, "Sagittal T2/STIR", None, None, T2),  # names two things: the headers decide
        (90.0, 4000.0, "stir_sag", None, "SE", T2),  # the description says STIR, the headers say no IR
        (90.0, 4000.0, "t2_tse_sag", 0.0, "SE", T2),  # InversionTime 0 on a spin echo is no inversion
    ],
)
def test_short_ti_inversion_recovery_is_stir_and_nothing_else_is(
    te_ms: float, tr_ms: float, description: str, ti_ms: float | None, scanning_sequence: str | None, expected: str
) -> None:
    assert weighting(te_ms, tr_ms, description, ti_ms, scanning_sequence) == expected


@pytest.mark.parametrize(
    ("scan_options", "description", "expected"),
    [
        ("FS", "t2_tse_sag", True),
        ("PFP\\FS", "", True),
        ("", "T2 FS SAG", True),
        ("", "t2_tse_fatsat_sag", True),
        ("", "T1 SPAIR", True),
        ("", "T2 FSE SAG", False),
        ("SAT1", "t2_tse_sag", False),
    ],
)
def test_fat_suppression_is_recognised_from_scan_options_and_the_description(
    scan_options: str, description: str, expected: bool
) -> None:
    assert is_fat_suppressed(scan_options, description) is expected


@pytest.fixture
def stir_repository(tmp_path: Path) -> Path:
    """A T1, a T2 with spectral fat suppression and a STIR whose TE/TR alone say T2, as real DICOM files."""
    root = tmp_path / "repo"
    write_sagittal_series(root / "t1", n_slices=5, series_uid="1.3.1", te_ms=11.0, tr_ms=600.0, description="T1 SAG")
    write_sagittal_series(
        root / "t2fs", n_slices=5, series_uid="1.3.2", te_ms=90.0, tr_ms=4000.0, description="T2 SAG", ScanOptions="FS"
    )
    write_sagittal_series(
        root / "stir",
        n_slices=5,
        series_uid="1.3.3",
        te_ms=60.0,
        tr_ms=4000.0,
        description="SAG IR",
        ScanningSequence=["SE", "IR"],
        InversionTime=150.0,
    )
    return root


def test_stir_is_its_own_weighting_in_the_manifest_and_table_2_unless_mapped_to_t2(
    stir_repository: Path, tmp_path: Path
) -> None:
    result = index_repository(stir_repository, progress=False)
    series = result.manifest.groupby("series_uid")[["modality", "fat_suppressed"]].first()
    assert series.to_dict("index") == {
        "1.3.1": {"modality": "T1", "fat_suppressed": False},
        "1.3.2": {"modality": "T2", "fat_suppressed": True},
        "1.3.3": {"modality": "STIR", "fat_suppressed": True},
    }
    table_2 = " ".join(result.summary_markdown.split("## Series")[0].split())
    assert "| T1-weighted | T2-weighted | STIR (short-TI inversion recovery) |" in table_2
    assert "| Total | 5 | 5 | 5 |" in table_2
    assert "Fat-suppressed series (STIR, ScanOptions FS, description): T2 1, STIR 1." in result.summary_markdown
    mapped = index_repository(stir_repository, params=IndexParams(stir_as="T2"), progress=False).manifest
    assert mapped.groupby("series_uid")["modality"].first().to_dict() == {"1.3.1": "T1", "1.3.2": "T2", "1.3.3": "T2"}
    csv = write_csv(tmp_path / "weighting.csv", [("series_instance_uid", "modality"), ("1.3.3", "T2")])
    by_csv = index_repository(stir_repository, weighting_csv=csv, progress=False).manifest
    assert set(by_csv.loc[by_csv["series_uid"] == "1.3.3", "modality"]) == {"T2"}
    main(["--root", str(stir_repository), "--out", str(tmp_path / "out"), "--stir-as", "T2", "--no-progress"])
    assert set(pd.read_csv(tmp_path / "out" / "manifest.csv")["modality"]) == {"T1", "T2"}


def test_index_stir_as_accepts_only_a_weighting_the_paper_compares() -> None:
    with pytest.raises(UserError, match=r"index.stir_as=PD is not one of null, T1, T2"):
        IndexParams(stir_as="PD")
