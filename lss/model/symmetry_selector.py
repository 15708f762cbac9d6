"""The label-free selector (``selector=symmetry``): a series' mid-sagittal slice from the stack alone, no training.

Scores each slice of a series by how well the slices at equal distances on either side of it mirror each other
(``lss.decide.symmetry``). It learns nothing, so ``predict.py input=DIR`` uses it when no trained model is given:
a first answer at a site lss has never seen, to be corrected by clicking on the review page and then learnt from.
``train.py selector=symmetry`` still calibrates and tests it like any selector, which is how it is measured.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from lss.decide.symmetry import SymmetryParams, estimate_mid_plane
from lss.model.selector import SeriesSelector

UNSCORABLE_MARGIN = 10.0
"""A slice no mirrored pair is centred on (a stack end) scores this far (in temperature units) below the worst
scored slice: probability ~e^-10 of it, yet a finite score, as every candidate of a series must have."""


class SymmetrySelector(SeriesSelector):
    """Scores are the mirror-symmetry excess divided by ``SymmetryParams.temperature``: temperature 1 is the
    estimator's own, and validation series (when trained) refine it."""

    name = "symmetry"
    temperature_bounds = (0.05, 20.0)
    needs_checkpoint = False

    def __init__(
        self,
        modality: str,
        context: int,
        input_size: Sequence[int],
        mean: Sequence[float],
        std: Sequence[float],
        band_size: int,
        band_fraction: float,
        thumbnail_size: int,
        patch_size: int,
        pair_decay_mm: float,
        candidate_width: float,
        evidence_prior: float,
        symmetry_temperature: float,
        **model_node: Any,
    ) -> None:
        """``model_node``: the rest of conf/model/base.yaml (backbone, optimizer, ...): no network is used."""
        super().__init__(modality, context)
        self.save_hyperparameters(ignore=["optimizer"], logger=False)
        self.params = SymmetryParams(
            band_fraction,
            thumbnail_size,
            patch_size,
            pair_decay_mm,
            candidate_width,
            evidence_prior,
            symmetry_temperature,
        )

    def candidate_scores(
        self, images: torch.Tensor, positions: torch.Tensor, series: torch.Tensor
    ) -> list[torch.Tensor]:
        counts = torch.bincount(series).tolist()
        pixels = torch.split(images[:, 0].float().cpu(), counts)
        places = torch.split(positions.double().cpu(), counts)
        return [self.series_scores(part.numpy(), where.numpy()) for part, where in zip(pixels, places)]

    def series_scores(self, pixels: np.ndarray, positions_mm: np.ndarray) -> torch.Tensor:
        estimate = estimate_mid_plane(pixels, positions_mm, self.params)
        scores = estimate.slice_scores / self.params.temperature
        finite = np.isfinite(scores)
        floor = scores[finite].min() - UNSCORABLE_MARGIN if finite.any() else 0.0
        return torch.from_numpy(np.where(finite, scores, floor)).to(self.device)
