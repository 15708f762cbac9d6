"""The paper's protocol on one GPU: images/s, seconds per run, and the 40-run sweep.

    .venv/bin/python benchmarks/gpu_protocol.py                        # every stage (~15 min on one H100)
    .venv/bin/python benchmarks/gpu_protocol.py --stages protocol,batch64
    .venv/bin/python benchmarks/gpu_protocol.py --stages sweep --k 4
    .venv/bin/python benchmarks/gpu_protocol.py --smoke              # the plumbing on a CPU, tiny model, no figures

Needs a CUDA GPU and exits with a message without one. Every measurement is a real
`train.py -m` command (printed), timed from the inside by benchmarks/support.py:
  protocol  Inception-ResNet-v2 at its timm input size (299x299), batch 10, 4 epochs, SGDM,
            bf16-mixed, channels_last, pinned memory, persistent workers sized from the machine;
            on a phantom of paper size (--slices, default 7,900 slices of one modality).
            Target <= 60 s per run on one H100 (the paper: ~37.5 min per run on Titan XPs).
  compile   the same with model.compile=true (compilation time is part of the run).
  batch64   one epoch at batch 64: the throughput that batch 10 leaves on the table.
  sweep     k jobs at once on the one GPU (joblib launcher) against the same k one after
            another, extrapolated to the 40-run paper sweep (target <= 15 min; paper ~25 h).
The backbone starts from random weights (model.pretrained=false: no download on the device);
the arithmetic per step is the same as from ImageNet weights.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

from support import CACHE_DIR, benchmark_phantom, patients_for_slices, print_table, run_clocked

PAPER_RUN_S = 37.5 * 60  # 750 min / 20 repeats on four Titan XP (paper §4)
PAPER_SWEEP_S = 25 * 3600
STAGES = ("protocol", "compile", "batch64", "sweep")


def require_gpu() -> str:
    if not torch.cuda.is_available():
        sys.exit(
            "gpu_protocol.py needs a CUDA GPU and found none (torch.cuda.is_available() is False, "
            f"torch {torch.__version__}, CUDA build {torch.version.cuda}). Run it on a GPU machine; "
            "the CPU benchmarks are `make bench`."
        )
    return torch.cuda.get_device_name(0)


SMOKE = ["trainer=cpu", "model=tiny", "model.pretrained=false", "data.input_size=[32,32]", "trainer.max_epochs=2"]
"""--smoke: every stage's command on a CPU with the tiny network; checks the plumbing, measures nothing."""


def prepare_data(root: Path, cache_dir: Path, modality: str, smoke: bool) -> tuple[int, float]:
    """Index the phantom and decode it into the image cache once, as the sweep's first job would."""
    from lss.data.cache import cached_images
    from lss.data.preprocess import PreprocessParams
    from lss.data.slices import labelled_slices
    from lss.dicom.index_cache import indexed_manifest
    from lss.dicom.index_params import IndexParams
    from lss.manifest import read_manifest
    from lss.model.backbone import input_config

    started = time.perf_counter()
    height, width = (32, 32) if smoke else input_config("inception_resnet_v2")["input_size"][-2:]
    manifest = indexed_manifest(root, cache_dir / "index", root / "labels.csv", IndexParams(), progress=True)
    slices = labelled_slices(read_manifest(manifest), modality)
    cached_images(
        [root / path for path in slices["path"]],
        slices["frame"].astype(int).tolist(),
        PreprocessParams(height, width),
        cache_dir / "images",
    )
    return len(slices), time.perf_counter() - started


class Runner:
    """`train.py -m` on the paper protocol with one shared cache and MLflow store."""

    def __init__(self, root: Path, workdir: Path, cache_dir: Path, modality: str, smoke: bool) -> None:
        self.root, self.workdir, self.cache_dir, self.modality = root, workdir, cache_dir, modality
        self.device_overrides = SMOKE if smoke else ["trainer=gpu", "model.pretrained=false"]
        self.count = 0

    def run(self, overrides: list[str]) -> tuple[float, list[dict]]:
        self.count += 1
        clock = self.workdir / f"clock{self.count}.jsonl"
        _, wall, events = run_clocked(
            [
                "-m",
                "experiment=paper",
                f"modality={self.modality}",
                *self.device_overrides,
                "model.channels_last=true",
                "data.num_workers=auto",
                "data.pin_memory=true",
                "trainer.enable_progress_bar=false",
                "data.progress=false",
                f"data.root={self.root}",
                f"data.labels={self.root / 'labels.csv'}",
                f"paths.cache_dir={self.cache_dir}",
                f"mlflow.tracking_uri=sqlite:///{self.workdir / 'mlflow.db'}",
                f"hydra.sweep.dir={self.workdir / f'multirun{self.count}'}",
                "resume=false",
                *overrides,
            ],
            clock,
        )
        return wall, events


def job_seconds(events: list[dict]) -> list[float]:
    starts = {e["job"]: e["t"] for e in events if e["event"] == "job_start"}
    return [e["t"] - starts[e["job"]] for e in events if e["event"] == "job_end"]


def images_per_s(events: list[dict], skip_first_epoch: bool) -> float:
    epochs = [e for e in events if e["event"] == "train_epoch" and not (skip_first_epoch and e["epoch"] == 0)]
    return sum(e["images"] for e in epochs) / sum(e["seconds"] for e in epochs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--slices", type=int, default=7900, help="slices of one modality (paper: ~7,900 per modality)")
    parser.add_argument("--modality", default="T1")
    parser.add_argument("--stages", default=",".join(STAGES), help=f"comma-separated subset of {','.join(STAGES)}")
    parser.add_argument("--k", default="2,4", help="jobs at once on the GPU for the sweep stage (default 2,4)")
    parser.add_argument(
        "--smoke", action="store_true", help="run every stage on a CPU with a tiny model (plumbing check)"
    )
    args = parser.parse_args()
    stages = args.stages.split(",")
    if unknown := set(stages) - set(STAGES):
        sys.exit(f"--stages: unknown {sorted(unknown)}; choose from {','.join(STAGES)}")
    device = "CPU smoke run (no figures)" if args.smoke else require_gpu()
    cores = len(os.sched_getaffinity(0))
    slices = 90 if args.smoke else args.slices
    root = benchmark_phantom(patients_for_slices(slices))
    cache_dir = CACHE_DIR / ("smoke_cache" if args.smoke else "gpu_cache")
    n_slices, prepare_s = prepare_data(root, cache_dir, args.modality, args.smoke)
    rows: list[tuple[str, str, str]] = [
        ("data: index + decode once (cached for every later run)", "-", f"{prepare_s:.0f} s for {n_slices} slices")
    ]
    with tempfile.TemporaryDirectory(prefix="lss-gpu-bench-") as scratch:
        runner = Runner(root, Path(scratch), cache_dir, args.modality, args.smoke)
        if "protocol" in stages:
            wall, events = runner.run(["seed=0"])
            run_s = job_seconds(events)[0]
            rows += [
                (
                    "paper protocol, batch 10: seconds per run (job)",
                    "<= 60 s",
                    f"{run_s:.1f} s ({PAPER_RUN_S / run_s:.0f}x the paper)",
                ),
                ("  same, process wall incl. interpreter start", "-", f"{wall:.1f} s"),
                ("  training images/s, batch 10 (epochs 2-4)", "-", f"{images_per_s(events, True):.0f}"),
            ]
        if "compile" in stages:
            wall, events = runner.run(["seed=0", "model.compile=true"])
            rows += [
                ("torch.compile, batch 10: seconds per run (job)", "<= 60 s", f"{job_seconds(events)[0]:.1f} s"),
                ("  training images/s, batch 10, compiled (epochs 2-4)", "-", f"{images_per_s(events, True):.0f}"),
            ]
        if "batch64" in stages:
            _, events = runner.run(["seed=0", "data.batch_size=64", "trainer.max_epochs=2"])
            rows.append(("training images/s, batch 64 (epoch 2)", "-", f"{images_per_s(events, True):.0f}"))
        if "sweep" in stages:
            for k in map(int, args.k.split(",")):
                workers = max(1, cores // k - 1)
                seeds = [f"seed=range({k})", f"data.num_workers={workers}"]
                sequential, _ = runner.run(seeds)
                parallel, _ = runner.run([*seeds, "hydra/launcher=parallel", f"hydra.launcher.n_jobs={k}"])
                sweep_s = 40 * parallel / k
                rows += [
                    (f"{k} runs one after another: wall", "-", f"{sequential:.0f} s ({sequential / k:.1f} s/run)"),
                    (
                        f"{k} runs at once on the GPU: wall",
                        "-",
                        f"{parallel:.0f} s ({parallel / k:.1f} s/run, {sequential / parallel:.2f}x)",
                    ),
                    (
                        f"40-run paper sweep at {k} at once (extrapolated)",
                        "<= 15 min",
                        f"{sweep_s / 60:.1f} min ({PAPER_SWEEP_S / sweep_s:.0f}x the paper)",
                    ),
                ]
    print(f"\n{device}, {cores} CPU cores, torch {torch.__version__}\n")
    print_table(("figure", "target", "measured"), rows)


if __name__ == "__main__":
    main()
