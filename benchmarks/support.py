"""What the benchmark scripts share: phantoms written once, a table printer, and clocks for a real sweep.

Phantoms go to ~/.cache/lss/benchmarks; the folder name carries a digest of the phantom writer's
source, so a changed writer gives a fresh phantom instead of timing a stale one.

The clocks are measurement-only hooks that time a real sweep from the command line, without touching lss/:

    LSS_STEP_CLOCK=clock.jsonl python train.py -m ... \\
        trainer._target_=benchmarks.support.TimedTrainer \\
        +hydra.callbacks.step_clock._target_=benchmarks.support.JobClock

Every event is one JSON line {"event", "job", "pid", "t"} (wall-clock seconds) appended to
$LSS_STEP_CLOCK; sweep_overhead.py and gpu_protocol.py turn them into gaps and splits.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
import pandas as pd
from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback as HydraCallback
from lightning.pytorch.callbacks import Callback
from omegaconf import DictConfig

import lss.phantom
from lss import tracking
from lss.analysis.stats import corrected_resampled_t
from lss.phantom import write_phantom
from lss.text import markdown_table

REPO = Path(__file__).resolve().parents[1]


def print_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    print(markdown_table(header, rows))


def publish(text: str, results: Path) -> None:
    """Print a benchmark's report and write it to its results file."""
    print("\n" + text)
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(text)
    print(f"written to {results}")


# -- phantoms ------------------------------------------------------------------------------

CACHE_DIR = Path("~/.cache/lss/benchmarks").expanduser()
SLICES_PER_SERIES = 15
"""The phantom's sagittal series length: a patient gives 15 T1 and 15 T2 sagittal slices."""


def writer_version() -> str:
    digest = hashlib.sha256()
    for source in sorted(Path(lss.phantom.__file__).parent.glob("*.py")):
        digest.update(source.read_bytes())
    return digest.hexdigest()[:8]


def benchmark_phantom(n_patients: int, seed: int = 0, cache_dir: Path = CACHE_DIR) -> Path:
    """A phantom root with ``n_patients`` patients and its labels.csv; written only when missing."""
    root = cache_dir / f"phantom_p{n_patients}_s{seed}_w{writer_version()}"
    if (root / "labels.csv").exists():
        return root
    staging = root.with_name(root.name + ".writing")
    shutil.rmtree(staging, ignore_errors=True)  # left by an interrupted write
    write_phantom(staging, n_patients=n_patients, seed=seed, n_slices=SLICES_PER_SERIES)
    staging.rename(root)
    return root


def patients_for_slices(n_slices: int) -> int:
    """Patients whose sagittal series of one modality give at least ``n_slices`` slices."""
    return math.ceil(n_slices / SLICES_PER_SERIES)


# -- clocks for a real sweep --------------------------------------------------------------

CLOCK_ENV = "LSS_STEP_CLOCK"


def record(event: str, **fields: Any) -> None:
    path = os.environ.get(CLOCK_ENV)
    if not path:
        return
    job = HydraConfig.get().job.num if HydraConfig.initialized() and HydraConfig.get().job.get("num") is not None else 0
    line = json.dumps({"event": event, "job": job, "pid": os.getpid(), "t": time.time(), **fields})
    with open(path, "a") as handle:  # O_APPEND: whole lines, also from parallel jobs
        handle.write(line + "\n")


class StepClock(Callback):
    """Data ready, first and last optimizer step, and per-epoch training images/s."""

    def __init__(self) -> None:
        self.first_step_seen = False
        self.last_step_end = 0.0
        self.train_images = 0
        self.epoch_started = 0.0

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        record("data_ready", stage=stage)  # Lightning calls this right after datamodule.setup

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.train_images, self.epoch_started = 0, time.time()

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        if not self.first_step_seen:
            self.first_step_seen = True
            record("first_step")

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        self.train_images += len(batch[1])
        self.last_step_end = time.time()

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # last training step minus epoch start: the training loop alone (loader included, validation not)
        record(
            "train_epoch",
            epoch=trainer.current_epoch,
            images=self.train_images,
            seconds=self.last_step_end - self.epoch_started,
        )

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        record("last_step", t_step=self.last_step_end)


class TimedTrainer(L.Trainer):
    """A Lightning Trainer that carries StepClock and records when fit and test are entered and left."""

    def __init__(self, *args: Any, callbacks: list[Callback] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, callbacks=[*(callbacks or []), StepClock()], **kwargs)

    def fit(self, *args: Any, **kwargs: Any) -> None:
        record("fit_start")
        super().fit(*args, **kwargs)
        record("fit_end")

    def test(self, *args: Any, **kwargs: Any) -> Any:
        record("test_start")
        result = super().test(*args, **kwargs)
        record("test_end")
        return result


class JobClock(HydraCallback):
    """When Hydra starts and ends each job of the sweep (MLflow recording included)."""

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        record("job_start")

    def on_job_end(self, config: DictConfig, job_return: Any, **kwargs: Any) -> None:
        record("job_end")


CLOCK_OVERRIDES = [
    "trainer._target_=benchmarks.support.TimedTrainer",
    "+hydra.callbacks.step_clock._target_=benchmarks.support.JobClock",
]


def run_clocked(train_args: list[str], clock: Path) -> tuple[float, float, list[dict]]:
    """(start time, wall seconds, clock events) of one train.py command; exits with its stderr if it fails."""
    command = [sys.executable, "train.py", *train_args, *CLOCK_OVERRIDES]
    print("$ " + " ".join(command), flush=True)
    started = time.time()
    result = subprocess.run(
        command,
        cwd=REPO,
        env={**os.environ, CLOCK_ENV: str(clock)},
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    wall = time.time() - started
    if result.returncode != 0:
        sys.exit(f"train.py failed (exit {result.returncode}):\n{result.stderr[-6000:]}")
    return started, wall, [json.loads(line) for line in clock.read_text().splitlines()]


# -- results of many seeds -------------------------------------------------------------------


def runs_by_seed(tracking_uri: str, experiment: str, modality: str) -> pd.DataFrame:
    """One row per seed (the newest FINISHED run): ``test/*`` metrics without the prefix, ``seed``, and ``ratio``,
    the split's n_test / n_train (the Nadeau-Bengio correction term)."""
    found = tracking.runs_frame(
        tracking_uri, experiment, f"attributes.status = 'FINISHED' and params.modality = '{modality}'"
    )
    if found is None or found.empty:
        return pd.DataFrame()
    found = found.sort_values("start_time").drop_duplicates("params.seed", keep="last")
    metrics = {
        column: column.removeprefix("metrics.test/") for column in found.columns if column.startswith("metrics.test/")
    }
    frame = found.rename(columns=metrics)[list(metrics.values())]
    frame["seed"] = found["params.seed"].astype(int).to_numpy()
    frame["ratio"] = (
        found["params.split.n_test"].astype(float) / found["params.split.n_train"].astype(float)
    ).to_numpy()
    return frame.sort_values("seed").reset_index(drop=True)


def mean_sd(values: pd.Series) -> str:
    values = values.dropna()
    if len(values) > 1:
        return f"{values.mean():.3f} ± {values.std(ddof=1):.3f}"
    return f"{values.mean():.3f}" if len(values) else "-"


def paired_test(label: str, better: pd.DataFrame, worse: pd.DataFrame, metric: str, baseline_metric: str) -> list[str]:
    """A table row: ``better[metric]`` minus ``worse[baseline_metric]`` seed by seed (same split), Nadeau-Bengio
    corrected resampled t, paired."""
    pairs = (
        better[["seed", metric, "ratio"]]
        .merge(worse[["seed", baseline_metric]].rename(columns={baseline_metric: "other"}), on="seed")
        .dropna()
    )
    if len(pairs) < 3:
        return [label, metric, str(len(pairs)), "-", "-", "-", "too few seeds"]
    ratio = float(pairs["ratio"].median())
    test = corrected_resampled_t(pairs["other"], pairs[metric], (ratio, ratio), paired=True)
    p = f"n/a ({test.undefined})" if test.undefined else (f"{test.p:.3g}" if test.p >= 0.001 else "< 0.001")
    ci = "n/a" if test.undefined else f"[{test.ci_low:+.3f}, {test.ci_high:+.3f}]"
    t = "n/a" if test.undefined else f"{test.t:.2f}"
    return [label, metric, str(len(pairs)), f"{test.difference:+.3f}", t, p, ci]


TEST_METRIC_COLUMNS = {
    "accuracy": "accuracy",
    "f1": "F1",
    "accuracy_band": "accuracy (band)",
    "f1_band": "F1 (band)",
    "mid_hit": "mid_hit",
}
"""Test-split metric (``test/`` stripped) -> column heading of the results tables."""
PAIRED_TEST_HEADER = ["comparison", "metric", "seeds", "mean difference", "corrected t", "p", "95% CI"]
