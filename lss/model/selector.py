"""What a selector is, and the registry that finds one by its name.

A selector turns the slices of sagittal series into p_mid, each slice's calibrated probability of lying in
the Mid band; ``lss.decide`` turns p_mid into Mid decisions by one rule, in validation, test and predict.py.
A new selector is one module, a subclass of ``Selector`` (or of ``SeriesSelector`` when it scores whole
series), plus one config file ``conf/selector/<name>.yaml`` whose ``model._target_`` names the class.

What a selector declares (class attributes): its ``name`` (the key of ``SELECTORS``, of its config file and
of its checkpoints), its ``unit`` (what one sample is: a slice, or a whole series), ``output_shape`` (what
``forward`` gives per image: the logged MLflow model's output), ``calibration_batch`` (samples per batch when
calibrating), ``temperature_bounds`` (in the units of its scores) and ``needs_checkpoint`` (False for a
selector that learns nothing: predict.py builds it from its config file alone).

What it computes: ``scores`` of a batch (the numbers one temperature divides, one row per sample: a slice's two
logits, a series' candidate slices), ``truths`` (each row's true candidate) and ``p_mid_of_scores``. From these
the base class gives ``predict_step`` (rows, calibrated p_mid), the test predictions, the fitted temperature
(``lss.decide.calibration.fit_temperature``, shared by all) and ``for_prediction``.
"""

from __future__ import annotations

import abc
import importlib
import pkgutil
from typing import Any, ClassVar

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader
from torchmetrics import CatMetric, MeanMetric

from lss.data.datamodule import Unit
from lss.decide.calibration import fit_temperature
from lss.decide.evaluation import TestedSlices
from lss.decide.mid_rule import band_centre
from lss.decide.series import candidate_p_mid, padded_candidates
from lss.errors import ConfigError
from lss.model.checkpoint import TEMPERATURE_KEY

SELECTOR_KEY = "lss_selector"
"""Checkpoint key naming the selector that wrote it (absent: the per-slice classifier, ``slice``)."""
DECLARED = ("unit", "output_shape", "calibration_batch", "temperature_bounds")
"""What every selector class states besides its name (module docstring)."""
SELECTORS: dict[str, type[Selector]] = {}
"""Every selector class by its name, filled as their modules are imported (``selector_class`` imports lss.model)."""


class Selector(L.LightningModule, abc.ABC):
    """The contract (module docstring). ``temperature`` is a buffer, so checkpoints carry it: 1.0 until train.py
    fits it on the validation part."""

    name: ClassVar[str]
    unit: ClassVar[Unit]
    output_shape: ClassVar[tuple[int, ...]]
    calibration_batch: ClassVar[int]
    temperature_bounds: ClassVar[tuple[float, float]]
    needs_checkpoint: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """A class that names itself is registered once it declares the whole contract; two selectors of one name
        are refused."""
        super().__init_subclass__(**kwargs)
        if "name" not in cls.__dict__:
            return
        undeclared = [key for key in DECLARED if not hasattr(cls, key)]
        if undeclared:
            raise ConfigError(f"selector {cls.name} ({cls.__module__}) does not declare {', '.join(undeclared)}")
        known = SELECTORS.get(cls.name)
        if known is not None and known.__qualname__ != cls.__qualname__:
            raise ConfigError(f"two selectors are named {cls.name!r}: {known.__module__} and {cls.__module__}")
        SELECTORS[cls.name] = cls

    def __init__(self) -> None:
        super().__init__()
        self.temperature: torch.Tensor
        self.register_buffer(TEMPERATURE_KEY, torch.tensor(1.0))
        # every process's test rows and p_mid, gathered by torchmetrics (NaN of a diverged run kept)
        self.test_rows, self.test_p_mid_raw, self.test_p_mid = (CatMetric(nan_strategy="disable") for _ in range(3))
        self.test_predictions: TestedSlices | None = None

    # -- what a selector computes ------------------------------------------------------------------
    @abc.abstractmethod
    def scores(self, batch: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """(rows of the batch's slices, scores one temperature divides: one row per sample)."""

    @abc.abstractmethod
    def truths(self, batch: Any) -> torch.Tensor:
        """The index of each sample's true candidate in its row of ``scores``."""

    @abc.abstractmethod
    def p_mid_of_scores(self, scores: torch.Tensor, temperature: torch.Tensor | float) -> torch.Tensor:
        """p_mid (float32) of each slice of the batch, in the order of its rows."""

    def network_to_explain(self) -> torch.nn.Module | None:
        """The network whose class logits Grad-CAM explains (predict.py explain=true); None: nothing to explain."""
        return None

    # -- what the base class gives ---------------------------------------------------------------------
    def predict_step(self, batch: Any, batch_idx: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(rows, calibrated p_mid) of the batch's slices (``Trainer.predict``: predict.py's inference)."""
        rows, scores = self.scores(batch)
        return rows, self.p_mid_of_scores(scores, self.temperature)

    def record_test(self, rows: torch.Tensor, scores: torch.Tensor) -> None:
        """Keep the batch's p_mid before and after calibration for ``test_predictions``."""
        self.test_rows.update(rows.detach().double())
        for metric, temperature in ((self.test_p_mid_raw, 1.0), (self.test_p_mid, self.temperature)):
            metric.update(self.p_mid_of_scores(scores.detach(), temperature).to(self.device))

    def test_step(self, batch: Any, batch_idx: int) -> None:
        self.record_test(*self.scores(batch))

    def on_test_epoch_start(self) -> None:
        for metric in (self.test_rows, self.test_p_mid_raw, self.test_p_mid):
            metric.reset()
        self.test_predictions = None

    def on_test_epoch_end(self) -> None:
        """Every process's test slices, on each process, ordered by row."""
        gathered = [metric.compute() for metric in (self.test_rows, self.test_p_mid_raw, self.test_p_mid)]
        rows, raw, calibrated = (np.asarray(part.cpu() if len(part) else []) for part in gathered)
        order = np.argsort(rows.astype(np.int64), kind="stable")
        self.test_predictions = TestedSlices(
            rows.astype(np.int64)[order], raw.astype(np.float32)[order], calibrated.astype(np.float32)[order]
        )

    def fitted_temperature(self, validation: DataLoader) -> float:
        """The temperature that best explains the validation samples' truths (``fit_temperature``)."""
        scores, truths = [], []
        with torch.no_grad():
            for batch in validation:
                on_device = [part.to(self.device) for part in batch]
                scores.append(self.scores(on_device)[1].double().cpu())
                truths.append(self.truths(on_device).cpu())
        if not scores:
            return 1.0
        width = max(part.shape[1] for part in scores)
        padded = [torch.nn.functional.pad(part, (0, width - part.shape[1]), value=float("-inf")) for part in scores]
        return fit_temperature(torch.cat(padded), torch.cat(truths), self.temperature_bounds)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor | None:
        """Nothing learnt by gradient unless a selector says otherwise."""
        return None

    def configure_optimizers(self) -> Any:
        """No optimizer unless a selector learns by gradient."""
        return None

    def for_prediction(self) -> Selector:
        """A CPU copy without optimizer, trainer or compiled graph: what predict.py scores with and what the MLflow
        model holds."""
        built_for_prediction = {key: False for key in ("pretrained", "compile") if key in self.hparams}
        copy = type(self)(**{**self.hparams, **built_for_prediction})
        copy.load_state_dict(self.state_dict())
        return copy.cpu().eval()

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint[SELECTOR_KEY] = self.name

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Checkpoints written before calibration existed are uncalibrated: temperature 1."""
        checkpoint["state_dict"].setdefault(TEMPERATURE_KEY, torch.tensor(1.0))


SeriesBatch = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]
"""images (T,3,H,W), positions_mm (T,), series number (T,), mid index per series (B,), rows (T,)
(``lss.data.stacks.collate_stacks``)."""


class SeriesSelector(Selector):
    """A selector that scores each slice of a whole series as its mid-sagittal candidate (``lss.decide.series``):
    p_mid is the probability that the Mid band around the chosen candidate holds a slice. Logs ``val/mid_hit``,
    the share of validation series whose mid slice the band rule finds, as test and predict.py decide."""

    unit = "series"
    output_shape = ()
    calibration_batch = 4

    def __init__(self, modality: str, context: int) -> None:
        """Refuses the inputs a series selector cannot read: several slices per sample, two modalities at once."""
        super().__init__()
        if context != 1:
            raise ConfigError(f"selector={self.name} reads each slice on its own; use it with data.context=1")
        if modality == "T1T2":
            raise ConfigError(f"selector={self.name} reads one series at a time; train T1 or T2 (not modality=T1T2)")
        self.val_mid_hit = MeanMetric()

    @abc.abstractmethod
    def candidate_scores(
        self, images: torch.Tensor, positions: torch.Tensor, series: torch.Tensor
    ) -> list[torch.Tensor]:
        """Per series of the batch: score(c) of each of its slices c (position order) as the mid-sagittal one."""

    def scores(self, batch: SeriesBatch) -> tuple[torch.Tensor, torch.Tensor]:
        images, positions, series, _, rows = batch
        return rows, padded_candidates(self.candidate_scores(images, positions, series))

    def truths(self, batch: SeriesBatch) -> torch.Tensor:
        return batch[3]

    def p_mid_of_scores(self, scores: torch.Tensor, temperature: torch.Tensor | float) -> torch.Tensor:
        per_series = candidate_p_mid(scores, float(temperature), int(self.hparams["band_size"]))
        return torch.from_numpy(np.concatenate(per_series or [np.empty(0)])).float()

    def log_mid_hits(self, scores: torch.Tensor, mids: torch.Tensor) -> None:
        """``val/mid_hit``: the band rule's mid slice (``band_centre``) is the true one, as test and predict decide."""
        band_size = int(self.hparams["band_size"])
        per_series = candidate_p_mid(scores, float(self.temperature), band_size)
        hits = [float(band_centre(p_mid, band_size) == mid) for p_mid, mid in zip(per_series, mids.tolist())]
        self.val_mid_hit.update(torch.tensor(hits, device=self.device))
        self.log("val/mid_hit", self.val_mid_hit, on_step=False, on_epoch=True)

    def validation_step(self, batch: SeriesBatch, batch_idx: int) -> None:
        _, scores = self.scores(batch)
        self.log_mid_hits(scores, self.truths(batch))


def selector_class(name: str) -> type[Selector]:
    """The selector named ``name``: any module of lss.model, or one imported before (a plugin, a test)."""
    if name not in SELECTORS:
        import lss.model

        for module in pkgutil.iter_modules(lss.model.__path__, "lss.model."):
            importlib.import_module(module.name)
    if name not in SELECTORS:
        raise ConfigError(f"no selector is named {name!r}; known: {', '.join(sorted(SELECTORS))}")
    return SELECTORS[name]
