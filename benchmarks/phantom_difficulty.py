"""Is the phantom's Mid / Lateral task learnable but not trivial, and is T1 harder than T2 (as in the paper)?

Writes a phantom, indexes it with the real indexer, trains a tiny CNN on 64 x 64 slices of most
patients and reports test accuracy per modality, next to the majority baseline and the accuracy on
the borderline slices (2 or 3 slices from the mid slice). Run:

    .venv/bin/python benchmarks/phantom_difficulty.py --patients 40 --splits 3
"""

import argparse
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F

from lss.dicom.index import index_repository
from lss.dicom.pixels import read_slice_pixels
from lss.phantom import write_phantom

SIZE = 64


def load_slices(root: Path) -> tuple[pd.DataFrame, torch.Tensor]:
    """The indexed sagittal slices with their distance from the mid slice, and 64 x 64 images scaled to [0, 1]."""
    manifest = index_repository(root, labels_csv=root / "labels.csv", progress=False).manifest.reset_index(drop=True)
    mid_index = manifest[manifest["is_mid_sagittal"]].set_index("series_uid")["slice_index"]
    manifest["from_mid"] = (manifest["slice_index"] - manifest["series_uid"].map(mid_index)).abs()
    images = []
    for path in manifest["path"]:
        pixels = read_slice_pixels(root / path)
        low, high = np.percentile(pixels, [1, 99])
        image = torch.from_numpy(np.clip((pixels - low) / (high - low), 0, 1)).float()[None, None]
        images.append(F.interpolate(image, size=(SIZE, SIZE), mode="area")[0])
    return manifest, torch.stack(images)


def tiny_cnn() -> nn.Module:
    def block(n_in: int, n_out: int) -> nn.Module:
        return nn.Sequential(nn.Conv2d(n_in, n_out, 3, padding=1), nn.BatchNorm2d(n_out), nn.ReLU(), nn.MaxPool2d(2))

    return nn.Sequential(
        block(1, 8), block(8, 16), block(16, 32), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 2)
    )


def train_and_test(images: torch.Tensor, labels: torch.Tensor, train: np.ndarray, epochs: int, seed: int) -> np.ndarray:
    """Predicted labels of the test slices (the complement of `train`)."""
    torch.manual_seed(seed)
    model = tiny_cnn()
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-3)
    train_index = np.flatnonzero(train)
    generator = np.random.default_rng(seed)
    for _ in range(epochs):
        model.train()
        for batch in torch.from_numpy(generator.permutation(train_index)).split(32):
            optimiser.zero_grad()
            F.cross_entropy(model(images[batch]), labels[batch]).backward()
            optimiser.step()
    model.eval()
    with torch.no_grad():
        return model(images[torch.from_numpy(~train)]).argmax(1).numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--splits", type=int, default=3, help="random 80/20 patient splits to average over")
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "phantom"
        write_phantom(root, args.patients, args.seed)
        manifest, images = load_slices(root)
    labels = torch.from_numpy((manifest["label"] == "Mid").to_numpy().astype(np.int64))
    patients = manifest["patient_key"].unique()
    for modality in ("T1", "T2"):
        rows = []
        for split in range(args.splits):
            test_patients = np.random.default_rng([args.seed, split]).choice(
                patients, size=max(1, len(patients) // 5), replace=False
            )
            in_modality = (manifest["modality"] == modality).to_numpy(copy=True)
            subset = manifest[in_modality]
            train = ~subset["patient_key"].isin(test_patients).to_numpy()
            predicted = train_and_test(images[in_modality], labels[in_modality], train, args.epochs, split)
            truth = labels[in_modality].numpy()[~train]
            from_mid = subset["from_mid"].to_numpy()[~train]
            borderline = np.isin(from_mid, [2, 3])
            rows.append(
                dict(
                    accuracy=(predicted == truth).mean(),
                    majority=max(truth.mean(), 1 - truth.mean()),
                    borderline=(predicted == truth)[borderline].mean(),
                    others=(predicted == truth)[~borderline].mean(),
                )
            )
        summary = pd.DataFrame(rows)
        print(
            f"{modality}: test accuracy {summary['accuracy'].mean():.3f} "
            f"(per split {', '.join(f'{a:.3f}' for a in summary['accuracy'])}); "
            f"majority {summary['majority'].mean():.3f}; borderline +-2/+-3 {summary['borderline'].mean():.3f}; "
            f"others {summary['others'].mean():.3f}"
        )


if __name__ == "__main__":
    main()
