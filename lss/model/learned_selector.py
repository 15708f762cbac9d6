"""A learned series-level selector (``selector=learned``): lss.decide.series_scorer wired in as an lss selector.

Each slice of a series reads its frozen ImageNet embedding (as ``selector=series`` does, the shared
``FrozenEmbeddingSelector``); a linear map gives it one term per distance bin, and a candidate's logit sums the terms
of the slices at each distance from it (``lss.decide.series_scorer``: softmax over the series' slices is p(mid)).
Optionally lss.decide.symmetry's mirror score of each slice, computed on the stack itself (image channel 0, as
``selector=symmetry`` reads it), is one more input, and its p_mid a log-prior of weight ``prior_weight``.

Training is one pass: every training series (the whole stack and ``crops`` random sub-stacks of it, so that the
stacks' extent teaches nothing) is kept as embeddings, positions and its label; at the end of the pass the scorer is
fitted on all of them (L-BFGS, ``fit_series_scorer``; under DDP every rank gathers every rank's series and fits the
same scorer) and stored in buffers of fixed shapes, so checkpoints and ``predict.py run_id=`` carry it. Calibration
is every selector's temperature, fitted on the validation series. The recipe was chosen by patient cross-validation
over the real T2 set's two sources pooled (benchmarks/series_cv.py, benchmarks/results/series_cv.md).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import torch

from lss.decide.series import per_series
from lss.decide.series_scorer import (
    LabelledSeries,
    ScorerParams,
    SeriesScorer,
    feature_width,
    fit_series_scorer,
    log_p_with_prior,
    slice_logits,
    sub_stack_bounds,
    with_all_components,
)
from lss.decide.symmetry import MidPlaneEstimate, SymmetryParams, estimate_mid_plane
from lss.model.embedding_selector import FrozenEmbeddingSelector
from lss.model.selector import SeriesBatch

SCORER_BUFFERS = ("scorer_feature_mean", "scorer_projection", "scorer_weights")
"""The fitted ``SeriesScorer``'s arrays, as the checkpoint holds them (float64, zero-padded to all components)."""


class LearnedSeriesSelector(FrozenEmbeddingSelector):
    """Candidate scores are the scorer's logits (plus the weighted symmetry log-prior): natural-log units."""

    name = "learned"
    temperature_bounds = (0.05, 20.0)

    def __init__(
        self,
        band_size: int,
        components: int,
        neighbours: int,
        l2: float,
        target_scale_mm: float,
        bin_mm: float,
        bins: int,
        pooling: Literal["sum", "mean"],
        crops: int,
        max_dropped: int,
        symmetry_input: bool,
        prior_weight: float,
        seed: int = 0,
        **model_node: Any,
    ) -> None:
        """``model_node``: conf/model/base.yaml's (``FrozenEmbeddingSelector``); the scorer is fitted by L-BFGS at
        the end of the pass, not by the optimizer. ``seed`` draws the training sub-stacks."""
        super().__init__(**model_node)
        self.save_hyperparameters(ignore=["optimizer", "head_lr_multiplier"], logger=False)
        self.params = ScorerParams(components, neighbours, l2, target_scale_mm, bin_mm, bins, pooling)
        self.symmetry = SymmetryParams()
        """lss.decide.symmetry's own defaults: those selector=symmetry and benchmarks/series_cv.py use."""
        width = feature_width(self.params, symmetry_input)
        shapes = ((self.feature_count,), (self.feature_count, components), (width, bins))
        for name, shape in zip(SCORER_BUFFERS, shapes):
            self.register_buffer(name, torch.zeros(shape, dtype=torch.float64))
        self.scorer_feature_mean: torch.Tensor
        self.scorer_projection: torch.Tensor
        self.scorer_weights: torch.Tensor
        self.training_series: list[LabelledSeries] | None = None
        """The training pass's series (None outside it): what the scorer is fitted on."""
        self.sub_stack_rng = np.random.default_rng(seed)

    @property
    def reads_symmetry(self) -> bool:
        return bool(self.hparams["symmetry_input"]) or float(self.hparams["prior_weight"]) > 0

    def scorer(self) -> SeriesScorer:
        feature_mean, projection, weights = (getattr(self, name).cpu().numpy() for name in SCORER_BUFFERS)
        return SeriesScorer(self.params, feature_mean, projection, weights, bool(self.hparams["symmetry_input"]))

    def series_slices(
        self, images: torch.Tensor, positions: torch.Tensor, series: torch.Tensor
    ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray | None]]:
        """Per series of the batch: (embeddings, positions mm, channel-0 pixels when the recipe reads symmetry)."""
        embeddings = per_series(self.embed(images), series)
        places = per_series(positions.double(), series)
        pixels = per_series(images[:, 0].float(), series) if self.reads_symmetry else [None] * len(places)
        return [
            (embedded.cpu().numpy(), where.cpu().numpy(), None if image is None else image.cpu().numpy())
            for embedded, where, image in zip(embeddings, places, pixels)
        ]

    def mirror(self, pixels: np.ndarray | None, positions_mm: np.ndarray) -> MidPlaneEstimate | None:
        return None if pixels is None else estimate_mid_plane(pixels, positions_mm, self.symmetry)

    def candidate_scores(
        self, images: torch.Tensor, positions: torch.Tensor, series: torch.Tensor
    ) -> list[torch.Tensor]:
        scorer, prior_weight = self.scorer(), float(self.hparams["prior_weight"])
        scores = []
        for embeddings, positions_mm, pixels in self.series_slices(images, positions, series):
            estimate = self.mirror(pixels, positions_mm)
            label_free = estimate.slice_scores if estimate is not None and scorer.uses_label_free else None
            logits = slice_logits(scorer, embeddings, positions_mm, label_free)
            if estimate is not None and prior_weight > 0:
                logits = log_p_with_prior(logits, estimate.p_mid, prior_weight)
            scores.append(torch.from_numpy(logits).to(self.device))
        return scores

    # -- fitting: the training pass keeps its series, the scorer is fitted once at its end -------------------
    def on_train_epoch_start(self) -> None:
        self.training_series = []

    def training_step(self, batch: SeriesBatch, batch_idx: int) -> None:
        """Keep each series' whole stack and ``crops`` sub-stacks (the symmetry score of each computed on that very
        sub-stack: it depends on which slices the stack holds)."""
        images, positions, series, mids, _ = batch
        assert self.training_series is not None, "on_train_epoch_start starts the collection"
        slices = self.series_slices(images, positions, series)
        for (embeddings, positions_mm, pixels), mid in zip(slices, mids.tolist()):
            count = len(positions_mm)
            bounds = sub_stack_bounds(
                count, mid, int(self.hparams["max_dropped"]), int(self.hparams["crops"]), self.sub_stack_rng
            )
            for low, high in bounds:
                kept = slice(low, count - high)
                estimate = self.mirror(None if pixels is None else pixels[kept], positions_mm[kept])
                label_free = estimate.slice_scores if estimate is not None and self.hparams["symmetry_input"] else None
                self.training_series.append(
                    LabelledSeries(embeddings[kept], positions_mm[kept], mid - low, label_free=label_free)
                )

    def fit_scorer(self) -> None:
        """Fit on every process's training series (a collective call under DDP: every rank fits the same scorer)."""
        collected, self.training_series = self.training_series or [], None
        if self.trainer.world_size > 1:
            gathered: list[list[LabelledSeries]] = [[] for _ in range(self.trainer.world_size)]
            torch.distributed.all_gather_object(gathered, collected)
            collected = [item for part in gathered for item in part]
        fitted = with_all_components(fit_series_scorer(collected, self.params))
        for name, array in zip(SCORER_BUFFERS, (fitted.feature_mean, fitted.projection, fitted.weights)):
            getattr(self, name).copy_(torch.from_numpy(array))

    def on_validation_epoch_start(self) -> None:
        """Lightning validates at the end of the training pass, before ``on_train_epoch_end``: fit first."""
        if self.training_series is not None:
            self.fit_scorer()

    def on_train_epoch_end(self) -> None:
        if self.training_series is not None:
            self.fit_scorer()
        super().on_train_epoch_end()
