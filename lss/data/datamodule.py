"""The LightningDataModule: manifest -> per-seed splits -> cached images -> loaders.

The global batch size is the paper's (10) whatever the number of devices (lss/data/batches.py).
Evaluation shards are unpadded so every test slice is scored exactly once under DDP.
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, cast, get_args

import lightning as L
import numpy as np
import pandas as pd
from lightning.pytorch.accelerators import CPUAccelerator
from torch.utils.data import DataLoader, Sampler

from lss.data.batches import GlobalBatchSampler
from lss.data.cache import entry_key, manifest_images
from lss.data.channels import FUSED, InputPlan, input_plan, plan_slices
from lss.data.dataset import SliceDataset, augmentation
from lss.data.preprocess import PreprocessParams
from lss.data.slices import TrainingDataError, labelled_slices
from lss.data.sources import data_sources, stacked_manifests
from lss.data.splits import SPLIT_KEY, Split, SplitBy, split_slices, with_split_keys
from lss.data.stacks import StackDataset, collate_stacks, labelled_stacks, series_stacks
from lss.dicom.dicomweb import DicomWebSource, retrieve_instances
from lss.dicom.index_cache import indexed_manifest
from lss.dicom.index_params import IndexParams
from lss.dicom.labels import UNLABELLED, UNLABELLED_DROP, LabelCoverage
from lss.errors import ConfigError
from lss.manifest import CLASS_NAMES, SOURCE, T2, read_manifest
from lss.workers import leave_interrupts_to_the_parent, worker_count

log = logging.getLogger(__name__)

Unit = Literal["slice", "series"]
UNITS: tuple[str, ...] = get_args(Unit)
"""What one sample is: a slice (the paper's classifier) or a whole series (a series selector): a selector declares
its own (lss/model/selector.py), its config file sets data.unit."""


class ShardSampler(Sampler[int]):
    """Rank r of w takes items r, r+w, ...: no padding, so no slice is scored twice."""

    def __init__(self, length: int, rank: int, world_size: int) -> None:
        self.indices = list(range(rank, length, world_size))

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


class MidSliceDataModule(L.LightningDataModule):
    """Slices of one modality from a manifest whose paths are relative to ``root``."""

    def __init__(
        self,
        root: str | Sequence[str],
        manifest: str | None,
        labels: str | Sequence[str | None] | None,
        unlabelled: str,
        weighting: str | Sequence[str | None] | None,
        index: Mapping[str, Any],
        modality: str,
        seed: int,
        input_size: Sequence[int],
        mean: Sequence[float],
        std: Sequence[float],
        cache_dir: str,
        batch_size: int,
        test_fraction: float,
        val_fraction: float,
        split_by: str,
        context: int,
        unit: str,
        augment: bool,
        num_workers: int | str,
        pin_memory: bool | str,
        progress: bool,
    ) -> None:
        """``root`` is one folder or DICOMweb service, or a list of them (lss/data/sources.py; ``labels`` and
        ``weighting`` then one file for all or one per root). ``manifest`` is a manifest lss-index wrote for a single
        ``root``; None indexes each root (with its labels, weighting and the ``index`` parameters) in
        ``prepare_data``, cached until a file under it changes."""
        super().__init__()
        self.modality, self.seed = modality, int(seed)
        self.sources = data_sources(root, labels, weighting)
        if manifest is not None and len(self.sources) > 1:
            raise ConfigError("data.manifest is the manifest of one data.root; leave it null when data.root is a list")
        self.roots = {
            source.name: Path(source.root) if source.pacs is None else self.cache_root(Path(cache_dir), source.pacs)
            for source in self.sources
        }
        """Where each source's manifest paths point: the folder, or a PACS's local copies (retrieved once)."""
        self.given_manifest = Path(manifest) if manifest is not None else None
        if unlabelled not in UNLABELLED:
            raise ConfigError(f"data.unlabelled must be one of {', '.join(UNLABELLED)}, got {unlabelled!r}")
        if unlabelled == UNLABELLED_DROP and manifest is None and all(source.labels is None for source in self.sources):
            raise ConfigError(
                "data.unlabelled=drop trains on the series data.labels labels: give data.labels=CSV "
                "(e.g. the review page's labels.csv)"
            )
        self.unlabelled = unlabelled
        self.index_params = IndexParams(**index)
        self.params = PreprocessParams(height=int(input_size[-2]), width=int(input_size[-1]))
        self.mean, self.std = tuple(mean), tuple(std)
        self.cache_dir = Path(cache_dir)
        self.batch_size, self.test_fraction, self.val_fraction = int(batch_size), test_fraction, val_fraction
        self.split_by, self.augment, self.pin_memory, self.progress = split_by, augment, pin_memory, progress
        self.context = int(context)
        if unit not in UNITS:
            raise ConfigError(f"data.unit must be one of {', '.join(UNITS)}, got {unit!r}")
        if unit == "series" and split_by != "patient":
            raise ConfigError("data.unit=series learns and tests on whole series: set data.split_by=patient")
        self.unit = unit
        self.collate = collate_stacks if unit == "series" else None
        self.num_workers = num_workers
        self.slices: pd.DataFrame | None = None
        self.split: Split | None = None
        self.image_cache_key = ""
        """The image cache entry the slices were last read from (lss.data.cache.entry_key): a run records it."""

    # -- data preparation (once per node) ------------------------------------------------
    def indexed_manifests(self) -> list[Path]:
        """Each source's manifest: the given one, or its root indexed once (a cache hit after the first call); a
        source's labels must label the slices of the modality (all of them when ``unlabelled`` is error)."""
        if self.given_manifest is not None:
            return [self.given_manifest]
        modality = T2 if self.modality == FUSED else self.modality  # a T1T2 model learns the T2 labels
        manifests = []
        for source in self.sources:
            manifest = indexed_manifest(
                source.pacs or Path(source.root),
                self.cache_dir / "index",
                source.labels,
                self.index_params,
                self.progress,
                source.weighting,
            )
            if source.labels is not None:
                rows = read_manifest(manifest).query("modality == @modality")
                if len(rows):  # no slice of the modality at all: labelled_slices says so
                    LabelCoverage.of(rows).require(source.labels, self.unlabelled, f"{modality} slices")
            manifests.append(manifest)
        return manifests

    def manifest(self) -> pd.DataFrame:
        """Every source's slices in one table, each row naming its source (lss/data/sources.py)."""
        return stacked_manifests(
            [(source, read_manifest(path)) for source, path in zip(self.sources, self.indexed_manifests(), strict=True)]
        )

    def cache_keys(self) -> dict[str, str]:
        """The cache entries this module read, so that an audit can tell which runs read an entry later found bad."""
        index_entries = [path.parent.name for path in self.indexed_manifests()] if self.given_manifest is None else []
        return {"cache.index": ",".join(index_entries), "cache.images": self.image_cache_key}

    def input_plan(self) -> tuple[InputPlan, pd.Series]:
        manifest = with_split_keys(self.manifest())
        dropping = self.unlabelled == UNLABELLED_DROP
        labelled = labelled_slices(manifest, T2 if self.modality == FUSED else self.modality, centre_rule=not dropping)
        plan = input_plan(plan_slices(manifest, self.modality, labelled), self.modality, self.context)
        if plan.samples.empty:
            raise TrainingDataError(
                "modality=T1T2: no study has a sagittal T1 and a T2 series with slices at matching "
                "positions; train T1 and T2 separately"
            )
        # dropping: the splits are drawn over the labelled patients, so none falls empty for want of labels
        return plan, plan.samples[SPLIT_KEY] if dropping else manifest[SPLIT_KEY]

    @staticmethod
    def cache_root(cache_dir: Path, source: DicomWebSource) -> Path:
        """Where a PACS's instances are copied to, under the manifest's paths (lss.dicom.dicomweb)."""
        return cache_dir / "dicomweb" / source.folder_name

    def decoded_images(self, plan: InputPlan) -> np.ndarray:
        for source in self.sources:
            if source.pacs is not None:
                rows = plan.sources[plan.sources[SOURCE] == source.name]
                retrieve_instances(source.pacs, rows["path"].tolist(), self.roots[source.name])
        images = manifest_images(plan.sources, self.roots, self.params, self.cache_dir / "images", self.progress)
        self.image_cache_key = entry_key(images)
        return images

    def prepare_data(self) -> None:
        """Index ``root`` and decode its images into the caches (train.py indexes before the MLflow run opens,
        so an unindexable root fails first; data that cannot train fails inside the run, recorded as FAILED)."""
        plan, _ = self.input_plan()
        self.decoded_images(plan)

    # -- per-process setup -------------------------------------------------------------------
    def setup(self, stage: str | None = None) -> None:
        if self.slices is not None:
            return
        plan, all_split_keys = self.input_plan()
        slices, images = plan.samples, self.decoded_images(plan)
        split = split_slices(
            slices, all_split_keys, self.seed, cast(SplitBy, self.split_by), self.test_fraction, self.val_fraction
        )
        check_trainable(slices, images, split, self.split_by)
        self.slices, self.split, self.images = slices, split, images
        targets = slices["target"].to_numpy()
        make = functools.partial(SliceDataset, images, targets, mean=self.mean, std=self.std, channels=plan.channels)
        self.train_set: SliceDataset | StackDataset
        self.val_set: SliceDataset | StackDataset
        self.test_set: SliceDataset | StackDataset
        if self.unit == "series":
            every_slice, positions = make(np.arange(len(slices))), slices["slice_location_mm"].to_numpy(float)
            self.train_set, self.val_set, self.test_set = (
                StackDataset(every_slice, positions, labelled_stacks(series_stacks(slices, rows), name))
                for name, rows in (("train", split.train), ("val", split.val), ("test", split.test))
            )
        else:
            self.train_set = make(split.train, transform=augmentation(self.augment))
            self.val_set, self.test_set = make(split.val), make(split.test)
        log.info("%s split by %s (seed %d): %s", self.modality, self.split_by, self.seed, split.sizes())

    # -- loaders -------------------------------------------------------------------------------
    def _world(self) -> tuple[int, int]:
        trainer = self.trainer
        return (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)

    def _on_cpu(self) -> bool:
        return self.trainer is None or isinstance(self.trainer.accelerator, CPUAccelerator)

    def _workers(self) -> int:
        if self.num_workers != "auto":
            return int(self.num_workers)
        return 0 if self._on_cpu() else worker_count(len(self.train_set), share=self._world()[1], reserve=1)

    def _pin_memory(self) -> bool:
        """pin_memory="auto": page-locked batches (asynchronous host-to-device copies) on an accelerator only."""
        return not self._on_cpu() if self.pin_memory == "auto" else bool(self.pin_memory)

    def _loader(self, dataset: SliceDataset | StackDataset, train: bool) -> DataLoader:
        """Training slices in the paper's global batches; whole series (fitted in closed form, order irrelevant)
        and evaluation sets each item once, sharded across processes."""
        rank, world_size = self._world()
        workers = self._workers()
        common: dict[str, Any] = {
            "num_workers": workers,
            "pin_memory": self._pin_memory(),
            "persistent_workers": workers > 0,
            "multiprocessing_context": worker_start_method(workers),
            "worker_init_fn": leave_interrupts_to_the_parent,
            "collate_fn": self.collate,
        }
        if train and self.unit == "slice":
            batches = GlobalBatchSampler(len(dataset), self.batch_size, self.seed, rank, world_size)
            return DataLoader(dataset, batch_sampler=batches, **common)
        sampler = ShardSampler(len(dataset), rank, world_size) if world_size > 1 else None
        return DataLoader(dataset, batch_size=-(-self.batch_size // world_size), sampler=sampler, **common)

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, train=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, train=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.test_set, train=False)

    def calibration_dataloader(self, batch_size: int) -> DataLoader:
        """The whole validation part in every process (each fits the same temperature), never sharded."""
        return DataLoader(self.val_set, batch_size=batch_size, collate_fn=self.collate)


def worker_start_method(workers: int) -> str | None:
    """Fork loader workers on Linux, whatever the job's own start method.

    Inside a joblib (loky) job of a parallel sweep the default is 'loky', which pickles the
    dataset for each worker: that fails, and would copy the memory-mapped image cache into every
    worker. Forked workers share the mapping.
    """
    return "fork" if workers > 0 and sys.platform == "linux" else None


def check_trainable(slices: pd.DataFrame, images: np.ndarray, split: Split, split_by: str) -> None:
    """Refuse before training when a split lacks a class or every image is constant."""
    targets = slices["target"].to_numpy()
    for name, rows in (("train", split.train), ("val", split.val), ("test", split.test)):
        present = set(targets[rows].tolist())
        missing = [CLASS_NAMES[index] for index in range(len(CLASS_NAMES)) if index not in present]
        if missing:
            raise TrainingDataError(
                f"the {name} split (split_by={split_by}, {len(rows)} slices) has no {'/'.join(missing)} slices; "
                "use more data, or change data.test_fraction / data.val_fraction."
            )
    per_image_range = (
        np.ptp(np.asarray(images[start : start + 256]).reshape(-1, images[0].size), axis=1)
        for start in range(0, len(images), 256)
    )
    if not any(ranges.max() > 0 for ranges in per_image_range):
        raise TrainingDataError("every image is constant (no contrast); check the DICOM pixel data and its windowing.")
