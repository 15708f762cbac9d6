"""T1/T2 weighting on the Table 1 ranges and on the traps of real 3D T1 and MP-RAGE headers."""

import pytest

from lss.dicom.weighting import description_vote, weighting
from lss.manifest import T1, T2, UNKNOWN


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
