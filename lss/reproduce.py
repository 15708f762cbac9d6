"""``python -m lss.reproduce RUN_ID``: re-train a FINISHED run from its logged config here, and say whether it came
out equal: the same split, the same test metrics and, on CPU, the same test predictions.

The re-run reads the data the run read (its ``data.root``, checked by the index content key it logged) and logs into
a throw-away store, so the store it is compared with keeps one run per job. A difference in the run record (library
versions, device: lss.environment) is printed beside the verdict, since it is the first suspect of one.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from omegaconf import DictConfig, OmegaConf

from lss import tracking
from lss.data.sources import data_sources
from lss.data.splits import LEGACY_SPLIT_SCHEME
from lss.entry import one_line_user_errors
from lss.errors import UserError

SPLIT_PARAMS = (tracking.SPLIT_SCHEME_PARAM, "split.partition_id", "split.n_train", "split.n_val", "split.n_test")
INDEX_KEY_PARAM = "cache.index"
"""The index cache entry a run read: a content key of every file under its data root (lss.dicom.index_cache)."""
METRIC_TOLERANCE = 1e-9
PREDICTION_TOLERANCE = 1e-6
"""Largest |Δp_mid| still equal: a CPU re-run with the same threads is bit-identical, this only absorbs CSV rounding."""
SLICE_IDENTITY = ["series_uid", "sop_uid", "slice_index"]


@dataclass(frozen=True)
class Comparison:
    """One line per compared part, and what differs (empty when the re-run came out equal)."""

    lines: list[str]
    differences: list[str]

    @property
    def equal(self) -> bool:
        return not self.differences

    def report(self, run_id: str) -> str:
        verdict = f"equal: run {run_id} reproduced here" if self.equal else f"differs: {'; '.join(self.differences)}"
        return "\n".join([*self.lines, verdict])


def rerun_config(original: tracking.RunOutcome, scratch: Path) -> DictConfig:
    """The run's logged config, writing into ``scratch`` (its own store, no model), with the cores it had."""
    cfg = OmegaConf.load(original.config)
    if not isinstance(cfg, DictConfig) or cfg.get("data", {}).get("root") is None:
        raise UserError(f"the {original.config.name} of run {original.run_id} is no training config (no data.root)")
    for source in data_sources(cfg.data.root, None, None):
        if source.pacs is None and not Path(source.root).exists():
            raise UserError(
                f"the data root {source.root} that run {original.run_id} read is gone; reproduce needs that data"
            )
    changes = {
        "paths.output_dir": str(scratch / "job"),
        "mlflow.tracking_uri": f"sqlite:///{scratch / 'mlflow.db'}",
        "mlflow.pending_dir": str(scratch / "pending"),
        "resume": False,
        "log_model": False,
        "log_checkpoint": False,
        "register_as": None,
        "resources.cpus": original.params.get("resources.cpu_budget", cfg.resources.cpus),
    }
    for key, value in changes.items():
        OmegaConf.update(cfg, key, value, force_add=True)
    return cfg


def require_same_data(original: tracking.RunOutcome, cfg: DictConfig) -> None:
    """Refuse before training when the data root no longer holds what the run read (its index content key)."""
    from hydra.utils import instantiate

    logged = original.params.get(INDEX_KEY_PARAM, "")
    if not logged:  # the run read a given manifest: its split and metrics say whether the data are the same
        return
    now = instantiate(cfg.data, _convert_="all").cache_keys()[INDEX_KEY_PARAM]
    if now != logged:
        raise UserError(
            f"differs before training: the data under {cfg.data.root} changed since run {original.run_id} read it "
            f"(index content key {logged}, now {now}); reproduce needs the data the run read"
        )


def tested(outcome: tracking.RunOutcome) -> pd.Series | None:
    """p_mid of each test slice by (series, SOP instance, slice index); None when the run logged no predictions."""
    if outcome.predictions is None:
        return None
    predictions = pd.read_csv(outcome.predictions, dtype=dict.fromkeys(SLICE_IDENTITY, str))
    return predictions.set_index(SLICE_IDENTITY)["p_mid"]


def verdict(part: str, differing: list[str], detail: str) -> tuple[str, list[str]]:
    """The report line of one compared part, and its difference (if any) for the verdict."""
    line = f"{part}: {'differs' if differing else 'equal'} ({detail})"
    return line, [f"{part}: {', '.join(differing)}"] if differing else []


def compare_split(original: tracking.RunOutcome, rerun: tracking.RunOutcome) -> tuple[str, list[str]]:
    logged, now = ({tracking.SPLIT_SCHEME_PARAM: str(LEGACY_SPLIT_SCHEME)} | run.params for run in (original, rerun))
    differing = [
        f"{key} {logged.get(key, '-')} -> {now.get(key, '-')}"
        for key in SPLIT_PARAMS
        if logged.get(key) != now.get(key)
    ]
    there, here = tested(original), tested(rerun)
    if there is not None and here is not None and set(there.index) != set(here.index):
        only_there, only_here = there.index.difference(here.index), here.index.difference(there.index)
        differing.append(f"test slices ({len(only_there)} tested there only, {len(only_here)} here only)")
    return verdict("split", differing, f"partition {logged.get('split.partition_id', '-')}")


def compare_metrics(original: tracking.RunOutcome, rerun: tracking.RunOutcome) -> tuple[str, list[str]]:
    names = sorted(name for name in original.metrics if name.startswith("test/"))
    pairs = {name: (original.metrics[name], rerun.metrics.get(name, math.nan)) for name in names}
    differing = [
        f"{name} {there:.6g} -> {here:.6g}"
        for name, (there, here) in pairs.items()
        if not (abs(there - here) <= METRIC_TOLERANCE or (math.isnan(there) and math.isnan(here)))
    ]
    return verdict("metrics", differing, f"{len(names)} test metrics")


def compare_predictions(original: tracking.RunOutcome, rerun: tracking.RunOutcome) -> tuple[str, list[str]]:
    there, here = tested(original), tested(rerun)
    if there is None or here is None:
        return "test predictions: not compared (the run logged none)", []
    common = there.index.intersection(here.index)
    largest = float((there.loc[common] - here.loc[common]).abs().max()) if len(common) else math.inf
    differing = [f"max |Δp_mid| {largest:.3g}"] if largest > PREDICTION_TOLERANCE else []
    return verdict("test predictions", differing, f"{len(common)} slices, max |Δp_mid| {largest:.2g}")


def compare_record(original: tracking.RunOutcome, rerun: tracking.RunOutcome) -> str:
    """Where the run record (lss.environment, commit) differs: printed, not part of the verdict, since it is what
    explains one."""
    prefix = tracking.ENVIRONMENT_TAG_PREFIX
    keys = [*sorted(key for key in {*original.tags, *rerun.tags} if key.startswith(prefix)), tracking.COMMIT_TAG]
    name = {key: "commit" if key == tracking.COMMIT_TAG else key.removeprefix(prefix) for key in keys}
    differing = [
        f"{name[key]} {original.tags.get(key, 'unknown')} -> {rerun.tags.get(key, 'unknown')}"
        for key in keys
        if original.tags.get(key) != rerun.tags.get(key)
    ]
    return f"run record: {'differs in ' + ', '.join(differing) if differing else 'same'}"


def compare(original: tracking.RunOutcome, rerun: tracking.RunOutcome, on_cpu: bool) -> Comparison:
    parts = [compare_split(original, rerun), compare_metrics(original, rerun)]
    if on_cpu:
        parts.append(compare_predictions(original, rerun))
    lines = [line for line, _ in parts]
    if not on_cpu:
        lines.append("test predictions: not compared (GPU kernels are not bit-reproducible)")
    return Comparison([*lines, compare_record(original, rerun)], [item for _, found in parts for item in found])


def reproduce(run_id: str, tracking_uri: str | None = None) -> Comparison:
    """Re-train run ``run_id`` of the store at ``tracking_uri`` here and compare the two."""
    from lss.environment import on_gpu
    from lss.training import train

    uri = tracking.resolve_tracking_uri(tracking_uri)
    with tempfile.TemporaryDirectory(prefix="lss-reproduce-") as folder:
        scratch = Path(folder)
        original = tracking.finished_run_outcome(uri, run_id, scratch / "original")
        cfg = rerun_config(original, scratch)
        require_same_data(original, cfg)
        print(f"re-training run {run_id} ({cfg.modality} seed {cfg.seed}) here ...", flush=True)
        train(cfg)
        runs = tracking.runs_frame(cfg.mlflow.tracking_uri, cfg.mlflow.experiment_name)
        if runs is None or runs.empty:
            raise RuntimeError("the re-run logged no run")
        rerun = tracking.finished_run_outcome(cfg.mlflow.tracking_uri, str(runs["run_id"].iloc[0]), scratch / "rerun")
        return compare(original, rerun, on_cpu=not on_gpu(str(cfg.trainer.accelerator)))


@one_line_user_errors
def reproduce_command(argv: list[str] | None = None) -> bool:
    parser = argparse.ArgumentParser(
        prog="python -m lss.reproduce",
        description="Re-train a FINISHED training run from its logged config on this machine and compare split, "
        "metrics and (on CPU) test predictions with the original; exit 0 when equal, 1 when anything differs.",
    )
    parser.add_argument("run_id", help="the MLflow run id of a FINISHED training run")
    parser.add_argument(
        "--tracking-uri", help="the store holding it (default: $MLFLOW_TRACKING_URI, else outputs/mlflow.db)"
    )
    args = parser.parse_args(argv)
    comparison = reproduce(args.run_id, args.tracking_uri)
    print(comparison.report(args.run_id))
    return comparison.equal


def main(argv: list[str] | None = None) -> None:
    sys.exit(0 if reproduce_command(argv) else 1)


if __name__ == "__main__":
    main()
