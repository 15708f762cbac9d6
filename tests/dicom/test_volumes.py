"""Sagittal volumes (.mha, .nii, .nii.gz) are indexed as series: a row per slice, n·p from the volume's geometry."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers.volumes import AXIAL_AXES, write_volume
from lss.dicom.index import index_repository
from lss.dicom.pixels import read_slice_pixels
from lss.dicom.volumes import read_volume_geometry, read_volume_stack, volume_series_uid, volume_sop_uid
from lss.phantom.replicas import SPIDER_LAYOUTS, Replica, write_spider_replica


@pytest.fixture(scope="module")
def spider_mha(tmp_path_factory: pytest.TempPathFactory) -> Replica:
    return write_spider_replica(tmp_path_factory.mktemp("spider") / "mha", n_patients=2, seed=4)


def test_every_slice_of_every_volume_is_a_manifest_row_ordered_by_n_dot_p(spider_mha: Replica) -> None:
    result = index_repository(spider_mha.root / "images", progress=False)
    manifest = result.manifest
    assert result.skipped.empty
    assert manifest.groupby("path").size().to_dict() == {
        path.name: 15 for path in (spider_mha.root / "images").iterdir()
    }
    for _, series in manifest.groupby("series_uid"):
        steps = np.diff(series.sort_values("slice_index")["slice_location_mm"])
        assert (steps > 0).all() and np.allclose(steps, steps[0], atol=1e-3)  # one spacing, ascending n·p
        assert sorted(series["frame"]) == list(range(15))
    assert set(manifest["plane"]) == {"sagittal"} and set(manifest["modality_source"]) == {"file_name"}


def test_the_replica_covers_every_voxel_axis_order(spider_mha: Replica) -> None:
    """Slices along ITK axis 0, 1 or 2, stored forwards or backwards: the indexer finds the left-right axis itself."""
    assert len(SPIDER_LAYOUTS) == 3 and len(spider_mha.expected) >= 3


def test_volume_slices_are_laid_out_as_a_sagittal_dicom_image(spider_mha: Replica) -> None:
    """Rows run head -> feet and columns anterior -> posterior, whichever voxel order the file uses."""
    for path in sorted((spider_mha.root / "images").iterdir()):
        orientation = read_volume_geometry(path).orientation
        assert orientation[1] > 0.9 and orientation[5] < -0.9, path.name  # row cosine ~ +y, column cosine ~ -z


def test_read_slice_pixels_reads_the_frame_the_manifest_names(spider_mha: Replica) -> None:
    manifest = index_repository(spider_mha.root / "images", progress=False).manifest
    for row in manifest.sample(6, random_state=0).itertuples():
        stack = read_volume_stack(spider_mha.root / "images" / row.path)
        pixels = read_slice_pixels(spider_mha.root / "images" / row.path, row.frame)
        assert pixels.dtype == np.float32 and pixels.shape == (160, 160)
        assert np.array_equal(pixels, stack[row.frame])


def test_the_decoded_image_cache_reads_volume_slices(spider_mha: Replica, tmp_path: Path) -> None:
    from lss.data.cache import manifest_images
    from lss.data.preprocess import PreprocessParams

    manifest = index_repository(spider_mha.root / "images", progress=False).manifest.head(20)
    images = manifest_images(
        manifest, spider_mha.root / "images", PreprocessParams(32, 32), tmp_path / "cache", progress=False
    )
    assert images.shape == (20, 32, 32) and all(image.std() > 0 for image in images)


@pytest.mark.parametrize("suffix", [".nii", ".nii.gz"])
def test_nifti_volumes_index_like_the_same_mha_volumes(spider_mha: Replica, suffix: str, tmp_path: Path) -> None:
    nifti = write_spider_replica(tmp_path / "nifti", n_patients=2, seed=4, suffix=suffix)
    columns = ["series_uid", "sop_uid", "frame", "modality", "slice_index", "slice_location_mm"]
    from_mha = index_repository(spider_mha.root / "images", progress=False).manifest[columns]
    from_nifti = index_repository(nifti.root / "images", progress=False).manifest[columns]
    pd.testing.assert_frame_equal(from_mha, from_nifti, atol=1e-3)
    name = "1_t2"
    assert np.array_equal(
        read_slice_pixels(nifti.root / "images" / f"{name}{suffix}", 5),
        read_slice_pixels(spider_mha.root / "images" / f"{name}.mha", 5),
    )


def test_synthetic_uids_come_from_the_file_name_and_the_patient_from_its_first_part(spider_mha: Replica) -> None:
    manifest = index_repository(spider_mha.root / "images", progress=False).manifest
    t2 = manifest[manifest["path"] == "1_t2.mha"]
    assert set(t2["series_uid"]) == {volume_series_uid("1_t2")}
    assert set(t2["sop_uid"]) == {volume_sop_uid("1_t2", frame) for frame in range(15)}
    assert volume_series_uid("1_t2").startswith("2.25.") and len(volume_sop_uid("1_t2", 14)) <= 64  # DICOM UID limit
    keys = manifest.groupby("path")["patient_key"].first()
    assert keys["1_t1.mha"] == keys["1_t2.mha"] == keys["1_t2_SPACE.mha"] != keys["2_t1.mha"]
    assert manifest.groupby("patient_key")["study_uid"].nunique().eq(1).all()


def test_weighting_comes_from_the_file_name(spider_mha: Replica) -> None:
    result = index_repository(spider_mha.root / "images", progress=False)
    weighting = result.manifest.groupby("path")["modality"].first()
    assert weighting["1_t1.mha"] == "T1" and weighting["1_t2.mha"] == "T2" and weighting["1_t2_SPACE.mha"] == "T2"
    assert "Weighting sources (series): file_name 5." in result.summary_markdown


def test_volumes_that_are_not_sagittal_images_are_skipped_with_their_reason(tmp_path: Path) -> None:
    root = tmp_path / "volumes"
    write_volume(root / "axial_t2.nii.gz", np.zeros((5, 32, 32), np.int16), (0.8, 0.8, 5.0), AXIAL_AXES)
    write_volume(root / "flat_t2.mha", np.zeros((32, 32), np.int16), (1.0, 1.0))
    write_volume(root / "masks" / "1_t2.mha", np.zeros((4, 8, 8), np.uint8))
    (root / "broken_t1.mha").write_text("ObjectType = Image\nNDims = 3\n")
    write_volume(root / "a" / "9_t1.mha", np.ones((4, 8, 8), np.int16))
    write_volume(root / "b" / "9_t1.mha", np.ones((4, 8, 8), np.int16))
    result = index_repository(root, progress=False)
    assert result.skipped.set_index("path")["reason"].to_dict() == {
        "axial_t2.nii.gz": "not_sagittal",
        "flat_t2.mha": "not_3d_volume",
        "masks/1_t2.mha": "segmentation_mask",
        "broken_t1.mha": "unreadable",
        "b/9_t1.mha": "duplicate_sop_instance_uid",
    }
    assert set(result.manifest["path"]) == {"a/9_t1.mha"}


def test_an_isotropic_volume_is_cut_along_its_left_right_axis(tmp_path: Path) -> None:
    """A 3-D acquisition (e.g. T2 SPACE) has no thick axis: the axis closest to patient x gives the slices."""
    voxels = np.arange(6 * 7 * 8, dtype=np.int16).reshape(6, 7, 8)
    path = write_volume(tmp_path / "3_t2_SPACE.mha", voxels, (1.0, 1.0, 1.0), AXIAL_AXES)  # ITK axis 0 is x
    manifest = index_repository(tmp_path, progress=False).manifest
    assert len(manifest) == 8 and set(manifest["n_slices"]) == {8}
    assert manifest.sort_values("frame")["slice_location_mm"].tolist() == [-float(x) for x in range(8)]  # n·p = -x
    # slice x = 3: rows along z running head -> feet (reversed), columns along y
    assert np.array_equal(read_slice_pixels(path, 3), voxels[::-1, :, 3].astype(np.float32))
