"""A series-level selector (``selector=series``): which slice of a whole sagittal series is the mid-sagittal one.

A per-slice classifier sees one slice at a time, and a slice 4 mm off the midline looks almost like the
midline. What makes the mid slice *mid* is where it sits in the stack. Here every slice says how far it
is from the mid-sagittal plane: a ridge regression of min(|distance|, ``distance_cap_mm``) on the
slice's ImageNet embedding (the backbone frozen: a few dozen training series cannot retrain it; solved in
closed form from sufficient statistics, so DDP ranks just add theirs). The regression reads each embedding
square-rooted (pooled activations are non-negative and heavy-tailed) and minus the median embedding of its
series: what every slice of a series shares (scanner, contrast, patient) says nothing about where a slice
lies. A series' mid slice is then the candidate c whose distance profile min(|x_i - x_c|, cap) best
explains what all its slices said:

    score(c) = - mean_i (predicted_distance_i - min(|x_i - x_c|, cap))^2      (mm^2)

Positions are the slices' own (mm), so any file order, any spacing and missing slices work, and nothing
in the score knows where the stack's centre is. p_mid follows from the scores as for every series selector
(``lss.decide.series``), the temperature fitted on the validation series.

Its settings were chosen on the validation parts only (patient cross-validation inside train+val, real T2):
how, and what they gave, is in docs/results.md and benchmarks/results/real_lumbar.md (benchmarks/real_lumbar.py).
"""

from __future__ import annotations

from typing import Any

import torch
from torchmetrics import MeanMetric

from lss.decide.series import padded_candidates, per_series
from lss.model.embedding_selector import FrozenEmbeddingSelector
from lss.model.selector import SeriesBatch


def capped_distances(positions_mm: torch.Tensor, centre_mm: torch.Tensor, cap_mm: float) -> torch.Tensor:
    return (positions_mm - centre_mm).abs().clamp(max=cap_mm)


def candidate_scores(distances_mm: torch.Tensor, positions_mm: torch.Tensor, cap_mm: float) -> torch.Tensor:
    """score(c) for every slice c of one series as mid-sagittal candidate (see the module docstring)."""
    expected = capped_distances(positions_mm[None, :], positions_mm[:, None], cap_mm)
    return -(distances_mm[None, :] - expected).pow(2).mean(dim=1)


class SeriesMidSelector(FrozenEmbeddingSelector):
    """Distance-to-mid regression over frozen embeddings; ``val/loss`` (mm^2 of distance error) and
    ``val/mid_hit`` per epoch. ``forward`` gives each image's predicted distance to the mid-sagittal plane (mm)."""

    name = "series"
    temperature_bounds = (0.1, 1e4)
    """Of scores in mm^2."""

    def __init__(
        self,
        ridge_alpha: float,
        distance_cap_mm: float,
        sqrt_features: bool,
        centre_per_series: bool,
        band_size: int,
        **model_node: Any,
    ) -> None:
        """``model_node``: conf/model/base.yaml's (``FrozenEmbeddingSelector``). The head is solved in closed form,
        nothing is trained by gradient; everything but the optimizer is stored for prediction."""
        super().__init__(**model_node)
        self.save_hyperparameters(ignore=["optimizer", "head_lr_multiplier"], logger=False)
        features = self.feature_count
        for name, shape in (
            ("feature_mean", (features,)),
            ("feature_scale", (features,)),
            ("coefficients", (features,)),
        ):
            self.register_buffer(name, torch.zeros(shape, dtype=torch.float64))
        self.register_buffer("intercept", torch.tensor(0.0, dtype=torch.float64))
        self.feature_mean: torch.Tensor
        self.feature_scale: torch.Tensor
        self.coefficients: torch.Tensor
        self.intercept: torch.Tensor
        self.statistics: dict[str, torch.Tensor] = {}
        self.val_loss = MeanMetric()

    def series_features(self, images: torch.Tensor, series: torch.Tensor) -> torch.Tensor:
        """Each slice's embedding as the regression reads it (``sqrt_features``, ``centre_per_series``: see the
        module docstring)."""
        features = self.embed(images)
        if self.hparams["sqrt_features"]:
            features = features.clamp(min=0).sqrt()
        if self.hparams["centre_per_series"]:
            parts = per_series(features, series)
            features = torch.cat([part - torch.quantile(part, 0.5, dim=0) for part in parts])
        return features

    def distances(self, images: torch.Tensor, series: torch.Tensor) -> torch.Tensor:
        """Each slice's predicted distance to the mid-sagittal plane (mm, capped)."""
        standardised = (self.series_features(images, series) - self.feature_mean) / self.feature_scale
        return (standardised @ self.coefficients + self.intercept).float()

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """The predicted distances (mm) of the slices of one series (the MLflow model's input)."""
        return self.distances(images, torch.zeros(len(images), dtype=torch.long, device=images.device))

    def candidate_scores(
        self, images: torch.Tensor, positions: torch.Tensor, series: torch.Tensor
    ) -> list[torch.Tensor]:
        return self.scores_of_distances(self.distances(images, series), positions, series)

    def scores_of_distances(
        self, distances: torch.Tensor, positions: torch.Tensor, series: torch.Tensor
    ) -> list[torch.Tensor]:
        cap = float(self.hparams["distance_cap_mm"])
        return [
            candidate_scores(predicted, where, cap)
            for predicted, where in zip(per_series(distances, series), per_series(positions, series))
        ]

    # -- fitting: sufficient statistics per batch, the ridge solved once per epoch ------------------------
    def on_train_epoch_start(self) -> None:
        self.statistics = {}

    def training_step(self, batch: SeriesBatch, batch_idx: int) -> None:
        images, positions, series, mids, _ = batch
        centres = torch.stack([where[mid] for where, mid in zip(per_series(positions, series), mids)])
        targets = capped_distances(positions, centres[series], float(self.hparams["distance_cap_mm"])).double()
        features = self.series_features(images, series)
        update = {
            "count": torch.tensor(float(len(targets)), dtype=torch.float64, device=features.device),
            "sum_x": features.sum(0),
            "sum_xx": features.T @ features,
            "sum_y": targets.sum(),
            "sum_xy": features.T @ targets,
        }
        for key, value in update.items():
            self.statistics[key] = self.statistics[key] + value if key in self.statistics else value

    def solve(self) -> None:
        """Ridge on standardised embeddings from every process's statistics (a collective call under DDP)."""
        total = {key: self.trainer.strategy.reduce(value, reduce_op="sum") for key, value in self.statistics.items()}
        self.statistics = {}
        count = total["count"]
        mean = total["sum_x"] / count
        covariance = total["sum_xx"] / count - torch.outer(mean, mean)
        scale = covariance.diagonal().clamp(min=0).sqrt() + 1e-6
        target_mean = total["sum_y"] / count
        gram = count * covariance / torch.outer(scale, scale)
        moment = (total["sum_xy"] - count * mean * target_mean) / scale
        ridge = gram + float(self.hparams["ridge_alpha"]) * torch.eye(len(mean), dtype=gram.dtype, device=gram.device)
        self.coefficients.copy_(torch.linalg.solve(ridge, moment))
        self.feature_mean.copy_(mean)
        self.feature_scale.copy_(scale)
        self.intercept.copy_(target_mean)

    def on_validation_epoch_start(self) -> None:
        if self.statistics:
            self.solve()

    def on_test_epoch_start(self) -> None:
        if self.statistics:
            self.solve()
        super().on_test_epoch_start()

    def validation_step(self, batch: SeriesBatch, batch_idx: int) -> None:
        """``val/loss``: the mean squared error of the predicted distances; ``val/mid_hit`` as every series selector."""
        images, positions, series, mids, _ = batch
        distances = self.distances(images, series)
        cap = float(self.hparams["distance_cap_mm"])
        for predicted, where, mid in zip(per_series(distances, series), per_series(positions, series), mids):
            self.val_loss.update((predicted - capped_distances(where, where[mid], cap)).pow(2).mean())
        self.log("val/loss", self.val_loss, on_step=False, on_epoch=True, prog_bar=True)
        self.log_mid_hits(padded_candidates(self.scores_of_distances(distances, positions, series)), mids)
