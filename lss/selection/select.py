"""Index new studies, score every sagittal slice of the model's modality, choose the Mid band, write it all.

Outputs under ``output_dir``: predictions.csv (one row per scored slice), series.csv (one row per
sagittal series: its chosen Mid slices, mid slice, confidence and review flag, or why it was not
scored), the indexer's skipped.csv, selected/ with the chosen files, report.html (the review page)
and, with ``explain``, saliency/ (Grad-CAM overlays). Nothing is ever written under the input.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from lss.data.cache import manifest_images
from lss.data.channels import FUSED, InputPlan, input_plan
from lss.data.preprocess import PreprocessParams
from lss.data.split_file import part_of_series
from lss.data.stacks import MIN_SLICES
from lss.decide.mid_rule import MidRule, choose_mid, chosen_mid_index, chosen_mid_plane_mm
from lss.dicom.dicomweb import DicomWebSource, is_dicomweb, retrieve_instances, store, study_metadata
from lss.dicom.index import index_dicomweb, index_repository
from lss.errors import ConfigError, UserError
from lss.manifest import LATERAL, MID, PREDICTION_COLUMNS, T1, T2
from lss.model.selector import Selector
from lss.selection.explain import EXPLAINED_COLUMNS, SALIENCY_DIR, write_overlays
from lss.selection.export import export_selected
from lss.selection.key_objects import write_key_object_selections
from lss.selection.options import SelectionOptions
from lss.selection.report import write_report
from lss.selection.review import band_p_mid, label_free_pick, review_reasons
from lss.selection.scoring import prediction_trainer, score_slices

log = logging.getLogger(__name__)

SERIES_COLUMNS = [
    "series_uid",
    "modality",
    "n_slices",
    "status",
    "n_mid",
    "mid_slice_indices",
    "mid_sop_uids",
    "mid_slice_index",
    "mid_plane_mm",
    "confidence",
    "band_p_mid",
    "review",
    "selector",
]
REPORT = "report.html"
KOS_DIR = "kos"
RETRIEVED = "retrieved"
"""With a PACS as input (DICOMweb): the scored instances, retrieved once from the PACS (selected/ links into it)."""


@dataclass
class SelectionResult:
    """The tables select_mid_slices wrote to output_dir, and what produced them."""

    predictions: pd.DataFrame
    series: pd.DataFrame
    skipped: pd.DataFrame
    output_dir: Path
    modality: str
    mid_rule: str
    n_selected_files: int
    report: Path
    key_objects: list[Path]
    """One DICOM Key Object Selection per study (kos/<study UID>.dcm), referencing its chosen Mid slices."""


def refuse_output_inside_input(input_dir: Path, output_dir: Path) -> None:
    if output_dir == input_dir or output_dir.is_relative_to(input_dir):
        raise ConfigError(
            f"output={output_dir} is inside input={input_dir}; "
            "the input is never written to, choose an output outside it"
        )


def slices_to_score(
    manifest: pd.DataFrame, modality: str, allow_modality_mismatch: bool
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(slices the model may see, slices of other series with a ``reason``): a T1 model says nothing
    reliable about T2. A T1T2 model sees T2 slices with the T1 slices of their studies."""
    if allow_modality_mismatch:
        return manifest, manifest.iloc[:0].assign(reason="")
    matches = manifest["modality"].isin([T1, T2] if modality == FUSED else [modality])
    other = manifest[~matches]
    if len(other):
        counts = other.groupby("modality")["series_uid"].nunique()
        found = ", ".join(f"{count} {name} series" for name, count in counts.items())
        log.warning(
            "skipping %s: the model was trained on %s (allow_modality_mismatch=true scores them anyway)",
            found,
            modality,
        )
    reasons = [f"skipped: {series_modality} series, {modality} model" for series_modality in other["modality"]]
    return manifest[matches], other.assign(reason=reasons)


def whole_series_only(slices: pd.DataFrame, context: int, unit: str) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """(series long enough to score, the others with a ``reason``, why): a context model needs each slice's
    neighbours, a series selector at least MIN_SLICES slices to compare; a lone file is not scored."""
    if unit == "series":
        needed, why = MIN_SLICES, f"a series selector compares the slices of a series (at least {MIN_SLICES})"
    elif context > 1:
        needed, why = 2, f"a data.context={context} model needs whole series"
    else:
        return slices, slices.iloc[:0].assign(reason=""), ""
    sizes = slices.groupby("series_uid")["sop_uid"].transform("size")
    short = sizes < needed
    if short.any():
        log.warning("%d slices are in series too short to score: %s", short.sum(), why)
    reasons = [f"skipped: {size} slice{'s' if size > 1 else ''}; {why}" for size in sizes[short]]
    return slices[~short], slices[short].assign(reason=reasons), why


def unplanned(usable: pd.DataFrame, plan: InputPlan) -> pd.DataFrame:
    """Series a T1T2 model could not score: its T1 series (they fill a channel) and T2 series without a T1 partner."""
    left = usable[~usable["series_uid"].isin(plan.samples["series_uid"])]
    reasons = [
        "T1 channel of the T1T2 model" if series_modality == T1 else "skipped: no T1 slice at matching positions"
        for series_modality in left["modality"]
    ]
    return left.assign(reason=reasons)


@contextlib.contextmanager
def image_cache(cache_dir: Path | None, output_dir: Path) -> Iterator[Path]:
    """The configured cache, or a scratch folder under the output removed once the slices are scored."""
    if cache_dir is not None:
        yield Path(cache_dir)
        return
    output_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=output_dir, prefix=".image-cache-") as scratch:
        yield Path(scratch)


def prediction_table(slices: pd.DataFrame, p_mid: np.ndarray, mid_rule: MidRule, band_size: int) -> pd.DataFrame:
    predictions = slices.assign(p_mid=p_mid)[list(PREDICTION_COLUMNS)[:-1]].reset_index(drop=True)
    is_mid = choose_mid(predictions, mid_rule, band_size)
    return predictions.assign(label=np.where(is_mid, MID, LATERAL))


def series_confidence(series: pd.DataFrame) -> float:
    """Mean model probability of the decision taken per slice (p_mid if Mid, else 1 - p_mid); 1 = all certain."""
    return float(np.where(series["label"] == MID, series["p_mid"], 1.0 - series["p_mid"]).mean())


def series_table(
    predictions: pd.DataFrame,
    not_scored: pd.DataFrame,
    mid_rule: MidRule,
    band_size: int,
    review_threshold: float,
    second_opinions: dict[str, int | None] | None = None,
) -> pd.DataFrame:
    """One row per sagittal series of the input: its chosen Mid slices and review flag, or why it was not scored.
    ``second_opinions``: the label-free pick per series (``second_opinions``), None to flag without one."""
    rows = []
    for series_uid, series in predictions.sort_values(["series_uid", "slice_index"]).groupby("series_uid"):
        mid = series[series["label"] == MID]
        chosen_mid = chosen_mid_index(series, mid_rule, band_size)
        second_opinion = (second_opinions or {}).get(str(series_uid))
        rows.append(
            {
                "series_uid": series_uid,
                "modality": series["modality"].iloc[0],
                "n_slices": len(series),
                "status": "selected",
                "n_mid": len(mid),
                "mid_slice_indices": " ".join(map(str, mid["slice_index"])),
                "mid_sop_uids": " ".join(mid["sop_uid"]),
                "mid_slice_index": chosen_mid,
                "mid_plane_mm": chosen_mid_plane_mm(series, mid_rule, band_size),
                "confidence": series_confidence(series),
                "band_p_mid": band_p_mid(series),
                "review": review_reasons(series, band_size, review_threshold, chosen_mid, second_opinion),
            }
        )
    for series_uid, series in not_scored.groupby("series_uid"):
        rows.append(
            {
                "series_uid": series_uid,
                "modality": series["modality"].iloc[0],
                "n_slices": len(series),
                "status": series["reason"].iloc[0],
            }
        )
    return pd.DataFrame(rows, columns=SERIES_COLUMNS).astype({"n_mid": "Int64", "mid_slice_index": "Int64"})


def second_opinions(predictions: pd.DataFrame, images: np.ndarray, own_rows: np.ndarray) -> dict[str, int | None]:
    """The label-free symmetry pick of every scored series (``label_free_pick``); ``own_rows`` are the rows of
    ``images`` that hold each prediction row's own slice."""
    return {
        str(series_uid): label_free_pick(series, images[own_rows[series.index.to_numpy()]])
        for series_uid, series in predictions.groupby("series_uid")
    }


def described(model: Selector) -> str:
    """The selector's name, and its backbone when it has one."""
    backbone = model.hparams.get("backbone")
    return f"{model.name} selector" + (f" ({backbone})" if backbone else "")


def select_mid_slices(
    model: Selector, input_dir: str | Path, output_dir: str | Path, options: SelectionOptions
) -> SelectionResult:
    """Choose the Mid slices of every sagittal series of ``input_dir`` and write them to ``output_dir``.

    ``model`` is a selector (lss/model/selector.py) whose hparams name its modality, context, input size, mean and
    std.
    """
    output_dir = Path(output_dir).resolve()
    source = DicomWebSource(str(input_dir)) if is_dicomweb(input_dir) else None
    if options.store and source is None:
        raise ConfigError(
            "store=true sends the KOS documents back to a PACS: give input=http(s)://HOST:PORT/PATH (a DICOMweb root)"
        )
    write_kos = options.kos if options.kos is not None else source is not None
    if options.store and not write_kos:
        raise ConfigError("store=true sends the KOS documents back to the PACS: drop kos=false")
    if source is None:
        input_dir = Path(input_dir).resolve()
        refuse_output_inside_input(input_dir, output_dir)
        index = index_repository(input_dir, params=options.index, progress=options.progress)
    else:
        index = index_dicomweb(study_metadata(source, options.studies), params=options.index, progress=options.progress)
        input_dir = output_dir / RETRIEVED  # the instances scored, retrieved once: a folder for the rest
    shown = source.url if source is not None else str(input_dir)
    mid_rule, band_size = options.mid_rule, options.band_size
    if index.manifest.empty:
        reasons = ", ".join(f"{count} {reason}" for reason, count in index.skipped["reason"].value_counts().items())
        raise UserError(f"input={shown} holds no sagittal DICOM slice ({reasons or 'no files'}); nothing to select")
    modality, context = model.hparams["modality"], int(model.hparams.get("context", 1))
    usable, other_modality = slices_to_score(index.manifest, modality, options.allow_modality_mismatch)
    usable, lone, why = whole_series_only(usable, context, model.unit)
    plan = input_plan(usable, modality, context)
    not_scored = pd.concat([other_modality, lone, unplanned(usable, plan)], ignore_index=True)
    if plan.samples.empty and not lone.empty:
        raise UserError(f"input={shown} holds no whole series: {why}; give it the series' folder, not a lone file")
    size = model.hparams["input_size"]
    params = PreprocessParams(height=int(size[-2]), width=int(size[-1]))
    trainer = prediction_trainer(options.device, options.progress)
    output_dir.mkdir(parents=True, exist_ok=True)
    if source is not None:
        retrieve_instances(source, plan.sources["path"].tolist(), input_dir)
    with image_cache(options.cache_dir, output_dir) as cache:
        images = manifest_images(plan.sources, input_dir, params, cache, options.progress)
        p_mid = score_slices(model, plan, images, options.batch_size, trainer)
        predictions = prediction_table(plan.samples, p_mid, mid_rule, band_size)
        opinions = second_opinions(predictions, images, plan.channels[:, 1]) if model.needs_checkpoint else None
        series = series_table(predictions, not_scored, mid_rule, band_size, options.review_threshold, opinions)
        series["selector"] = model.name
        shutil.rmtree(output_dir / SALIENCY_DIR, ignore_errors=True)  # a rerun replaces its own earlier overlays
        explained = pd.DataFrame(columns=EXPLAINED_COLUMNS)
        if options.explain:
            network = model.network_to_explain()
            if network is None:
                raise ConfigError(
                    f"explain=true draws Grad-CAM of a classifier's network; selector {model.name} has none"
                )
            explained = write_overlays(
                network,
                model.hparams["mean"],
                model.hparams["std"],
                images,
                plan.channels,
                predictions,
                mid_rule,
                band_size,
                output_dir,
                trainer.strategy.root_device,
                options.batch_size,
            )
        about = {
            "model": options.model_source,
            "selector, modality": f"{described(model)}, {modality}",
            "temperature (calibration)": f"{float(model.temperature):.3f}",
            "Mid rule": f"{mid_rule}, band of {band_size} slices",
            "review when": f"the chosen band's mean p_mid < {options.review_threshold:g}, "
            "or a competing band reaches it"
            + ("" if not model.needs_checkpoint else ", or the label-free selector picks another mid slice"),
            "input": shown,
        }
        parts = part_of_series(options.run_split) if options.run_split is not None else None
        report = write_report(
            output_dir / REPORT, predictions, series, images, explained, about, len(index.skipped), parts
        )
    predictions.to_csv(output_dir / "predictions.csv", index=False)
    series.to_csv(output_dir / "series.csv", index=False)
    index.skipped.to_csv(output_dir / "skipped.csv", index=False)
    chosen = predictions.loc[predictions["label"] == MID, "path"]
    n_files = export_selected(chosen, input_dir, output_dir / "selected", options.mode)
    chosen_by = (
        f"Mid band chosen by lss, model {options.model_source} ({described(model)}, {modality}, "
        f"{mid_rule} rule, band of {band_size} slices); confidence = the chosen band's mean calibrated p_mid"
    )
    notes = {
        row.series_uid: f"{row.n_mid} Mid slices, confidence {row.band_p_mid:.3f}"
        for row in series[series["status"] == "selected"].itertuples()
    }
    shutil.rmtree(output_dir / KOS_DIR, ignore_errors=True)  # a rerun replaces its own earlier documents
    documents = (
        write_key_object_selections([input_dir / path for path in chosen], chosen_by, notes, output_dir / KOS_DIR)
        if write_kos
        else []
    )
    if source is not None and options.store:
        store(source, documents)
    return SelectionResult(
        predictions, series, index.skipped, output_dir, modality, mid_rule, n_files, report, documents
    )
