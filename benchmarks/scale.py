"""Scale: wall time and peak RSS of each stage as the repository grows, predict.py against a bare loop, and three
training jobs at once against one after another.

    .venv/bin/python benchmarks/scale.py            # N, 2N, 4N, 8N slices (N = 1,080: a 36-patient phantom)
    .venv/bin/python benchmarks/scale.py --quick    # N and 8N only: a few minutes on 2 cores

The phantom is repeated k times (copy j rewrites every UID root ``…8.498.`` as ``…8.4j8.``, same length, so each
copy is a new set of studies, series and instances, not duplicates the indexer drops). Each stage runs as its
own process, as a user runs it; its peak RSS is that process's (or its largest child's) high-water mark:

  * index:   ``lss-index`` over the k copies (every file's header);
  * cache:   every manifest slice decoded into the image cache at 299x299 (Inception-ResNet-v2's input);
  * train:   ``train.py experiment=demo trainer.max_epochs=1`` (its own index and 64x64 cache, one epoch, test);
  * predict: ``predict.py`` with the N-size model over the k copies (index, decode, score, report).

The bare loop is what predict.py cannot beat: dcmread + the same preprocessing + the same network, batches of the
same size, over the slices the manifest lists (the file list is given to it for free). Three jobs: three
``train.py`` processes one after another against three at once sharing the cores (``resources.cpus``), and
against one ``train.py -m`` sweep with ``hydra/launcher=parallel hydra.launcher.n_jobs=3``, caches warm.

Ends with one line: ``cache_rss_ratio=<8N/N> predict_vs_bare=<ratio> three_jobs_ratio=<together/one after another>``.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from support import CACHE_DIR, REPO, benchmark_phantom, print_table

BASE_PATIENTS = 36
"""A 36-patient phantom: 1,080 sagittal slices (15 T1 + 15 T2 per patient), N >= 1,000."""
UID_ROOT = b"1.2.826.0.1.3680043.8.498."
PREDICT_BATCH = 64
"""predict.py's batch_size default (conf/predict.yaml): the bare loop uses the same."""
CACHE_SIDE = 299
TARGETS = {"cache_rss_ratio": "<= 1.2", "predict_vs_bare": ">= 0.8", "three_jobs_ratio": "<= 1.05", "k": "<= 1.1"}


def copy_root(base: Path, copy: int) -> Path:
    """Copy ``copy`` of ``base`` with its own UIDs (written once, kept beside the benchmark phantoms)."""
    target = CACHE_DIR / f"{base.name}_copies" / f"c{copy}"
    if (target / "labels.csv").exists():
        return target
    staging = target.with_name(target.name + ".writing")
    shutil.rmtree(staging, ignore_errors=True)
    new_root = UID_ROOT.replace(b"498.", f"4{copy}8.".encode())
    for source in base.rglob("*"):
        if source.is_file():
            destination = staging / source.relative_to(base)
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_bytes(source.read_bytes().replace(UID_ROOT, new_root))
    staging.rename(target)
    return target


def repeated_phantom(base: Path, copies: int) -> Path:
    """A root holding ``copies`` copies of ``base`` (hard links) and one labels.csv for all of them."""
    root = CACHE_DIR / f"{base.name}_x{copies}"
    if (root / "labels.csv").exists():
        return root
    staging = root.with_name(root.name + ".writing")
    shutil.rmtree(staging, ignore_errors=True)
    labels = []
    for copy in range(copies):
        source = copy_root(base, copy)
        shutil.copytree(source, staging / f"c{copy}", copy_function=os.link)
        labels.append(pd.read_csv(source / "labels.csv"))
        (staging / f"c{copy}" / "labels.csv").unlink()
    pd.concat(labels).to_csv(staging / "labels.csv", index=False)
    staging.rename(root)
    return root


PEAK_RSS = """
import resource, subprocess, sys
code = subprocess.run(sys.argv[2:], stdout=subprocess.DEVNULL).returncode
open(sys.argv[1], "w").write(f"{code} {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}")
"""
"""Runs a stage and writes its exit code and peak RSS (KiB). A lean parent is needed: a process's high-water mark
starts at its parent's RSS when it is forked, and this benchmark's own process holds torch and Lightning."""


def timed(command: list[str], env: dict[str, str] | None = None) -> tuple[float, int]:
    """(wall seconds, peak RSS bytes) of one process: its own high-water mark or its largest child's."""
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as measured:
        started = time.perf_counter()
        process = subprocess.run(
            [sys.executable, "-S", "-c", PEAK_RSS, measured.name, *command],
            cwd=REPO,
            env={**os.environ, **(env or {})},
            stderr=subprocess.PIPE,
        )
        wall = time.perf_counter() - started
        code, peak_kib = (int(value) for value in measured.read().split())
    if code != 0 or process.returncode != 0:
        sys.exit(f"failed: {' '.join(command)}\n{process.stderr.decode()[-4000:]}")
    return wall, peak_kib * 1024


CACHE_BUILD = """
import sys
from pathlib import Path
from lss.data.cache import manifest_images
from lss.data.preprocess import PreprocessParams
from lss.manifest import read_manifest
manifest, root, cache, side = sys.argv[1:]
manifest_images(read_manifest(Path(manifest)), Path(root), PreprocessParams(int(side), int(side)), Path(cache), False)
"""

BARE_LOOP = """
import sys, time
from pathlib import Path
import numpy as np, torch
from lss.data.preprocess import PreprocessParams, preprocess_slice
from lss.dicom.pixels import read_slice_pixels
from lss.manifest import read_manifest
from lss.selection.model_source import load_selector

checkpoint, manifest, root, batch_size = sys.argv[1:]
model = load_selector(checkpoint=checkpoint).eval()
params = PreprocessParams(*model.hparams["input_size"])
mean = torch.tensor(model.hparams["mean"]).view(1, 3, 1, 1)
std = torch.tensor(model.hparams["std"]).view(1, 3, 1, 1)
slices = read_manifest(Path(manifest))
slices = slices[slices["modality"] == model.hparams["modality"]]
paths, frames = [Path(root) / path for path in slices["path"]], slices["frame"].astype(int).tolist()
scores = []
with torch.inference_mode():
    for start in range(0, len(paths), int(batch_size)):
        chunk = zip(paths[start:start + int(batch_size)], frames[start:start + int(batch_size)])
        images = np.stack([preprocess_slice(read_slice_pixels(path, frame), params) for path, frame in chunk])
        batch = torch.from_numpy(images).float().div(255).unsqueeze(1).expand(-1, 3, -1, -1)
        scores.append(model.p_mid(model((batch - mean) / std)))
print(len(torch.cat(scores)))
"""


def exponent(sizes: list[int], values: list[float]) -> float:
    """k of value ∝ size^k: the least-squares slope in log-log."""
    xs, ys = [math.log(size) for size in sizes], [math.log(value) for value in values]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / sum((x - mean_x) ** 2 for x in xs)


def measure_sizes(base: Path, copies: list[int], workdir: Path) -> tuple[pd.DataFrame, float]:
    """Per size and stage: slices, wall seconds, peak RSS; and predict.py's slices/s over the bare loop's at the
    largest size."""
    python = sys.executable
    rows, checkpoint, predict_vs_bare = [], None, float("nan")
    for k in copies:
        root = repeated_phantom(base, k)
        index_dir, cache_dir = workdir / f"index{k}", workdir / f"cache{k}"
        index_cmd = [python, "-m", "lss.index_cli", "--root", str(root), "--out", str(index_dir)]
        wall, rss = timed([*index_cmd, "--labels", str(root / "labels.csv"), "--no-progress"])
        manifest = index_dir / "manifest.csv"
        n_slices = len(pd.read_csv(manifest, usecols=["path"]))
        rows.append({"copies": k, "stage": "index", "slices": n_slices, "wall_s": wall, "peak_rss": rss})
        wall, rss = timed([python, "-c", CACHE_BUILD, str(manifest), str(root), str(cache_dir), str(CACHE_SIDE)])
        rows.append({"copies": k, "stage": "cache", "slices": n_slices, "wall_s": wall, "peak_rss": rss})
        shutil.rmtree(cache_dir)  # 8N at 299x299 is ~0.7 GB
        train_dir = workdir / f"train{k}"
        train_args = [
            "experiment=demo",
            f"data.root={root}",
            f"data.labels={root / 'labels.csv'}",
            f"paths.cache_dir={workdir / f'train_cache{k}'}",
            f"mlflow.tracking_uri=sqlite:///{workdir / 'mlflow.db'}",
            f"hydra.run.dir={train_dir}",
            "trainer.max_epochs=1",
            "log_model=false",
        ]
        wall, rss = timed([python, "train.py", *train_args])
        rows.append({"copies": k, "stage": "train (1 epoch)", "slices": n_slices, "wall_s": wall, "peak_rss": rss})
        checkpoint = checkpoint or train_dir / "checkpoints" / "last.ckpt"
        predict_dir = workdir / f"predict{k}"
        predict_args = [f"checkpoint={checkpoint}", f"input={root}", f"output={predict_dir}", "mode=none"]
        wall, rss = timed([python, "predict.py", *predict_args, "progress=false", f"hydra.run.dir={predict_dir}/run"])
        scored = len(pd.read_csv(predict_dir / "predictions.csv", usecols=["path"]))
        rows.append({"copies": k, "stage": "predict.py", "slices": n_slices, "wall_s": wall, "peak_rss": rss})
        bare_wall, bare_rss = timed(
            [python, "-c", BARE_LOOP, str(checkpoint), str(manifest), str(root), str(PREDICT_BATCH)]
        )
        rows.append({"copies": k, "stage": "bare loop", "slices": n_slices, "wall_s": bare_wall, "peak_rss": bare_rss})
        predict_vs_bare = (scored / wall) / (scored / bare_wall)
        print(f"{k}x: {n_slices:,} slices, {scored:,} scored; predict.py {wall:.1f} s, bare loop {bare_wall:.1f} s")
    return pd.DataFrame(rows), predict_vs_bare


def at_once(commands: list[list[str]]) -> float:
    """Wall seconds of ``commands`` started together, until the last ends."""
    started = time.perf_counter()
    processes = [
        subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for command in commands
    ]
    for process, command in zip(processes, commands, strict=True):
        _, errors = process.communicate()
        if process.returncode != 0:
            sys.exit(f"failed: {' '.join(command)}\n{errors.decode()[-4000:]}")
    return time.perf_counter() - started


def three_jobs(root: Path, workdir: Path, oversubscribed: bool) -> dict[str, float]:
    """Three demo jobs (caches warm): one after another (three train.py processes), at once as three processes that
    each take a third of the cores (``resources.cpus=1`` on 2 cores), and as one sweep with ``hydra/launcher=parallel
    hydra.launcher.n_jobs=3``; with ``oversubscribed``, also at once with every job taking every core (lss before
    resources.cpus, or users who do not share)."""
    common = [
        "experiment=demo",
        f"data.root={root}",
        f"data.labels={root / 'labels.csv'}",
        f"paths.cache_dir={workdir / 'cache'}",
        "trainer.max_epochs=2",
        "log_model=false",
        "resume=false",
    ]

    def jobs(name: str, extra: list[str]) -> list[list[str]]:
        return [
            [
                sys.executable,
                "train.py",
                *common,
                f"seed={seed}",
                f"mlflow.tracking_uri=sqlite:///{workdir / name}.db",
                f"hydra.run.dir={workdir / name / str(seed)}",
                *extra,
            ]
            for seed in range(3)
        ]

    timed(jobs("warm", [])[0])  # index and image caches built, store created
    sweep = [sys.executable, "train.py", "-m", "seed=0,1,2", *common, f"hydra.sweep.dir={workdir / 'sweep'}"]
    figures = {
        "one_after_another_s": sum(timed(command)[0] for command in jobs("sequential", [])),
        "together_s": at_once(jobs("together", [f"resources.cpus={max(1, len(os.sched_getaffinity(0)) // 3)}"])),
        "launcher_s": timed(
            [
                *sweep,
                f"mlflow.tracking_uri=sqlite:///{workdir}/sweep.db",
                "hydra/launcher=parallel",
                "hydra.launcher.n_jobs=3",
            ]
        )[0],
    }
    if oversubscribed:
        figures["oversubscribed_s"] = at_once(jobs("oversubscribed", []))
    return figures


def report(table: pd.DataFrame) -> dict[str, float]:
    """Prints the scale table and each stage's growth; returns the cache build's peak RSS ratio (largest/smallest)."""
    sizes = sorted(table["copies"].unique())
    print_table(
        ("stage", *[f"{k}x ({table.loc[table['copies'] == k, 'slices'].iloc[0]:,} slices)" for k in sizes]),
        [
            [
                stage,
                *[
                    f"{row.wall_s:.1f} s, {row.peak_rss / 2**20:,.0f} MiB"
                    for row in table[table["stage"] == stage].sort_values("copies").itertuples()
                ],
            ]
            for stage in table["stage"].unique()
        ],
    )
    print()
    growth = []
    ratios = {}
    for stage, rows in table.groupby("stage", sort=False):
        rows = rows.sort_values("copies")
        k = exponent(rows["slices"].tolist(), rows["wall_s"].tolist())
        slope = (rows["peak_rss"].iloc[-1] - rows["peak_rss"].iloc[0]) / (
            rows["slices"].iloc[-1] - rows["slices"].iloc[0]
        )
        ratios[stage] = rows["peak_rss"].iloc[-1] / rows["peak_rss"].iloc[0]
        growth.append([stage, f"{k:.2f}", f"{slope:,.0f} B/slice", f"{ratios[stage]:.2f}x"])
    print_table(("stage", "time exponent k (target <= 1.1)", "peak RSS slope", "peak RSS largest/smallest"), growth)
    return ratios


def measure(quick: bool, patients: int = BASE_PATIENTS) -> dict[str, float]:
    """The figures of the last line (and the largest time exponent); prints the tables on the way."""
    copies = [1, 8] if quick else [1, 2, 4, 8]
    os.environ.setdefault("LSS_PATIENT_KEY", "benchmark")
    base = benchmark_phantom(patients)
    with tempfile.TemporaryDirectory(prefix="lss-scale-") as scratch:
        table, predict_vs_bare = measure_sizes(base, copies, Path(scratch) / "sizes")
        print()
        ratios = report(table)
        jobs = three_jobs(base, Path(scratch) / "three", oversubscribed=not quick)
    print(
        f"\nthree demo jobs (N phantom, 2 epochs): one after another {jobs['one_after_another_s']:.1f} s; at once, "
        f"sharing the cores (resources.cpus) {jobs['together_s']:.1f} s; one sweep with hydra/launcher=parallel "
        f"n_jobs=3 {jobs['launcher_s']:.1f} s"
        + (f"; at once, each on every core {jobs['oversubscribed_s']:.1f} s" if "oversubscribed_s" in jobs else "")
    )
    figures = {
        "cache_rss_ratio": ratios["cache"],
        "predict_rss_ratio": ratios["predict.py"],
        "predict_vs_bare": predict_vs_bare,
        "three_jobs_ratio": jobs["together_s"] / jobs["one_after_another_s"],
        "launcher_ratio": jobs["launcher_s"] / jobs["one_after_another_s"],
        "max_k": max(
            exponent(rows["slices"].tolist(), rows["wall_s"].tolist())
            for stage, rows in table.groupby("stage")
            if stage != "bare loop"
        ),
    }
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N and 8N only (a few minutes on 2 cores)")
    parser.add_argument("--patients", type=int, default=BASE_PATIENTS, help="phantom patients of N (30 slices each)")
    args = parser.parse_args()
    print(f"{len(os.sched_getaffinity(0))} cores, load average {os.getloadavg()[0]:.1f} at the start\n")
    figures = measure(args.quick, args.patients)
    print(f"launcher_ratio={figures['launcher_ratio']:.2f} (hydra/launcher=parallel n_jobs=3 / one after another)")
    print(
        f"cache_rss_ratio={figures['cache_rss_ratio']:.2f} predict_vs_bare={figures['predict_vs_bare']:.2f} "
        f"three_jobs_ratio={figures['three_jobs_ratio']:.2f}"
    )


if __name__ == "__main__":
    main()
