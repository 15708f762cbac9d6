"""One training job (paper §4): split by seed, retrain the backbone, test, record one MLflow run.

``train(cfg)`` is what ``train.py`` calls for every job of a sweep. On rank 0 it owns the
MLflow run (FINISHED only when everything, test and artifacts included, succeeded; FAILED on
any exception); DDP children (rank > 0) only fit and test.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import pandas as pd
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from lightning.pytorch.callbacks import ModelCheckpoint
from omegaconf import DictConfig, OmegaConf

from lss import tracking
from lss.tracking.logger import EpochMLFlowLogger
from lss.data.datamodule import MidSliceDataModule
from lss.data.manifest import CLASS_NAMES
from lss.dicom.index import IndexParams
from lss.dicom.index_cache import indexed_manifest
from lss.errors import ConfigError
from lss.launch.ddp_multirun import ddp_children_run_this_job, is_launched_ddp_child
from lss.model.backbone import input_config
from lss.model.confusion import confusion_table, plot_confusion
from lss.model.decoding import decode_mid, is_mid
from lss.model.metrics import metrics_of_labels
from lss.model.module import MidSliceClassifier

log = logging.getLogger(__name__)

# Keys that say where a job writes or how it shows progress, not what it computes: left out of the resume hash.
VOLATILE_KEYS = (
    "paths", "mlflow", "resume", "log_checkpoint", "hydra",
    "data.num_workers", "data.pin_memory", "data.progress", "trainer.enable_progress_bar",
)


def flatten(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def config_hash(resolved: dict[str, Any]) -> str:
    kept = {key: value for key, value in flatten(resolved).items() if not key.startswith(tuple(f"{volatile}." for volatile in VOLATILE_KEYS)) and key not in VOLATILE_KEYS}
    return hashlib.sha256(json.dumps(kept, sort_keys=True, default=str).encode()).hexdigest()[:16]


def sweep_tags() -> dict[str, str]:
    """Sweep id and job number from Hydra, so a sweep's runs can be selected and compared."""
    if not HydraConfig.initialized():
        return {tracking.SWEEP_TAG: "none", tracking.JOB_TAG: "0"}
    hydra_cfg = HydraConfig.get()
    multirun = str(hydra_cfg.mode) == "RunMode.MULTIRUN"
    sweep_dir = Path(hydra_cfg.sweep.dir if multirun else hydra_cfg.runtime.output_dir)
    return {tracking.SWEEP_TAG: sweep_dir.name, tracking.JOB_TAG: str(hydra_cfg.job.num if multirun else 0)}


def job_manifest(cfg: DictConfig) -> Path:
    """``data.manifest`` as given, or ``data.root`` indexed once (cached until a file under it changes)."""
    if cfg.data.manifest is not None:
        return Path(cfg.data.manifest)
    labels = Path(cfg.data.labels) if cfg.data.labels else None
    params = IndexParams(**OmegaConf.to_container(cfg.index, resolve=True))
    return indexed_manifest(Path(cfg.data.root), Path(cfg.data.cache_dir) / "index", labels, params, bool(cfg.data.progress))


def build(cfg: DictConfig) -> tuple[MidSliceDataModule, MidSliceClassifier]:
    """Data module and model from the composed config; input size/mean/std from timm unless overridden."""
    model_input = input_config(cfg.model.name)
    image = {
        "input_size": list(cfg.data.input_size or model_input["input_size"]),
        "mean": list(cfg.data.mean or model_input["mean"]),
        "std": list(cfg.data.std or model_input["std"]),
    }
    data = OmegaConf.to_container(cfg.data, resolve=True)
    del data["labels"]  # an input of the indexer, not of the DataModule
    data["manifest"] = str(job_manifest(cfg))
    datamodule = instantiate(data, modality=cfg.modality, seed=int(cfg.seed), **image, _convert_="all")
    model = instantiate(
        cfg.model,
        optimizer=instantiate(cfg.optimizer.factory),
        lr=cfg.optimizer.lr,
        head_lr_multiplier=cfg.optimizer.head_lr_multiplier,
        modality=cfg.modality,
        **image,
        _convert_="all",
    )
    return datamodule, model


def check_job_config(cfg: DictConfig) -> None:
    """Refuse, before anything runs, settings and paths that cannot work (one line naming the key)."""
    if cfg.test_weights not in ("last", "best"):
        raise ConfigError(f"test_weights must be 'last' (paper) or 'best' (by val/loss), got {cfg.test_weights!r}")
    if cfg.data.root is None:
        raise ConfigError("data.root is not set; point it at the DICOM repository (data.root=/path/to/dicom)")
    for key in ("root", "manifest", "labels"):
        value = cfg.data.get(key)
        if value is not None and not Path(value).exists():
            raise ConfigError(f"data.{key}={value} does not exist; point data.{key} at an existing path")


def true_fp32(precision: str) -> None:
    """``precision=32-true`` means fp32 throughout: no TF32 in cuDNN convolutions or matmuls on Ampere+ GPUs."""
    if str(precision) in ("32", "32-true") and torch.cuda.is_available():
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False


def fit_and_test(cfg: DictConfig, datamodule: MidSliceDataModule, model: MidSliceClassifier, logger: Any) -> ModelCheckpoint:
    checkpoint = ModelCheckpoint(
        dirpath=Path(cfg.paths.output_dir) / "checkpoints",
        filename="best-epoch{epoch}",
        auto_insert_metric_name=False,
        monitor="val/loss",
        mode="min",
        save_last=True,
        save_top_k=1 if cfg.test_weights == "best" else 0,
        save_weights_only=True,
    )
    true_fp32(cfg.trainer.precision)
    trainer: L.Trainer = instantiate(cfg.trainer, logger=logger, callbacks=[checkpoint], default_root_dir=cfg.paths.output_dir)
    trainer.fit(model, datamodule=datamodule)
    trainer.test(model, datamodule=datamodule, ckpt_path="best" if cfg.test_weights == "best" else None, verbose=False)
    return checkpoint


def test_predictions_table(datamodule: MidSliceDataModule, model: MidSliceClassifier) -> pd.DataFrame:
    """Per-slice test predictions; slice identifiers only, never a patient identifier."""
    rows, p_mid = model.test_predictions
    slices = datamodule.slices.iloc[rows]
    return pd.DataFrame({
        "sop_uid": slices["sop_uid"].to_numpy(),
        "series_uid": slices["series_uid"].to_numpy(),
        "slice_index": slices["slice_index"].to_numpy(),
        "label": slices["label"].to_numpy(),
        "p_mid": p_mid,
    })


def band_metrics(predictions: pd.DataFrame, band_size: int) -> dict[str, float]:
    """Series-aware (band) decoding of the same test predictions (issue 5): ``test/<metric>_band``."""
    decided = decode_mid(predictions, "band", band_size).to_numpy().astype(np.int64)
    target = (predictions["label"] == CLASS_NAMES[1]).to_numpy().astype(np.int64)
    return metrics_of_labels(torch.from_numpy(decided), torch.from_numpy(target), prefix="test/", suffix="_band")


def record_outputs(cfg: DictConfig, logger: EpochMLFlowLogger, datamodule: MidSliceDataModule, model: MidSliceClassifier, checkpoint: ModelCheckpoint) -> dict[str, float]:
    client, run_id = logger.experiment, logger.run_id
    split = datamodule.split
    tracking.log_params(client, run_id, {f"split.{key}": value for key, value in split.sizes().items()} | {"split.partition_id": split.partition_id})
    predictions = test_predictions_table(datamodule, model)
    metrics: dict[str, float] = {}
    if cfg.data.split_by == "patient":  # band decoding needs whole series in the test set
        metrics = band_metrics(predictions, int(cfg.index.band_size))
        for key, value in metrics.items():
            tracking.with_retries(lambda key=key, value=value: client.log_metric(run_id, key, value))
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        (folder / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
        predictions.to_csv(folder / "test_predictions.csv", index=False)
        table = confusion_table((predictions["label"] == CLASS_NAMES[1]).astype(int), is_mid(predictions["p_mid"]).astype(int))
        table.to_csv(folder / "confusion_matrix.csv")
        plot_confusion(table, f"{cfg.modality} seed {cfg.seed}", folder / "confusion_matrix.png")
        tracking.with_retries(lambda: client.log_artifacts(run_id, str(folder)))
    if cfg.log_checkpoint:
        tested = checkpoint.best_model_path if cfg.test_weights == "best" else checkpoint.last_model_path
        if tested:
            tracking.with_retries(lambda: client.log_artifact(run_id, tested, artifact_path="checkpoint"))
    return metrics


def train(cfg: DictConfig) -> dict[str, float]:
    """Run one job; return its test metrics (empty when resumed from an existing FINISHED run)."""
    check_job_config(cfg)
    seed = int(cfg.seed)  # seed 0 is a seed: never `if cfg.seed:`
    L.seed_everything(seed, workers=True, verbose=False)
    if is_launched_ddp_child():
        datamodule, model = build(cfg)
        fit_and_test(cfg, datamodule, model, logger=False)
        return {}
    tracking_uri = tracking.resolve_tracking_uri(cfg.mlflow.tracking_uri)
    experiment = cfg.mlflow.experiment_name
    resolved = {key: value for key, value in OmegaConf.to_container(cfg, resolve=True).items() if key != "hydra"}
    digest = config_hash(resolved)
    tracking.ensure_experiment(tracking_uri, experiment)
    for run_id in tracking.close_dead_runs(tracking_uri, experiment):
        log.warning("run %s was left RUNNING by a process that died; marked KILLED", run_id)
    if cfg.resume and (finished := tracking.find_finished_run(tracking_uri, experiment, digest)):
        log.info("skipping %s seed %d: FINISHED run %s has the same config (resume=false to redo)", cfg.modality, seed, finished)
        return {}
    datamodule, model = build(cfg)  # missing weights fail here, before a run is opened
    tags = {tracking.KIND_TAG: "train", tracking.CONFIG_HASH_TAG: digest, tracking.COMMIT_TAG: tracking.git_commit(), **sweep_tags()}
    with tracking.tracked_run(tracking_uri, experiment, f"{cfg.modality}-seed{seed}", tags, flatten(resolved)) as run_id:
        logger = EpochMLFlowLogger(experiment_name=experiment, tracking_uri=tracking_uri, run_id=run_id)
        with ddp_children_run_this_job():
            checkpoint = fit_and_test(cfg, datamodule, model, logger)
        metrics = {key: float(value) for key, value in model.trainer.callback_metrics.items() if key.startswith("test/")}
        metrics |= record_outputs(cfg, logger, datamodule, model, checkpoint)
    return metrics
