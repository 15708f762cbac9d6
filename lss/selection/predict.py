"""What ``python predict.py`` does: load the model, select, print a short summary (and accuracy when labelled)."""

from __future__ import annotations

from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from lss import tracking
from lss.dicom.dicomweb import DicomWebSource, is_dicomweb
from lss.dicom.walk import walk_repository
from lss.errors import ConfigError
from lss.manifest import MID
from lss.model.selector import Selector
from lss.selection.accuracy import selection_accuracy
from lss.selection.model_source import RUN_FILES, load_selector, untrained_selector
from lss.selection.options import SelectionOptions
from lss.selection.select import KOS_DIR, SelectionResult, refuse_output_inside_input, select_mid_slices
from lss.workers import cpu_budget, use_cpu_budget

LABELS_BESIDE_INPUT = "labels.csv"
"""The phantom writes its reference labels here; any input with such a file gets an accuracy line."""


def summary(result: SelectionResult, accuracy: dict[str, float] | None) -> str:
    scored = result.series[result.series["status"] == "selected"]
    documents = len(result.key_objects)
    kos = f", {documents} Key Object Selection documents under {result.output_dir / KOS_DIR}" if documents else ""
    lines = [
        f"{len(result.predictions)} {result.modality}-model slices scored in {len(scored)} series "
        f"({result.mid_rule} rule); {int((result.predictions['label'] == MID).sum())} chosen as Mid, "
        f"mean series confidence {scored['confidence'].mean():.3f}",
        f"{len(result.series) - len(scored)} series of another modality not scored; "
        f"{len(result.skipped)} input files skipped (skipped.csv)",
        f"{result.n_selected_files} files under {result.output_dir / 'selected'}{kos}; tables in {result.output_dir}",
        f"{(scored['review'] != '').sum()} of {len(scored)} series flagged for review; review page: {result.report}",
    ]
    if accuracy is not None:
        lines.append(
            f"against {LABELS_BESIDE_INPUT}: accuracy {accuracy['accuracy']:.3f}, F1 {accuracy['f1']:.3f} "
            f"over {accuracy['n_slices']} slices; "
            f"mid-sagittal slice chosen in {accuracy['mid_sagittal_chosen']:.0%} of {accuracy['n_series']} series"
        )
    return "\n".join(lines)


def model_source(cfg: DictConfig) -> str:
    """How the model was named on the command line, for the review page."""
    return next(
        (f"{key}={cfg[key]}" for key in ("checkpoint", "run_id", "model_uri") if cfg[key] is not None),
        f"selector={cfg.selector} (learns nothing, no checkpoint)",
    )


def selector_of(cfg: DictConfig, run_files: Path) -> Selector:
    """The trained selector checkpoint=, run_id= or model_uri= names (a run's config and split kept in ``run_files``),
    else the selector= that learns nothing, built from its config file (with predict.py's own hydra.searchpath)."""
    for kept in RUN_FILES.values():
        (run_files / kept).unlink(missing_ok=True)  # an earlier selection's run is not this one's
    if cfg.selector is not None and all(cfg[key] is None for key in ("checkpoint", "run_id", "model_uri")):
        overrides = [*cfg.selector_overrides, f"index.band_size={cfg.index.band_size}"]
        if HydraConfig.initialized() and HydraConfig.get().searchpath:
            overrides.append(f"hydra.searchpath={list(HydraConfig.get().searchpath)}")
        return untrained_selector(cfg.selector, overrides)
    return load_selector(cfg.checkpoint, cfg.run_id, cfg.mlflow.tracking_uri, run_files, cfg.model_uri)


def check_paths(cfg: DictConfig) -> None:
    """Refuse, before anything is loaded or written, a missing input= / output=, an input that is not a folder of
    files, and an output inside the input (one line each)."""
    for key in ("input", "output"):
        if OmegaConf.is_missing(cfg, key) or cfg[key] is None:
            raise ConfigError(f"{key}= is not set: python predict.py run_id=ID input=/data/new_studies output=DIR")
    if is_dicomweb(cfg.input):
        DicomWebSource(cfg.input)  # refuses credentials written into the URL
        return
    if cfg.studies is not None or cfg.store:
        raise ConfigError("studies= and store= are for a PACS: give input=http(s)://HOST:PORT/PATH (a DICOMweb root)")
    input_dir = Path(cfg.input).resolve()
    if not input_dir.is_dir():
        raise ConfigError(f"input={cfg.input} is not a folder; point input= at a folder of DICOM studies")
    refuse_output_inside_input(input_dir, Path(cfg.output).resolve())
    if not walk_repository(input_dir)[0]:
        raise ConfigError(f"input={cfg.input} holds no files; point input= at a folder of DICOM studies")


def predict(cfg: DictConfig) -> SelectionResult:
    check_paths(cfg)
    use_cpu_budget(cpu_budget(cfg.resources.cpus))
    output = Path(cfg.output)
    model = selector_of(cfg, output)
    if not model.needs_checkpoint:
        print(
            f"No trained model given (run_id=, model_uri= or checkpoint=): selecting with selector={model.name}, "
            "which needs no training; correct it on the review page and train on the labels you export"
        )
    run_split = output / RUN_FILES[tracking.SPLIT_ARTIFACT]
    options = SelectionOptions.from_config(cfg, model_source(cfg), run_split if run_split.is_file() else None)
    result = select_mid_slices(model, cfg.input, output, options)
    labels = None if is_dicomweb(cfg.input) else Path(cfg.input) / LABELS_BESIDE_INPUT
    accuracy = (
        selection_accuracy(result, labels, options.band_size)
        if labels is not None and labels.is_file() and len(result.predictions)
        else None
    )
    print(summary(result, accuracy))
    return result
