"""One training job (paper §4): check the config, build, fit, calibrate and test, record one MLflow run.

``train(cfg)`` is what ``train.py`` calls for every job of a sweep. On rank 0 it owns the
MLflow run (FINISHED only when everything, test and artifacts included, succeeded; FAILED on
any exception; KILLED on SIGTERM / SIGINT), kept in the job folder until the store has it;
DDP children (rank > 0) only fit and test.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any, cast

import lightning as L
import numpy as np
import torch
from hydra.utils import instantiate
from lightning.pytorch.callbacks import ModelCheckpoint
from omegaconf import DictConfig, OmegaConf
from torch.utils.data import DataLoader

from lss import tracking
from lss.data.datamodule import MidSliceDataModule
from lss.data.sources import DataSource, check_sources_exist, data_sources
from lss.data.split_file import split_record, write_split
from lss.data.splits import SPLIT_SCHEME
from lss.decide.evaluation import (
    calibration_metrics,
    rule_and_series_metrics,
    tested_slices,
    write_confusion,
    write_reliability_diagram,
)
from lss.dicom.labels import LabelCoverage
from lss.environment import environment
from lss.errors import ConfigError
from lss.launch.ddp_multirun import ddp_children_run_this_job, is_launched_ddp_child
from lss.launch.job import jobs_at_once, sweep_identity
from lss.launch.resolvers import register_resolvers
from lss.manifest import COLUMNS, MID, SOURCE
from lss.model.checkpoint import read_checkpoint, write_temperature
from lss.model.selector import Selector
from lss.provenance import phantom_parameters
from lss.tracking.logger import RunLogger
from lss.workers import cpu_budget, use_cpu_budget

log = logging.getLogger(__name__)
CPU_BUDGET_PARAM = "resources.cpu_budget"
"""The cores the job used (resources.cpus resolved): what its wall time is to be read against."""
register_resolvers()


def plain(node: DictConfig) -> dict[str, Any]:
    """A config node as plain, resolved Python values."""
    return cast(dict[str, Any], OmegaConf.to_container(node, resolve=True))


def check_job_config(cfg: DictConfig) -> None:
    """Refuse, before anything runs, settings and paths that cannot work (one line naming the key)."""
    if cfg.test_weights not in ("last", "best"):
        raise ConfigError(f"test_weights must be 'last' (paper) or 'best' (by val/loss), got {cfg.test_weights!r}")
    if cfg.register_as is not None and not cfg.log_model:
        raise ConfigError(f"register_as={cfg.register_as} registers the logged model; set log_model=true as well")
    check_sources_exist(job_sources(cfg))  # a DICOMweb root is checked for credentials written into its URL
    manifest = cfg.data.get("manifest")
    if manifest is not None and not Path(manifest).exists():
        raise ConfigError(f"data.manifest={manifest} does not exist; point data.manifest at an existing path")


def job_sources(cfg: DictConfig) -> list[DataSource]:
    """The roots a job reads, each with its labels and weighting (lss/data/sources.py)."""
    data = plain(cfg.data)
    return data_sources(data.get("root"), data.get("labels"), data.get("weighting"))


def build(cfg: DictConfig) -> tuple[MidSliceDataModule, Selector]:
    """Data module and selector, each instantiated from its own config node; the data must be of the selector's unit."""
    datamodule = instantiate(cfg.data, _convert_="all")
    model = instantiate(cfg.model, _convert_="all")
    if datamodule.unit != model.unit:
        raise ConfigError(
            f"selector {model.name} takes one {model.unit} per sample, data.unit={datamodule.unit}; "
            f"set data.unit={model.unit} in conf/selector/{model.name}.yaml"
        )
    return datamodule, model


def true_fp32(precision: str) -> None:
    """``precision=32-true`` means fp32 throughout: no TF32 in cuDNN convolutions or matmuls on Ampere+ GPUs."""
    if str(precision) in ("32", "32-true") and torch.cuda.is_available():
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False


def fit_and_test(cfg: DictConfig, datamodule: MidSliceDataModule, model: Selector, logger: Any) -> Path | None:
    """Fit, calibrate and test the weights ``test_weights`` names; return the file of the tested weights."""
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
    trainer: L.Trainer = instantiate(
        cfg.trainer, logger=logger, callbacks=[checkpoint], default_root_dir=cfg.paths.output_dir
    )
    trainer.fit(model, datamodule=datamodule)
    tested_path = checkpoint.best_model_path if cfg.test_weights == "best" else checkpoint.last_model_path
    tested = Path(tested_path) if tested_path else None  # None under fast_dev_run: no checkpoint is written
    if cfg.test_weights == "best" and tested is not None:
        model.load_state_dict(read_checkpoint(tested)["state_dict"])
    calibrate(trainer, model, datamodule.calibration_dataloader(model.calibration_batch), tested)
    trainer.test(model, datamodule=datamodule, verbose=False)
    return tested


def calibrate(trainer: L.Trainer, model: Selector, validation: DataLoader, tested: Path | None) -> float:
    """Fit the temperature on the validation part with the weights about to be tested (only it is passed: the test
    slices cannot shape it); keep it in the model and in the tested checkpoint file."""
    model.eval()
    with trainer.precision_plugin.forward_context():
        fitted = model.fitted_temperature(validation)
    temperature = float(trainer.strategy.broadcast(fitted, src=0))
    model.temperature.fill_(temperature)
    if tested is not None and trainer.is_global_zero:
        write_temperature(tested, temperature)
    return temperature


def record(
    cfg: DictConfig,
    run: tracking.TrackedRun,
    datamodule: MidSliceDataModule,
    model: Selector,
    tested: Path | None,
) -> dict[str, float]:
    """Split sizes, band and calibration metrics, artifacts (config, split.json, test predictions, confusion matrix,
    reliability diagram, weights), the manifest rows as a dataset input and the tested network as an MLflow model."""
    split, slices, scored = datamodule.split, datamodule.slices, model.test_predictions
    if split is None or slices is None or scored is None:
        raise RuntimeError("record() follows fit_and_test(): there is no split or no test prediction to record yet")
    temperature = float(model.temperature)
    run.log_params(
        {f"split.{key}": value for key, value in split.sizes().items()}
        | {"split.partition_id": split.partition_id, tracking.SPLIT_SCHEME_PARAM: SPLIT_SCHEME}
        | LabelCoverage.of(slices).as_params()
        | datamodule.cache_keys(),
    )
    predictions = tested_slices(slices, scored.rows, scored.p_mid)
    is_mid_truth = (predictions["label"] == MID).to_numpy()
    whole_series = cfg.data.split_by == "patient"  # the band rule and series metrics need whole series
    if not whole_series:
        log.info(
            "split_by=image: series are split between train and test, so the band rule and "
            "test/mid_hit, test/mid_error_mm are not logged (the centre rule is)"
        )
    metrics = rule_and_series_metrics(predictions, int(cfg.index.band_size), whole_series)
    if model.unit == "series":  # the selector decides by its band: the paper's four metrics are the band's
        metrics |= {name.removesuffix("_band"): value for name, value in metrics.items() if name.endswith("_band")}
    metrics |= calibration_metrics(scored, is_mid_truth, temperature)
    run.log_metrics(metrics)
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        (folder / tracking.CONFIG_ARTIFACT).write_text(OmegaConf.to_yaml(cfg, resolve=True))
        drawn = split_record(
            split, slices, datamodule.seed, datamodule.split_by, datamodule.test_fraction, datamodule.val_fraction
        )
        write_split(folder / tracking.SPLIT_ARTIFACT, drawn)
        predictions.to_csv(folder / tracking.PREDICTIONS_ARTIFACT, index=False)
        write_confusion(predictions, f"{cfg.modality} seed {cfg.seed}", folder)
        write_reliability_diagram(scored, is_mid_truth, temperature, f"{cfg.modality} seed {cfg.seed}", folder)
        run.log_artifacts(folder)
    if cfg.log_checkpoint and tested is not None:
        run.log_artifacts(tested, artifact_path="checkpoint")
    for source in datamodule.sources:  # MLflow resolves a dataset source by its scheme: http(s) for a PACS
        rows = slices.loc[slices[SOURCE] == source.name, [*COLUMNS, SOURCE]]
        location = source.pacs.http_url if source.pacs is not None else str(Path(source.root).resolve())
        run.log_dataset(rows, location, f"{source.name} {cfg.modality}")
    if cfg.log_model:
        classifier = model.for_prediction()
        example = np.zeros((1, 3, *classifier.hparams["input_size"]), dtype=np.float32)  # the mean image, no patient's
        run.log_model(classifier, example, classifier.output_shape, cfg.register_as)
    return metrics


def run_tags(cfg: DictConfig, digest: str) -> dict[str, str]:
    sweep_id, job_num = sweep_identity()
    source = ", ".join(source_kind(source) for source in job_sources(cfg))
    return {
        tracking.KIND_TAG: tracking.TRAIN_KIND,
        tracking.CONFIG_HASH_TAG: digest,
        tracking.COMMIT_TAG: tracking.git_commit(),
        tracking.SWEEP_TAG: sweep_id,
        tracking.JOB_TAG: str(job_num),
        tracking.DATA_SOURCE_TAG: source,
    } | {
        f"{tracking.ENVIRONMENT_TAG_PREFIX}{name}": value
        for name, value in environment(str(cfg.trainer.accelerator)).items()
    }


def train(cfg: DictConfig) -> dict[str, float]:
    """Run one job; return its test metrics (empty when resumed from an existing FINISHED run)."""
    check_job_config(cfg)
    cores = cpu_budget(cfg.resources.cpus, jobs_at_once())
    use_cpu_budget(cores)
    seed = int(cfg.seed)  # seed 0 is a seed: never `if cfg.seed:`
    L.seed_everything(seed, workers=True, verbose=False)
    if is_launched_ddp_child():
        fit_and_test(cfg, *build(cfg), logger=False)
        return {}
    tracking_uri = tracking.resolve_tracking_uri(cfg.mlflow.tracking_uri)
    experiment = cfg.mlflow.experiment_name
    pending_dir = tracking.resolve_pending_dir(cfg.mlflow.pending_dir)
    resolved = {key: value for key, value in plain(cfg).items() if key != "hydra"}
    digest = tracking.config_hash(resolved | {"split_scheme": SPLIT_SCHEME})  # a run of another scheme is no resume
    resume_digest = digest if cfg.resume else None
    if finished := tracking.prepare_job(tracking_uri, experiment, pending_dir, resume_digest):
        log.info("skipping %s seed %d: run %s has the same config (resume=false to redo)", cfg.modality, seed, finished)
        return {}
    datamodule, model = build(cfg)
    datamodule.indexed_manifests()  # missing weights and unindexable roots fail here, before a run is opened
    with tracking.claimed_run(
        tracking_uri,
        experiment,
        f"{cfg.modality}-seed{seed}",
        run_tags(cfg, digest),
        tracking.flatten(resolved) | {CPU_BUDGET_PARAM: cores},
        resume_digest,
        Path(cfg.paths.output_dir) / "mlflow-journal",
        pending_dir,
    ) as run:
        if run is None:  # another process trains this config now
            return {}
        with ddp_children_run_this_job():
            tested = fit_and_test(cfg, datamodule, model, RunLogger(run))
        metrics = {
            key: float(value) for key, value in model.trainer.callback_metrics.items() if key.startswith("test/")
        }
        metrics |= record(cfg, run, datamodule, model, tested)
    return metrics


def source_kind(source: DataSource) -> str:
    """What a root is, for the run's data-source tag: a PACS, a phantom (with its parameters) or DICOM files."""
    if source.pacs is not None:
        return "dicomweb"
    phantom = phantom_parameters(Path(source.root))
    return f"phantom ({phantom})" if phantom is not None else "dicom"
