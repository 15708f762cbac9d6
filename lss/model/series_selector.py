"""A series-level selector (``selector=series``): which slice of a whole sagittal series is the mid-sagittal one.

A per-slice classifier sees one slice at a time, and a slice 4 mm off the midline looks almost like the
midline. What makes the mid slice *mid* is where it sits in the stack. Here every slice says how far it
is from the mid-sagittal plane: a ridge regression of min(|distance|, ``distance_cap_mm``) on the
slice's ImageNet embedding (the backbone frozen: 20-odd training series cannot retrain it; solved in
closed form from sufficient statistics, so DDP ranks just add theirs). The regression reads each embedding
square-rooted (pooled activations are non-negative and heavy-tailed) and minus the median embedding of its
series: what every slice of a series shares (scanner, contrast, patient) says nothing about where a slice
lies. A series' mid slice is then the candidate c whose distance profile min(|x_i - x_c|, cap) best
explains what all its slices said:

    score(c) = - mean_i (predicted_distance_i - min(|x_i - x_c|, cap))^2      (mm^2)

Positions are the slices' own (mm), so any file order, any spacing and missing slices work, and nothing
in the score knows where the stack's centre is. A softmax of score / temperature over the series'
slices is p(c is the mid-sagittal slice), the temperature fitted on the validation series; a slice's
p_mid is the probability that the Mid band around the mid-sagittal slice contains it
(``band_membership``), so the band rule, the review page and every metric read it like a classifier's.

Chosen on the validation parts only (5-fold patient cross-validation inside train+val of seeds 0-9, real T2):
see README "Results on real images" and benchmarks/real_lumbar.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, cast

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader
from torchmetrics import CatMetric, MeanMetric

from lss.errors import ConfigError
from lss.manifest import mid_band
from lss.model.backbone import create_backbone
from lss.model.checkpoint import TEMPERATURE_KEY
from lss.model.evaluation import TestedSlices

StackBatch = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]
"""images (T,3,H,W), positions_mm (T,), series number (T,), mid index per series (B,), rows (T,)."""
TEMPERATURES = torch.logspace(-1, 4, 101, dtype=torch.float64)
"""Candidate temperatures (mm^2) for calibration: a grid is exact enough for one parameter and cannot diverge."""


def per_series(values: torch.Tensor, series: torch.Tensor) -> list[torch.Tensor]:
    """Split slice values by series number (slices of a series are contiguous, series numbered 0..B-1)."""
    return list(torch.split(values, torch.bincount(series).tolist()))


def capped_distances(positions_mm: torch.Tensor, centre_mm: torch.Tensor, cap_mm: float) -> torch.Tensor:
    return (positions_mm - centre_mm).abs().clamp(max=cap_mm)


def candidate_scores(distances_mm: torch.Tensor, positions_mm: torch.Tensor, cap_mm: float) -> torch.Tensor:
    """score(c) for every slice c of one series as mid-sagittal candidate (see the module docstring)."""
    expected = capped_distances(positions_mm[None, :], positions_mm[:, None], cap_mm)
    return -(distances_mm[None, :] - expected).pow(2).mean(dim=1)


def band_membership(p_centre: np.ndarray, band_size: int) -> np.ndarray:
    """p_mid of each slice of one series (position order): the probability that the Mid band around the
    mid-sagittal slice contains it, from p(c is the mid-sagittal slice) over the series' slices."""
    count = len(p_centre)
    p_mid = np.zeros(count)
    for centre, probability in enumerate(p_centre):
        band = mid_band(centre, count, band_size)
        p_mid[band.start : band.stop] += probability
    return np.clip(p_mid, 0.0, 1.0)


def fit_series_temperature(scores: list[torch.Tensor], mids: list[int]) -> float:
    """The temperature minimising the validation series' negative log-likelihood of their true mid slice."""
    if not scores:
        return 1.0
    losses = torch.stack(
        [
            torch.stack(
                [-torch.log_softmax(part.double() / temperature, dim=0)[mid] for part, mid in zip(scores, mids)]
            ).sum()
            for temperature in TEMPERATURES
        ]
    )
    return float(TEMPERATURES[int(torch.argmin(losses))])


class SeriesMidSelector(L.LightningModule):
    """Distance-to-mid regression over frozen embeddings; ``val/loss`` (mm^2 of distance error) and
    ``val/mid_hit`` per epoch. ``predict_step`` and the test give each slice's calibrated p_mid."""

    unit: ClassVar[str] = "series"
    """What one sample is: the DataModule and predict.py hand this model whole series."""
    output_shape: ClassVar[tuple[int, ...]] = ()
    """What ``forward`` gives per image: its predicted distance to the mid-sagittal plane (mm)."""

    def __init__(
        self,
        backbone: str,
        pretrained: bool,
        weights: str | None,
        channels_last: bool,
        compile: bool,
        modality: str,
        context: int,
        input_size: Sequence[int],
        mean: Sequence[float],
        std: Sequence[float],
        ridge_alpha: float,
        distance_cap_mm: float,
        sqrt_features: bool,
        centre_per_series: bool,
        band_size: int,
        optimizer: Any = None,
        head_lr_multiplier: float | None = None,
    ) -> None:
        """``optimizer`` and ``head_lr_multiplier`` are the model node's (conf/model/base.yaml) and unused:
        the head is solved in closed form, nothing is trained by gradient. The rest is stored for prediction."""
        super().__init__()
        if context != 1:
            raise ConfigError("selector=series reads each slice on its own; use it with data.context=1")
        if modality == "T1T2":
            raise ConfigError("selector=series reads one series at a time; train T1 or T2 (not modality=T1T2)")
        self.save_hyperparameters(ignore=["optimizer", "head_lr_multiplier"], logger=False)
        self.automatic_optimization = False
        network = create_backbone(backbone, num_classes=0, pretrained=pretrained, weights=weights).eval()
        network.requires_grad_(False)
        if channels_last:
            network = network.to(memory_format=torch.channels_last)
        self.network = network
        self.forward_fn = torch.compile(network) if compile else network
        features = int(cast(int, network.num_features))
        for name, shape in (
            ("feature_mean", (features,)),
            ("feature_scale", (features,)),
            ("coefficients", (features,)),
        ):
            self.register_buffer(name, torch.zeros(shape, dtype=torch.float64))
        self.register_buffer("intercept", torch.tensor(0.0, dtype=torch.float64))
        self.register_buffer(TEMPERATURE_KEY, torch.tensor(1.0))
        self.feature_mean: torch.Tensor
        self.feature_scale: torch.Tensor
        self.coefficients: torch.Tensor
        self.intercept: torch.Tensor
        self.temperature: torch.Tensor
        self.statistics: dict[str, torch.Tensor] = {}
        self.val_loss, self.val_mid_hit = MeanMetric(), MeanMetric()
        self.test_rows, self.test_p_mid_raw, self.test_p_mid = CatMetric(), CatMetric(), CatMetric()
        self.test_predictions: TestedSlices | None = None

    def train(self, mode: bool = True) -> SeriesMidSelector:
        """The frozen backbone stays in eval mode: its batch-norm statistics are ImageNet's."""
        super().train(mode)
        self.network.eval()
        return self

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        if self.hparams["channels_last"]:
            images = images.contiguous(memory_format=torch.channels_last)
        with torch.no_grad():
            return self.forward_fn(images).double()

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

    def series_scores(self, images: torch.Tensor, positions: torch.Tensor, series: torch.Tensor) -> list[torch.Tensor]:
        cap = float(self.hparams["distance_cap_mm"])
        return [
            candidate_scores(distances, where, cap)
            for distances, where in zip(
                per_series(self.distances(images, series), series), per_series(positions, series)
            )
        ]

    # -- fitting: sufficient statistics per batch, the ridge solved once per epoch ------------------------
    def on_train_epoch_start(self) -> None:
        self.statistics = {}

    def training_step(self, batch: StackBatch, batch_idx: int) -> None:
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

    def on_train_epoch_end(self) -> None:
        """One pass is the whole fit: a second epoch would solve the same ridge again."""
        self.trainer.should_stop = True

    def on_test_epoch_start(self) -> None:
        if self.statistics:
            self.solve()
        for metric in (self.test_rows, self.test_p_mid_raw, self.test_p_mid):
            metric.reset()
        self.test_predictions = None

    def configure_optimizers(self) -> None:
        """Nothing to optimise by gradient (closed-form head)."""
        return None

    # -- validation, test, prediction -----------------------------------------------------------------
    def validation_step(self, batch: StackBatch, batch_idx: int) -> None:
        images, positions, series, mids, _ = batch
        distances = self.distances(images, series)
        cap = float(self.hparams["distance_cap_mm"])
        chosen = []
        for predicted, where, mid in zip(per_series(distances, series), per_series(positions, series), mids):
            self.val_loss.update((predicted - capped_distances(where, where[mid], cap)).pow(2).mean())
            chosen.append(float(candidate_scores(predicted, where, cap).argmax() == mid))
        self.val_mid_hit.update(torch.tensor(chosen))
        self.log("val/loss", self.val_loss, on_step=False, on_epoch=True, prog_bar=True)
        self.log("val/mid_hit", self.val_mid_hit, on_step=False, on_epoch=True)

    def p_mid(self, scores: list[torch.Tensor], temperature: float) -> list[np.ndarray]:
        """Per series (position order): p_mid of each slice, from softmax(score / temperature) over its slices."""
        band_size = int(self.hparams["band_size"])
        return [
            band_membership(torch.softmax(part.double() / temperature, dim=0).cpu().numpy(), band_size)
            for part in scores
        ]

    def test_step(self, batch: StackBatch, batch_idx: int) -> None:
        """Series are whole within a batch, so each one's p_mid is computed here, before and after calibration."""
        images, positions, series, _, rows = batch
        scores = self.series_scores(images, positions, series)
        self.test_rows.update(rows.double())
        for metric, temperature in ((self.test_p_mid_raw, 1.0), (self.test_p_mid, float(self.temperature))):
            metric.update(torch.from_numpy(np.concatenate(self.p_mid(scores, temperature))))

    def on_test_epoch_end(self) -> None:
        """Every process's test slices, on each process, ordered by row."""
        rows = self.test_rows.compute().cpu().numpy().astype(np.int64)
        order = np.argsort(rows, kind="stable")
        raw, calibrated = (metric.compute().cpu().numpy()[order] for metric in (self.test_p_mid_raw, self.test_p_mid))
        self.test_predictions = TestedSlices(rows[order], raw, calibrated)

    def predict_step(self, batch: StackBatch, batch_idx: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(rows, calibrated p_mid) of the batch's slices (``Trainer.predict``: predict.py's inference)."""
        images, positions, series, _, rows = batch
        p_mid = self.p_mid(self.series_scores(images, positions, series), float(self.temperature))
        return rows, torch.from_numpy(np.concatenate(p_mid)).float()

    def fitted_temperature(self, validation: DataLoader) -> float:
        """The temperature of the softmax over slices that best explains the validation series' mid slices."""
        scores, mids = [], []
        with torch.no_grad():
            for images, positions, series, batch_mids, _ in validation:
                scores += self.series_scores(images.to(self.device), positions.to(self.device), series.to(self.device))
                mids += batch_mids.tolist()
        return fit_series_temperature(scores, mids)

    def for_prediction(self) -> SeriesMidSelector:
        """A CPU copy without trainer or compiled graph: what the MLflow model holds."""
        copy = SeriesMidSelector(**{**self.hparams, "pretrained": False, "compile": False})
        copy.load_state_dict(self.state_dict())
        return copy.cpu().eval()

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint[SELECTOR_KEY] = self.unit


SELECTOR_KEY = "lss_selector"
"""Checkpoint key naming the selector that wrote it (absent: the per-slice classifier)."""
