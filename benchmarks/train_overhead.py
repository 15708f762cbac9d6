"""What lss costs on top of the network: one lss training job against a bare PyTorch loop doing the same work.

Both train the same network (same initial weights, per-layer learning rates, SGD with momentum)
on the same cached images of the same split, at batch 10 for the same epochs, evaluate the
validation part after every epoch and the test part once. The bare loop has no Lightning, no
metrics objects, no MLflow; the lss job is ``lss.training.train`` in-process: index and image
caches (warm), Lightning, torchmetrics, MLflow run and per-epoch logging, band rule, baselines,
artifacts and the checkpoint. Both run in this process after one warm-up job, so interpreter
start-up and imports are not counted; each is timed twice, alternating, and the faster counts.

    .venv/bin/python benchmarks/train_overhead.py                 # tiny 64x64 and EfficientNet-Lite0 224x224

Target: lss job <= 1.15 x the bare loop for both networks.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

import lightning as L
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from lss.launch.compose import compose_train_config
from lss.model.param_groups import transfer_learning_param_groups
from lss.training import build, train
from support import benchmark_phantom, print_table

NETWORKS = {
    "tiny (test_resnet), 64x64": ["model=tiny", "data.input_size=[64,64]"],
    "EfficientNet-Lite0 (ImageNet), 224x224": ["model=efficientnet_lite0"],
}
TARGET = 1.15


def overrides(root: Path, workdir: Path, network: list[str], epochs: int) -> list[str]:
    return [
        "experiment=demo",
        f"data.root={root}",
        "modality=T2",
        "seed=0",
        "optimizer=sgdm",
        "optimizer.lr=1e-3",
        f"trainer.max_epochs={epochs}",
        f"paths.cache_dir={workdir / 'cache'}",
        f"mlflow.tracking_uri=sqlite:///{workdir / 'mlflow.db'}",
        "resume=false",
        *network,
    ]


@torch.no_grad()
def evaluate(model: torch.nn.Module, loader: DataLoader) -> float:
    model.eval()
    correct = sum(int((model(images).argmax(1) == targets).sum()) for images, targets, _ in loader)
    return correct / max(1, len(loader.dataset))


def bare_loop(cfg: object, epochs: int) -> float:
    """Seconds for the same training in plain PyTorch: DataLoaders over the cached images, SGD, no Lightning."""
    L.seed_everything(0, verbose=False)
    started = time.perf_counter()
    datamodule, module = build(cfg)
    datamodule.setup()
    model = module.network
    optimizer = torch.optim.SGD(
        transfer_learning_param_groups(model, 1e-3, 1.0), lr=1e-3, momentum=0.9, weight_decay=1e-4
    )
    generator = torch.Generator().manual_seed(0)
    train_loader = DataLoader(datamodule.train_set, batch_size=10, shuffle=True, drop_last=True, generator=generator)
    val_loader = DataLoader(datamodule.val_set, batch_size=10)
    for _ in range(epochs):
        model.train()
        for images, targets, _ in train_loader:
            optimizer.zero_grad()
            F.cross_entropy(model(images), targets).backward()
            optimizer.step()
        evaluate(model, val_loader)
    evaluate(model, DataLoader(datamodule.test_set, batch_size=10))
    return time.perf_counter() - started


def lss_job(cfg: object) -> float:
    started = time.perf_counter()
    train(cfg)
    return time.perf_counter() - started


def measure(patients: int, epochs: int) -> list[tuple[str, float, float]]:
    """(network, bare seconds, lss seconds) per network: the faster of two alternating timings each."""
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    root = benchmark_phantom(patients)
    results = []
    with tempfile.TemporaryDirectory(prefix="lss-overhead-") as scratch:
        workdir = Path(scratch)
        for name, network in NETWORKS.items():
            cfg = compose_train_config(overrides(root, workdir, network, epochs), workdir / "job")
            lss_job(cfg)  # warm-up: imports, caches, the MLflow store
            bare, job = [], []
            for _ in range(2):
                bare.append(bare_loop(cfg, epochs))
                job.append(lss_job(cfg))
            results.append((name, min(bare), min(job)))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", type=int, default=24, help="phantom patients (T2: 15 slices each)")
    parser.add_argument("--epochs", type=int, default=4)
    args = parser.parse_args()
    rows = [
        (name, f"{bare:.1f} s", f"{job:.1f} s", f"{job / bare:.2f}x", f"<= {TARGET}x")
        for name, bare, job in measure(args.patients, args.epochs)
    ]
    print_table(("network", "bare PyTorch loop", "lss job", "ratio", "target"), rows)


if __name__ == "__main__":
    main()
