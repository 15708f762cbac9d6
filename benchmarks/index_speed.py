"""Header-only indexing speed against reading whole files (run_all.py repeats it at 10,000 files).

    .venv/bin/python benchmarks/index_speed.py --files 5000            # writes a phantom once, then times
    .venv/bin/python benchmarks/index_speed.py --repository /data/dicom  # times an existing repository

Target: >= 1,000 files/s for header-only indexing on 2 cores.
"""

from __future__ import annotations

import argparse
import math
import os
import time
from pathlib import Path

import pydicom

from lss.dicom.headers import HEADER_TAGS
from lss.dicom.index import index_repository
from lss.dicom.walk import walk_repository
from support import print_table

SLICES_PER_PATIENT_ESTIMATE = 35
"""Sagittal T1 + T2 of 15 slices plus an axial series in some patients: used to size the phantom."""


def phantom_repository(n_files: int, cache_dir: Path, seed: int) -> Path:
    """A phantom with at least n_files files, written once into cache_dir and reused by later runs."""
    from lss.dicom.phantom import write_phantom

    n_patients = math.ceil(n_files / SLICES_PER_PATIENT_ESTIMATE)
    while True:
        root = cache_dir / f"phantom_p{n_patients}_s{seed}"
        if not (root / "labels.csv").exists():
            write_phantom(root, n_patients=n_patients, seed=seed)
        if sum(1 for _ in root.rglob("*") if _.is_file()) >= n_files:
            return root
        n_patients = math.ceil(n_patients * 1.2)


def time_reads(files: list[Path], header_only: bool, decode_pixels: bool = False) -> float:
    """Seconds to read every file and touch the indexer's tags: header-only, whole file, or whole file + pixels."""
    options = {"stop_before_pixels": True, "specific_tags": HEADER_TAGS} if header_only else {}
    start = time.perf_counter()
    for path in files:
        try:
            dataset = pydicom.dcmread(path, **options)
            [dataset.get(keyword) for keyword in HEADER_TAGS]
            if decode_pixels:
                _ = dataset.pixel_array  # decode: the cost being measured
        except Exception:  # labels.csv and other non-DICOM files cost a failed parse, as when indexing
            pass
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=5000, help="minimum phantom size in files (default 5000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache-dir", type=Path, default=Path("~/.cache/lss/benchmarks").expanduser())
    parser.add_argument("--repository", type=Path, help="time this repository instead of a phantom")
    args = parser.parse_args()
    os.environ.setdefault("LSS_PATIENT_KEY", "benchmark")
    root = args.repository or phantom_repository(args.files, args.cache_dir, args.seed)
    files, _ = walk_repository(root)
    rows = []
    for workers in (1, os.cpu_count() or 1):
        start = time.perf_counter()
        index_repository(root, workers=workers, progress=False)
        rows.append((f"index_repository (headers only), {workers} worker(s)", time.perf_counter() - start))
    rows.append(("dcmread header-only (specific_tags), 1 process", time_reads(files, header_only=True)))
    rows.append(("dcmread whole file, 1 process", time_reads(files, header_only=False)))
    rows.append(
        ("dcmread whole file + pixel_array, 1 process", time_reads(files, header_only=False, decode_pixels=True))
    )
    load_1min = os.getloadavg()[0]
    print(f"{len(files):,} files under {root}; {os.cpu_count()} cores, load average {load_1min:.1f} at the end")
    print("(files are in the page cache after the first pass; a load above the core count means shared CPUs)\n")
    print_table(
        ("method", "seconds", "files/s"),
        [(method, f"{seconds:.2f}", f"{len(files) / seconds:.0f}") for method, seconds in rows],
    )


if __name__ == "__main__":
    main()
