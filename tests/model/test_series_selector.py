"""The series selector's reading of a stack: constructed stacks whose true mid-sagittal slice is known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from lss.data.slices import TrainingDataError
from lss.data.stacks import labelled_stacks, series_stacks
from lss.manifest import centre_index
from lss.model.series_selector import candidate_scores, capped_distances

CAP_MM = 32.0


def chosen_slice(positions_mm: np.ndarray, mid_mm: float, noise_mm: float = 2.0, seed: int = 0) -> int:
    """The selector's choice when every slice reports its distance to the plane at ``mid_mm`` with some noise."""
    positions = torch.tensor(positions_mm, dtype=torch.float32)
    reported = capped_distances(positions, torch.tensor(mid_mm), CAP_MM)
    reported = reported + noise_mm * torch.randn(len(positions), generator=torch.Generator().manual_seed(seed))
    return int(candidate_scores(reported, positions, CAP_MM).argmax())


def test_a_stack_whose_mid_is_four_slices_off_centre_is_found_where_the_centre_rule_misses_it() -> None:
    positions = np.arange(17) * 4.0
    mid = centre_index(17) + 4
    assert chosen_slice(positions, positions[mid]) == mid
    assert centre_index(17) != mid


@pytest.mark.parametrize("count", [7, 12, 19, 40])
def test_stacks_of_7_to_40_slices_in_any_file_order(count: int) -> None:
    rng = np.random.default_rng(count)
    order = rng.permutation(count)
    positions = (np.arange(count) * 3.5 - 20.0)[order]  # as read from disk: any order
    mid_position = positions[order == (count // 3)][0]  # a third of the way along, not the centre
    chosen = chosen_slice(positions, mid_position, seed=count)
    assert positions[chosen] == mid_position


def test_a_series_with_a_missing_slice_beside_the_mid_is_read_by_position() -> None:
    positions = np.delete(np.arange(15) * 4.0, 8)  # slot 8 missing: indices after it shift by one
    mid_position = 7 * 4.0
    assert positions[chosen_slice(positions, mid_position)] == mid_position


def test_series_are_gathered_whole_in_position_order_and_unlabelled_or_short_ones_left_out() -> None:
    slices = pd.DataFrame(
        {
            "series_uid": ["a"] * 5 + ["b"] * 2 + ["c"] * 4,
            "slice_location_mm": [8.0, 0.0, 4.0, 16.0, 12.0, 0.0, 4.0, 0.0, 4.0, 8.0, 12.0],
            "is_mid_sagittal": [True, False, False, False, False, True, False, False, False, False, False],
        }
    )
    stacks = series_stacks(slices, np.arange(len(slices)))
    assert [stack.rows.tolist() for stack in stacks] == [[1, 2, 0, 4, 3], [5, 6], [7, 8, 9, 10]]
    assert [stack.mid for stack in stacks] == [2, 0, -1]
    assert [stack.rows.tolist() for stack in labelled_stacks(stacks, "test")] == [[1, 2, 0, 4, 3]]
    with pytest.raises(TrainingDataError, match="whole labelled series"):
        labelled_stacks(stacks[1:], "val")
