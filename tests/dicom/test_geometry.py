"""Slice location n·p and plane detection against hand-computed values (paper §3, Fig. 3)."""

import math

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from lss.dicom.geometry import OrientationError, are_parallel, plane_of, slice_location_mm, slice_normal


def test_head_first_supine_sagittal_location_is_minus_x() -> None:
    # rows anterior->posterior (0,1,0), columns head->feet (0,0,-1): n = (-1, 0, 0)
    assert slice_normal([0, 1, 0, 0, 0, -1]) == (-1, 0, 0)
    assert slice_location_mm([0, 1, 0, 0, 0, -1], [12.5, -100, 80]) == pytest.approx(-12.5)


def test_head_first_prone_sagittal_flips_the_normal() -> None:
    # prone: rows posterior->anterior (0,-1,0): n = (0,-1,0) x (0,0,-1) = (1, 0, 0)
    assert slice_location_mm([0, -1, 0, 0, 0, -1], [12.5, 100, 80]) == pytest.approx(12.5)


def test_feet_first_supine_sagittal_columns_feet_to_head() -> None:
    # columns feet->head (0,0,1): n = (0,1,0) x (0,0,1) = (1, 0, 0)
    assert slice_location_mm([0, 1, 0, 0, 0, 1], [-7.0, 3.0, -400.0]) == pytest.approx(-7.0)


def test_oblique_sagittal_rotated_10_degrees_about_z() -> None:
    theta = math.radians(10)
    orientation = [math.sin(theta), math.cos(theta), 0, 0, 0, -1]
    # n = (-cos θ, sin θ, 0) by hand
    assert slice_normal(orientation) == pytest.approx([-math.cos(theta), math.sin(theta), 0])
    assert slice_location_mm(orientation, [10, 20, 30]) == pytest.approx(-10 * math.cos(theta) + 20 * math.sin(theta))
    assert plane_of(orientation) == "sagittal"


def test_plane_follows_the_dominant_normal_component() -> None:
    assert plane_of([1, 0, 0, 0, 1, 0]) == "axial"
    assert plane_of([1, 0, 0, 0, 0, -1]) == "coronal"
    theta = math.radians(50)  # an "oblique sagittal" past 45 degrees is really coronal
    assert plane_of([math.sin(theta), math.cos(theta), 0, 0, 0, -1]) == "coronal"


def test_bundled_mr_file_matches_a_hand_computed_cross_product() -> None:
    dataset = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    row, col = (
        np.array(dataset.ImageOrientationPatient[:3], float),
        np.array(dataset.ImageOrientationPatient[3:], float),
    )
    by_hand = np.array(
        [row[1] * col[2] - row[2] * col[1], row[2] * col[0] - row[0] * col[2], row[0] * col[1] - row[1] * col[0]]
    )
    expected = float(by_hand @ np.array(dataset.ImagePositionPatient, float))
    assert slice_location_mm(dataset.ImageOrientationPatient, dataset.ImagePositionPatient) == pytest.approx(expected)


@pytest.mark.parametrize("orientation", [[1, 0, 0, 1, 0, 0], [0, 2, 0, 0, 0, -1], [0, 1, 0], [float("nan")] * 6])
def test_degenerate_orientations_are_refused(orientation: list[float]) -> None:
    with pytest.raises(OrientationError):
        slice_normal(orientation)


def test_parallel_slices_tolerate_rounding_but_not_a_tilt() -> None:
    assert are_parallel([0, 1, 0, 0, 0, -1], [0, 0.99999, 0.0001, 0, 0, -1])
    theta = math.radians(5)
    assert not are_parallel([0, 1, 0, 0, 0, -1], [math.sin(theta), math.cos(theta), 0, 0, 0, -1])
