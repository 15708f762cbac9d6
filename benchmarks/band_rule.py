"""Independent vs band rule: per-slice test accuracy of the same trained models.

Trains demo models in-process on a phantom (seeds x T1, T2, patient-grouped splits so test
series are whole), and reads both figures each run logs: ``test/accuracy`` (each slice on its
own, p_mid >= 0.5, the paper) and ``test/accuracy_band`` (the best window of 5 per series).

    .venv/bin/python benchmarks/band_rule.py                          # 5 seeds x T1,T2, demo config
    .venv/bin/python benchmarks/band_rule.py --seeds 3 --patients 12 --set trainer.max_epochs=2
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

import pandas as pd

from lss.analysis.stats import corrected_resampled_t
from lss.launch.compose import compose_train_config
from lss.phantom import write_phantom
from lss.training import train


def measure(workdir: Path, patients: int, seeds: int, extra: list[str]) -> pd.DataFrame:
    phantom = workdir / "phantom"
    write_phantom(phantom, n_patients=patients, seed=0)
    rows = []
    for modality in ("T1", "T2"):
        for seed in range(seeds):
            overrides = [
                "experiment=demo",
                f"data.root={phantom}",
                f"data.labels={phantom / 'labels.csv'}",
                f"modality={modality}",
                f"seed={seed}",
                f"paths.cache_dir={workdir / 'cache'}",
                f"mlflow.tracking_uri=sqlite:///{workdir / 'mlflow.db'}",
                "resume=false",
                *extra,
            ]
            started = time.monotonic()
            metrics = train(compose_train_config(overrides, workdir / f"{modality}-{seed}"))
            rows.append(
                {
                    "modality": modality,
                    "seed": seed,
                    "accuracy_independent": metrics["test/accuracy"],
                    "accuracy_band": metrics["test/accuracy_band"],
                    "f1_independent": metrics["test/f1"],
                    "f1_band": metrics["test/f1_band"],
                    "seconds": time.monotonic() - started,
                }
            )
            print(
                f"{modality} seed {seed}: independent {rows[-1]['accuracy_independent']:.3f}  "
                f"band {rows[-1]['accuracy_band']:.3f}  ({rows[-1]['seconds']:.0f} s)",
                flush=True,
            )
    return pd.DataFrame(rows)


def summary(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean (sd) per modality, and the paired band - independent difference with its 95% CI."""
    rows = []
    for modality, group in runs.groupby("modality"):
        for metric in ("accuracy", "f1"):
            independent, band = group[f"{metric}_independent"], group[f"{metric}_band"]
            test = (
                corrected_resampled_t(independent, band, (0.0, 0.0), paired=True)  # same models: a plain paired t
                if len(group) >= 3 and (band - independent).std() > 0
                else None
            )
            rows.append(
                {
                    "modality": modality,
                    "metric": metric,
                    "n_runs": len(group),
                    "independent": f"{independent.mean():.3f} ({independent.std():.3f})",
                    "band": f"{band.mean():.3f} ({band.std():.3f})",
                    "band - independent": f"{(band - independent).mean():+.3f}"
                    + (f" [{test.ci_low:+.3f}, {test.ci_high:+.3f}] p={test.p:.3g}" if test else ""),
                    "band better / equal / worse": (
                        f"{(band > independent).sum()} / {(band == independent).sum()} / {(band < independent).sum()}"
                    ),
                }
            )
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=5, help="runs per modality (default 5)")
    parser.add_argument(
        "--patients", type=int, default=16, help="phantom patients (default 16: 3 test patients per split)"
    )
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="extra train.py override, repeatable"
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="keep phantom, cache and MLflow store here (default: a temporary folder)",
    )
    parser.add_argument("--csv", type=Path, default=None, help="also write the per-run figures here")
    args = parser.parse_args()
    logging.getLogger("lightning").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="lss-band-") as scratch:
        runs = measure(args.workdir or Path(scratch), args.patients, args.seeds, args.set)
    if args.csv:
        runs.to_csv(args.csv, index=False)
    print("\nPer-slice test metrics, mean (sd) over seeds; paired difference with 95% CI:\n")
    print(summary(runs).to_string(index=False))


if __name__ == "__main__":
    main()
