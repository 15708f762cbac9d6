"""Decode once: one epoch over the slices of one modality, cached against uncached.

    .venv/bin/python benchmarks/cache_speed.py                      # demo phantom (24 patients), 64x64
    .venv/bin/python benchmarks/cache_speed.py --patients 100 --size 299

Uncached epoch: every item reads its DICOM file and preprocesses it (what a loader without the
cache does every epoch of every job). Cached epoch: what a later job of a sweep pays — the cache
look-up (stat every file, find the entry) plus one pass over the memory-mapped images. Both
passes run the same SliceDataset normalisation through a DataLoader at the paper's batch 10.
Target: cached >= 10x faster. The one-time build (decode into the cache) is reported too.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from lss.data.cache import cached_images, image_cache_key
from lss.data.dataset import SliceDataset
from lss.data.preprocess import PreprocessParams, preprocess_slice
from lss.data.slices import labelled_slices
from lss.dicom.index_cache import indexed_manifest
from lss.dicom.index_params import IndexParams
from lss.dicom.pixels import read_slice_pixels
from lss.manifest import read_manifest
from support import CACHE_DIR, benchmark_phantom, print_table

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


class DecodedOnAccess:
    """Array-like over DICOM files: ``images[row]`` decodes and preprocesses that slice now."""

    def __init__(self, paths: Sequence[Path], frames: Sequence[int], params: PreprocessParams) -> None:
        self.paths, self.frames, self.params = paths, frames, params

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, rows: np.ndarray) -> np.ndarray:
        """The slices of ``rows`` (one per input channel), each decoded once."""
        unique, inverse = np.unique(rows, return_inverse=True)
        decoded = [
            preprocess_slice(read_slice_pixels(self.paths[row], self.frames[row]), self.params) for row in unique
        ]
        return np.stack(decoded)[inverse]


def one_epoch(images: object, targets: np.ndarray) -> float:
    """Seconds for one pass of the training loader (batch 10, main process) over every slice."""
    rows = np.arange(len(targets))
    one_slice_in_each_channel = np.repeat(rows[:, None], 3, axis=1)
    dataset = SliceDataset(images, targets, rows, IMAGENET_MEAN, IMAGENET_STD, one_slice_in_each_channel)
    started = time.perf_counter()
    for _batch in DataLoader(dataset, batch_size=10, shuffle=True, generator=torch.Generator().manual_seed(0)):
        pass  # the collated batch is what the model would receive
    return time.perf_counter() - started


def measure(patients: int, size: int, modality: str = "T1") -> dict[str, float]:
    root = benchmark_phantom(patients)
    manifest = indexed_manifest(root, CACHE_DIR / "index", root / "labels.csv", IndexParams(), progress=False)
    slices = labelled_slices(read_manifest(manifest), modality)
    paths = [root / path for path in slices["path"]]
    frames = slices["frame"].astype(int).tolist()
    targets = slices["target"].to_numpy()
    params = PreprocessParams(size, size)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in the cache's decode workers: the fair (faster) setting for decoding per item
    uncached = one_epoch(DecodedOnAccess(paths, frames, params), targets)
    torch.set_num_threads(threads)
    cache_dir = Path(tempfile.mkdtemp(prefix="lss-cache-bench-"))
    try:
        started = time.perf_counter()
        cached_images(paths, frames, params, cache_dir, progress=False)
        build = time.perf_counter() - started
        started = time.perf_counter()
        images = cached_images(paths, frames, params, cache_dir, progress=False)
        lookup = time.perf_counter() - started
        cached = lookup + one_epoch(images, targets)
        started = time.perf_counter()
        image_cache_key(paths, frames, params, cache_dir / "fresh")  # no remembered key: every file is hashed
        content_hash = time.perf_counter() - started
    finally:
        shutil.rmtree(cache_dir)
    return {
        "slices": len(paths),
        "uncached_s": uncached,
        "build_s": build,
        "lookup_s": lookup,
        "cached_s": cached,
        "content_hash_s": content_hash,
        "speedup": uncached / cached,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", type=int, default=24, help="phantom patients (default 24, the demo's)")
    parser.add_argument("--size", type=int, default=64, help="input size in pixels (64 = demo, 299 = paper)")
    parser.add_argument("--modality", default="T1")
    args = parser.parse_args()
    result = measure(args.patients, args.size, args.modality)
    print(
        f"{result['slices']} {args.modality} slices of a {args.patients}-patient phantom at {args.size}x{args.size}\n"
    )
    rows = [
        ("uncached epoch (decode every DICOM)", result["uncached_s"]),
        ("one-time cache build (decode once, worker processes)", result["build_s"]),
        ("cached epoch (look-up + pass over the memmap)", result["cached_s"]),
        ("  of which look-up (stat every file, check the entry's CRC-32)", result["lookup_s"]),
        ("content hash of every file (first job, or after a change)", result["content_hash_s"]),
    ]
    print_table(
        ("step", "seconds", "ms/slice"),
        [(step, f"{seconds:.3f}", f"{1e3 * seconds / result['slices']:.3f}") for step, seconds in rows],
    )
    print(f"\ncached epoch is {result['speedup']:.1f}x faster than uncached (target >= 10x)")


if __name__ == "__main__":
    main()
