"""SPIDER: `lss-labels spider` makes the slice with the widest spinal canal Mid, on volumes the indexer reads."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers.volumes import write_volume
from lss.datasets.cli import main
from lss.dicom.index import IndexResult, index_repository
from lss.dicom.volumes import volume_sop_uid
from lss.manifest import centre_index
from lss.phantom.replicas import Replica, write_spider_replica


@pytest.fixture(scope="module")
def replica(tmp_path_factory: pytest.TempPathFactory) -> Replica:
    """4 patients (seed 0): 10 volumes, 2 of them with the spine off the centre slice."""
    return write_spider_replica(tmp_path_factory.mktemp("spider") / "SPIDER", n_patients=4, seed=0)


@pytest.fixture(scope="module")
def labelled(replica: Replica, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("spider-labels")
    main(["spider", "--masks", str(replica.root / "masks"), "--out", str(out)])
    return out


@pytest.fixture(scope="module")
def index(replica: Replica, labelled: Path) -> IndexResult:
    return index_repository(replica.root / "images", labels_csv=labelled / "labels.csv", progress=False)


def test_the_widest_canal_puts_the_mid_slice_on_the_phantoms_midline(replica: Replica, index: IndexResult) -> None:
    """Exact on these 10 volumes; the phantom's scoliotic drift can put the widest canal one slice off the midline
    (20 patients, seed 0: 44 of 50 volumes exact, all 50 within one slice)."""
    assert len(replica.expected) == 10 and (~replica.expected["centred"]).sum() == 2
    mid = index.manifest[index.manifest["is_mid_sagittal"]].set_index("series_uid")["sop_uid"]
    expected = replica.expected.set_index("series_instance_uid")["mid_sop_instance_uid"]
    assert mid.sort_index().to_dict() == expected.sort_index().to_dict()  # the phantom's midline, off-centre too
    assert set(index.manifest["label_source"]) == {"labels"} and index.label_findings.empty


def test_mid_is_the_widest_canal_slice_with_its_four_neighbours(index: IndexResult) -> None:
    for _, series in index.manifest.groupby("series_uid"):
        series = series.sort_values("slice_index")
        mid = int(series.loc[series["is_mid_sagittal"], "slice_index"].iloc[0])
        assert series.loc[series["label"] == "Mid", "slice_index"].tolist() == list(range(mid - 2, mid + 3))


def test_the_report_counts_masks_and_how_often_the_centre_rule_would_agree(
    replica: Replica, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["spider", "--masks", str(replica.root / "masks"), "--out", str(tmp_path / "out")])
    printed = " ".join(capsys.readouterr().out.split())
    assert "| labelled | 10 |" in printed
    assert "centre slice in 8 of 10 labelled volumes" in printed
    assert f"lss-index --root {replica.root / 'images'}" in printed


def test_only_the_canal_label_decides_and_a_mask_without_canal_is_counted(tmp_path: Path) -> None:
    masks = np.zeros((7, 20, 20), np.uint8)  # numpy order: slices first (ITK axis 2, left-right)
    masks[1] = 3  # a vertebra covering all of slice 1
    masks[4, 5:15, 8:12] = 100  # the canal, widest on slice 4
    masks[3, 6:14, 9:11] = 100
    write_volume(tmp_path / "masks" / "7_t2.mha", masks)
    write_volume(tmp_path / "masks" / "8_t1.mha", np.where(masks == 100, 0, masks).astype(np.uint8))
    (tmp_path / "masks" / "notes.txt").write_text("not a mask")
    main(["spider", "--masks", str(tmp_path / "masks"), "--out", str(tmp_path / "out")])
    labels = pd.read_csv(tmp_path / "out" / "labels.csv")
    assert labels[["volume", "mid_frame", "canal_voxels"]].values.tolist() == [["7_t2.mha", 4, 40]]
    assert labels["mid_sop_instance_uid"].tolist() == [volume_sop_uid("7_t2", 4)]
    status = pd.read_csv(tmp_path / "out" / "mask_status.csv").set_index("volume")["status"]
    assert status.to_dict() == {"7_t2.mha": "labelled", "8_t1.mha": "no_canal"}
    assert centre_index(7) == 3  # the canal's widest slice is not the centre one


def test_indexing_the_spider_root_skips_the_masks(replica: Replica) -> None:
    result = index_repository(replica.root, progress=False)
    assert set(result.skipped["reason"]) == {"segmentation_mask"} and len(result.skipped) == 10
    assert result.manifest["path"].str.startswith("images/").all()


def test_a_folder_without_masks_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit) as exit_info:
        main(["spider", "--masks", str(tmp_path / "empty"), "--out", str(tmp_path / "out")])
    assert exit_info.value.code == 1
    assert "holds no .mha, .nii or .nii.gz file; point it at SPIDER's masks/ folder" in capsys.readouterr().err
