"""Fused T1+T2 input (modality=T1T2) against T1 and T2 alone, on the phantom.

The real set has too few patients with both a sagittal T1 and a T2 series to measure fused input,
so this runs on a phantom where every patient has both: the demo recipe (tiny network from
scratch, 64x64, patient splits shared by T1, T2 and T1T2 of a seed), 10 seeds each. Reported:
mean ± sd of per-slice accuracy and F1 (independent and band rule) and mid_hit on the test split,
then the paired corrected resampled t of T1T2 against T2 and against T1 (same seed, same patients).

    .venv/bin/python benchmarks/fused_phantom.py            # -> benchmarks/results/fused_phantom.md
"""

from __future__ import annotations

import argparse
import logging
import time

from lss.launch.compose import compose_train_config
from lss.text import markdown_table
from lss.training import train
from support import (
    CACHE_DIR,
    PAIRED_TEST_HEADER,
    REPO,
    TEST_METRIC_COLUMNS,
    benchmark_phantom,
    mean_sd,
    paired_test,
    publish,
    runs_by_seed,
)

WORKDIR = CACHE_DIR / "fused_phantom"
RESULTS = REPO / "benchmarks" / "results" / "fused_phantom.md"
MODALITIES = ("T1", "T2", "T1T2")


def measure(patients: int, seeds: int) -> str:
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    started = time.monotonic()
    root = benchmark_phantom(patients)
    uri = f"sqlite:///{WORKDIR / 'mlflow.db'}"
    experiment = f"fused-phantom-p{patients}"
    for modality in MODALITIES:
        done = set(runs_by_seed(uri, experiment, modality).get("seed", []))
        for seed in (seed for seed in range(seeds) if seed not in done):
            cfg = compose_train_config(
                [
                    "experiment=demo",
                    f"data.root={root}",
                    f"modality={modality}",
                    f"seed={seed}",
                    f"paths.cache_dir={WORKDIR / 'cache'}",
                    f"mlflow.tracking_uri={uri}",
                    f"mlflow.experiment_name={experiment}",
                    "log_checkpoint=false",
                    "log_model=false",
                ],
                WORKDIR / "jobs" / f"{modality}-{seed}",
            )
            metrics = train(cfg)
            print(f"{modality} seed {seed}: F1 {metrics['test/f1']:.3f}", flush=True)
    runs = {modality: runs_by_seed(uri, experiment, modality) for modality in MODALITIES}
    rows = [
        [modality, str(len(frame)), *(mean_sd(frame[column]) for column in TEST_METRIC_COLUMNS)]
        for modality, frame in runs.items()
    ]
    tests = [
        paired_test(f"T1T2 - {single}", runs["T1T2"], runs[single], metric, metric)
        for single in ("T2", "T1")
        for metric in ("f1", "f1_band", "mid_hit")
    ]
    return "\n".join(
        [
            f"# Fused T1+T2 input on the phantom ({patients} patients, tiny network from scratch)",
            "",
            markdown_table(["input", "seeds", *TEST_METRIC_COLUMNS.values()], rows),
            "",
            markdown_table(PAIRED_TEST_HEADER, tests),
            "",
            "mid_hit of T1T2 counts only test series whose every T2 slice found a T1 partner (a series with"
            " dropped slices has no whole stack to choose from), so it has fewer seeds than its other columns.",
            "",
            f"Test-split numbers, patient splits shared by the three inputs of a seed. Wall time "
            f"{(time.monotonic() - started) / 60:.0f} min (finished runs are not trained again).",
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", type=int, default=40)
    parser.add_argument("--seeds", type=int, default=10)
    args = parser.parse_args()
    publish(measure(args.patients, args.seeds), RESULTS)


if __name__ == "__main__":
    main()
