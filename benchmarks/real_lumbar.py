"""Real lumbar MRI: how much better than the centre rule is the paper's method, and is it significant?

Trains ``experiment=real`` variants in-process on ../shared/data/real-lumbar (patient splits, so
test series are whole), on the set as it is (mid-sagittal slice at the stack centre) and on an
off-centre variant (3-4 slices dropped from one side of every series, so the true mid moves off
the stack centre). Every run also scores the centre rule on its own test slices. Reported per
variant: mean ± sd over seeds of per-slice accuracy and F1 (independent and band rule) and
``mid_hit``; then paired corrected resampled t-tests (Nadeau-Bengio) of ImageNet EfficientNet-Lite0
against the centre rule and against the same backbone from scratch. All numbers are test-split
numbers; nothing was tuned on them (the learning rate of experiment=real was chosen on the
validation part, see conf/experiment/real.yaml).

    .venv/bin/python benchmarks/real_lumbar.py          # 10 seeds x T2 (+ T1), both variants: results/real_lumbar.md
    .venv/bin/python benchmarks/real_lumbar.py --quick    # 2 seeds, T2, centred, 1 epoch (the make bench line)

Runs land in an MLflow store under ~/.cache/lss/benchmarks/real_lumbar/, so an interrupted
benchmark resumes where it stopped (``resume``) and every run can be inspected in the UI.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

from lss.data.slices import TrainingDataError
from lss.dicom.index_cache import indexed_manifest
from lss.dicom.index_params import IndexParams
from lss.launch.compose import compose_train_config
from lss.manifest import read_manifest, write_manifest
from lss.text import markdown_table
from lss.training import train
from support import CACHE_DIR, PAIRED_TEST_HEADER, REPO, TEST_METRIC_COLUMNS, mean_sd, paired_test, runs_by_seed

REAL_LUMBAR = (REPO / ".." / "shared" / "data" / "real-lumbar").resolve()
WORKDIR = CACHE_DIR / "real_lumbar"
RESULTS = REPO / "benchmarks" / "results" / "real_lumbar.md"
CENTRE = "centre rule (no training)"
TINY = ["model=tiny", "optimizer=adamw", "optimizer.lr=2e-3", "model.head_lr_multiplier=1", "data.input_size=[64,64]"]
"""The demo's from-scratch recipe: the tiny network learns nothing at the SGD learning rate of transfer learning."""
SLICE = ["selector=slice"]
CONFIGS: dict[str, tuple[str, list[str]]] = {
    "lite0-imagenet": ("EfficientNet-Lite0, ImageNet", SLICE),
    "tiny-scratch": ("tiny (test_resnet), from scratch", [*SLICE, *TINY]),
    "lite0-scratch": ("EfficientNet-Lite0, from scratch", [*SLICE, "model.pretrained=false"]),
    "lite0-imagenet-context3": ("EfficientNet-Lite0, ImageNet, context=3", [*SLICE, "data.context=3"]),
    "tiny-scratch-context3": ("tiny (test_resnet), from scratch, context=3", [*SLICE, *TINY, "data.context=3"]),
    "series-lite0": ("series selector (selector=series), Lite0 ImageNet embeddings", ["selector=series"]),
    "series-lite0-raw": (
        "raw-embedding selector (series selector without sqrt_features, centre_per_series)",
        ["selector=series", "model.sqrt_features=false", "model.centre_per_series=false"],
    ),
}
"""Run id -> (table row, overrides on top of ``experiment=real``). The EfficientNet rows differ only in the weights."""
IMAGENET, SCRATCH, SERIES, SERIES_RAW = "lite0-imagenet", "lite0-scratch", "series-lite0", "series-lite0-raw"
CENTRED = "centred"
CONTEXT_PAIRS = {"lite0-imagenet-context3": IMAGENET, "tiny-scratch-context3": "tiny-scratch"}
"""context=3 row -> the same recipe with context=1: compared seed by seed."""
COLUMNS = TEST_METRIC_COLUMNS | {"mid_hit_1": "mid_hit ±1", "mid_error_mm": "mid error mm"}
CENTRE_COLUMNS = {
    "accuracy": "accuracy_centre",
    "f1": "f1_centre",
    "accuracy_band": "accuracy_centre",
    "f1_band": "f1_centre",
    "mid_hit": "mid_hit_centre",
    "mid_hit_1": "mid_hit_1_centre",
    "mid_error_mm": "mid_error_mm_centre",
}
"""The centre rule has no independent/band distinction: both columns show its per-slice metrics."""


def off_centre(manifest: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Every series loses 3 or 4 slices from one end (alternating sides), so its true mid leaves the stack centre."""
    rng = np.random.default_rng(seed)
    kept = []
    for number, (_, series) in enumerate(manifest.sort_values(["series_uid", "slice_index"]).groupby("series_uid")):
        drop = int(rng.integers(3, 5))
        part = series.iloc[drop:] if number % 2 else series.iloc[:-drop]
        kept.append(part.assign(slice_index=np.arange(len(part)), n_slices=len(part)))
    return pd.concat(kept, ignore_index=True)


def t1_t2_only(manifest: pd.DataFrame) -> pd.DataFrame:
    """The set's T1 and T2 series as its README lists them (series.csv): its 2 STIR series are neither."""
    listed = pd.read_csv(REAL_LUMBAR / "series.csv")
    kept = set(listed.loc[listed["weighting"].isin(["T1", "T2"]), "folder"])
    return manifest[manifest["path"].map(lambda path: str(Path(path).parent) in kept)].reset_index(drop=True)


def variant_manifests(workdir: Path) -> dict[str, Path]:
    """The real set's T1 and T2 series (indexed once, cached) and their off-centre variant, relative to the set."""
    labels = REAL_LUMBAR / "labels.csv"
    indexed = read_manifest(indexed_manifest(REAL_LUMBAR, workdir / "index", labels, IndexParams(), progress=False))
    manifests = {CENTRED: workdir / "centred" / "manifest.csv", "off-centre": workdir / "off_centre" / "manifest.csv"}
    for variant, manifest in ((CENTRED, t1_t2_only(indexed)), ("off-centre", off_centre(t1_t2_only(indexed)))):
        manifests[variant].parent.mkdir(parents=True, exist_ok=True)
        write_manifest(manifest, manifests[variant])
    return manifests


def experiment_name(variant: str, config: str) -> str:
    return f"real-lumbar-{variant}-{config}"


def planned(variant: str, config: str, modality: str) -> bool:
    """Every row on centred T2; the off-centre stacks (the centre rule's weakness) on T2 only; the context=3
    ablation rows on centred T2 only (T1 has 3 patients); the series selector on T2 (3 T1 patients leave
    validation parts without a whole labelled series)."""
    if config == SERIES:
        return modality == "T2"
    if config in CONTEXT_PAIRS:
        return variant == CENTRED and modality == "T2"
    return variant == CENTRED or modality == "T2"


def run_all(
    workdir: Path,
    manifests: dict[str, Path],
    modalities: list[str],
    seeds: int,
    extra: list[str],
    configs: list[str],
) -> dict[str, int]:
    """Train every (variant, config, modality, seed) that has no FINISHED run yet. Returns refusals per row.

    Finished runs are found by experiment and seed, not by config hash, so a later change to an unrelated
    config key does not retrain the benchmark; delete the store to start over.
    """
    refused: dict[str, int] = {}
    for modality in modalities:
        for config in configs:
            overrides = CONFIGS[config][1]
            for variant, manifest in manifests.items():
                if not planned(variant, config, modality):
                    continue
                done = set(collected_runs(workdir, variant, config, modality).get("seed", []))
                for seed in (seed for seed in range(seeds) if seed not in done):
                    started = time.monotonic()
                    cfg = compose_train_config(
                        [
                            "experiment=real",
                            f"modality={modality}",
                            f"seed={seed}",
                            f"data.manifest={manifest}",
                            f"paths.cache_dir={workdir / 'cache'}",
                            f"mlflow.tracking_uri=sqlite:///{workdir / 'mlflow.db'}",
                            f"mlflow.experiment_name={experiment_name(variant, config)}",
                            "log_checkpoint=false",
                            "log_model=false",
                            "data.progress=false",
                            "trainer.enable_progress_bar=false",
                            *overrides,
                            *extra,
                        ],
                        workdir / "jobs" / variant / config / f"{modality}-{seed}",
                    )
                    try:
                        metrics = train(cfg)
                    except TrainingDataError as refusal:  # T1: 3 patients rarely give every split both classes
                        refused[f"{variant} | {config} | {modality}"] = (
                            refused.get(f"{variant} | {config} | {modality}", 0) + 1
                        )
                        print(f"{variant} | {config} | {modality} seed {seed}: refused ({refusal})", flush=True)
                        continue
                    summary = (
                        f"F1 {metrics['test/f1']:.3f}, mid_hit {metrics.get('test/mid_hit', float('nan')):.2f}"
                        if metrics
                        else "resumed"
                    )
                    print(
                        f"{variant} | {config} | {modality} seed {seed}: {summary} "
                        f"({time.monotonic() - started:.0f} s)",
                        flush=True,
                    )
    return refused


def collected_runs(workdir: Path, variant: str, config: str, modality: str) -> pd.DataFrame:
    """One row per seed of the FINISHED runs of one (variant, config, modality)."""
    return runs_by_seed(f"sqlite:///{workdir / 'mlflow.db'}", experiment_name(variant, config), modality)


def column(runs: pd.DataFrame, metric: str) -> pd.Series:
    """A metric of every run; empty where the runs predate it (test/mid_hit_1 is newer than some stores)."""
    return runs[metric] if metric in runs else pd.Series(dtype=float)


def variant_table(workdir: Path, variant: str, modality: str) -> tuple[list[list[str]], dict[str, pd.DataFrame]]:
    runs = {config: collected_runs(workdir, variant, config, modality) for config in CONFIGS}
    reference = runs[SERIES] if not runs[SERIES].empty else runs[IMAGENET]  # the newest runs log every centre metric
    rows = []
    if not reference.empty:
        rows.append([CENTRE, str(len(reference)), *(mean_sd(column(reference, CENTRE_COLUMNS[c])) for c in COLUMNS)])
    for config, frame in runs.items():
        if not frame.empty:
            rows.append([CONFIGS[config][0], str(len(frame)), *(mean_sd(column(frame, c)) for c in COLUMNS)])
    return rows, runs


def report(
    workdir: Path, manifests: dict[str, Path], modalities: list[str], refused: dict[str, int], wall_s: float
) -> str:
    lines = ["# Results on real images (benchmarks/real_lumbar.py)", ""]
    header = ["rule / network", "seeds", *COLUMNS.values()]
    for modality in modalities:
        for variant in manifests:
            rows, runs = variant_table(workdir, variant, modality)
            if not rows:
                continue
            caveat = " (3 patients: too small to conclude anything)" if modality == "T1" else ""
            lines += [f"## {modality}, {variant} stacks{caveat}", "", markdown_table(header, rows), ""]
            imagenet, scratch, series = runs[IMAGENET], runs[SCRATCH], runs[SERIES]
            tests = []
            if not series.empty:
                tests += [
                    paired_test(f"series selector - {against}", series, baseline, metric, baseline_metric)
                    for against, baseline, to_centre in (
                        ("centre rule", series, True),
                        ("ImageNet Lite0", imagenet, False),
                        ("raw-embedding selector", runs[SERIES_RAW], False),
                    )
                    if not baseline.empty
                    for metric in ("mid_hit", "mid_error_mm", "f1_band")
                    for baseline_metric in [CENTRE_COLUMNS[metric] if to_centre else metric]
                ]
            if imagenet.empty:
                if tests:
                    lines += [markdown_table(PAIRED_TEST_HEADER, tests), ""]
                continue
            tests += [
                paired_test("ImageNet Lite0 - centre rule", imagenet, imagenet, metric, CENTRE_COLUMNS[metric])
                for metric in ("f1", "f1_band", "mid_hit")
            ]
            for context_row, context_one in CONTEXT_PAIRS.items():
                if not runs[context_row].empty and not runs[context_one].empty:
                    tests += [
                        paired_test(
                            f"{CONFIGS[context_row][0]} - context=1", runs[context_row], runs[context_one], m, m
                        )
                        for m in ("f1", "f1_band", "mid_hit")
                    ]
            if not scratch.empty:
                tests += [
                    paired_test("ImageNet Lite0 - Lite0 from scratch", imagenet, scratch, metric, metric)
                    for metric in ("f1", "f1_band", "mid_hit")
                ]
            lines += [markdown_table(PAIRED_TEST_HEADER, tests), ""]
    if refused:
        lines += [
            "Seeds refused before training (a split without Mid or Lateral slices): "
            + "; ".join(f"{row}: {count}" for row, count in refused.items()),
            "",
        ]
    lines += [
        f"Wall time {wall_s / 60:.0f} min on this machine's {len(os.sched_getaffinity(0))} CPU cores "
        "(all rows, resumed runs not counted again)."
    ]
    return "\n".join(lines) + "\n"


def measure(
    quick: bool, seeds: int = 10, modalities: tuple[str, ...] = ("T2", "T1"), configs: tuple[str, ...] = tuple(CONFIGS)
) -> str:
    """Train what is missing and return the report; ``quick``: 2 seeds, T2, centred stacks, 1 epoch, its own store."""
    if not (REAL_LUMBAR / "labels.csv").is_file():
        raise SystemExit(f"real lumbar MRI not found at {REAL_LUMBAR}; this benchmark needs it")
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    started = time.monotonic()
    workdir = WORKDIR / "quick" if quick else WORKDIR
    manifests = variant_manifests(workdir)
    extra: list[str] = []
    if quick:
        manifests, modalities, seeds, extra = {CENTRED: manifests[CENTRED]}, ("T2",), 2, ["trainer.max_epochs=1"]
    refused = run_all(workdir, manifests, list(modalities), seeds, extra, list(configs))
    return report(workdir, manifests, list(modalities), refused, time.monotonic() - started)


def quick_row() -> str:
    """The make-bench figure: ImageNet Lite0 after 1 epoch against the centre rule, F1 (band) and mid_hit."""
    measure(quick=True)
    runs = collected_runs(WORKDIR / "quick", CENTRED, IMAGENET, "T2")
    return (
        f"F1 (band) {runs['f1_band'].mean():.3f} vs centre {runs['f1_centre'].mean():.3f}; "
        f"mid_hit {runs['mid_hit'].mean():.2f} vs {runs['mid_hit_centre'].mean():.2f} ({len(runs)} seeds, 1 epoch)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--modalities", default="T2,T1")
    parser.add_argument(
        "--quick", action="store_true", help="2 seeds, T2, centred, 1 epoch; prints, writes no results file"
    )
    parser.add_argument(
        "--configs",
        default=",".join(CONFIGS),
        help=f"rows to train (the report shows every row with runs): {', '.join(CONFIGS)}",
    )
    args = parser.parse_args()
    text = measure(args.quick, args.seeds, tuple(args.modalities.split(",")), tuple(args.configs.split(",")))
    print("\n" + text)
    if not args.quick:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(text)
        print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
