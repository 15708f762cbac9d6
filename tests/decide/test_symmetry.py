"""The label-free selector finds the mirror plane of a stack without knowing where the stack's centre is."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.stacks import mirrored_stack
from lss.decide.series import vertex_offset
from lss.decide.symmetry import central_band, estimate_mid_plane

SPACING_MM = 4.0


def test_a_mid_four_slices_off_the_stack_centre_is_found() -> None:
    positions = np.arange(17) * SPACING_MM
    estimate = estimate_mid_plane(mirrored_stack(positions, positions[12]), positions)
    assert estimate.mid_index == 12  # the stack centre is slice 8
    assert abs(estimate.mid_plane_mm - positions[12]) < 1.0
    assert estimate.p_mid.sum() == pytest.approx(1.0)
    assert int(np.argmax(estimate.p_mid)) == 12


def test_reversed_slice_order_gives_the_same_plane() -> None:
    positions = np.arange(15) * SPACING_MM - 20.0
    images = mirrored_stack(positions, positions[4])
    forward = estimate_mid_plane(images, positions)
    backward = estimate_mid_plane(images[::-1], positions[::-1])
    assert forward.mid_index == 4 and backward.mid_index == 10
    assert backward.mid_plane_mm == pytest.approx(forward.mid_plane_mm)
    np.testing.assert_allclose(backward.p_mid, forward.p_mid[::-1])


def test_a_missing_slice_beside_the_mid_does_not_move_it() -> None:
    full = np.arange(16) * SPACING_MM
    images = mirrored_stack(full, full[9])
    kept = np.delete(np.arange(16), 10)
    estimate = estimate_mid_plane(images[kept], full[kept])
    assert full[kept][estimate.mid_index] == full[9]


def test_the_plane_between_two_slices_is_estimated_below_the_slice_spacing() -> None:
    positions = np.arange(15) * SPACING_MM
    plane = positions[6] + 1.5
    estimate = estimate_mid_plane(mirrored_stack(positions, plane, seed=3), positions)
    assert estimate.mid_index == 6
    assert abs(estimate.mid_plane_mm - plane) < abs(positions[6] - plane)


def test_a_three_slice_series_picks_its_middle_and_never_an_end() -> None:
    positions = np.array([8.0, 0.0, 4.0])
    estimate = estimate_mid_plane(mirrored_stack(positions, 4.0), positions)
    assert estimate.mid_index == 2
    assert estimate.slice_scores[0] == -np.inf and estimate.slice_scores[1] == -np.inf
    assert estimate.p_mid.tolist() == [0.0, 0.0, 1.0]


def test_absolute_positions_and_intensity_scale_do_not_matter() -> None:
    positions = np.arange(14) * SPACING_MM
    images = mirrored_stack(positions, positions[5])
    estimate = estimate_mid_plane(images, positions)
    moved = estimate_mid_plane(3.0 * images + 1000.0, positions + 137.0)
    assert moved.mid_index == estimate.mid_index == 5
    assert moved.mid_plane_mm == pytest.approx(estimate.mid_plane_mm + 137.0)


def test_a_blank_slice_is_left_out_of_the_comparison() -> None:
    positions = np.arange(15) * SPACING_MM
    images = mirrored_stack(positions, positions[7])
    images[0] = 0.0
    assert estimate_mid_plane(images, positions).mid_index == 7


def test_front_and_back_of_the_image_mirrored_elsewhere_do_not_move_the_mid() -> None:
    positions = np.arange(17) * SPACING_MM
    images = mirrored_stack(positions, positions[6], seed=1)  # the outer columns: bowel and skin mirrored at 6
    spine = mirrored_stack(positions, positions[10], seed=2)
    middle = central_band(np.arange(96)[None, None, :], 0.3)[0, 0]
    images[:, :, middle] = spine[:, :, middle]
    assert estimate_mid_plane(images, positions).mid_index == 10


def test_the_central_band_keeps_the_middle_columns() -> None:
    columns = central_band(np.arange(10)[None, None, :], 0.2)[0, 0]
    assert columns.tolist() == [4, 5]
    assert central_band(np.arange(10)[None, None, :], 0.01).shape == (1, 1, 1)


def test_fewer_than_three_slices_is_refused_with_the_counts() -> None:
    with pytest.raises(ValueError, match="at least 3 slices"):
        estimate_mid_plane(np.zeros((2, 8, 8)), np.array([0.0, 4.0]))


@pytest.mark.parametrize(
    ("left", "centre", "right", "expected"),
    [(0.0, 1.0, 0.0, 0.0), (0.0, 1.0, 1.0, 0.5), (1.0, 1.0, 0.0, -0.5), (0.0, 0.0, 0.0, 0.0), (np.nan, 1.0, 0.0, 0.0)],
)
def test_the_parabola_vertex_lies_between_the_neighbouring_planes(
    left: float, centre: float, right: float, expected: float
) -> None:
    assert vertex_offset(left, centre, right) == pytest.approx(expected)
