"""Benchmark phantoms, written once into ~/.cache/lss/benchmarks and reused by every later run.

One process writes `phantom_p{N}_s{seed}` (the same folder and bytes as index_speed.py's); with
`parts > 1` the patients are written by that many processes into part folders with seeds
seed*1000+part (different patients, same distribution) and one labels.csv for the whole root.
"""

from __future__ import annotations

import math
import shutil
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd

from lss.dicom.phantom import write_phantom

CACHE_DIR = Path("~/.cache/lss/benchmarks").expanduser()
SLICES_PER_SERIES = 15
"""The phantom's sagittal series length: a patient gives 15 T1 and 15 T2 sagittal slices."""


def _write_part(job: tuple[Path, int, int]) -> None:
    out_dir, n_patients, seed = job
    write_phantom(out_dir, n_patients=n_patients, seed=seed, n_slices=SLICES_PER_SERIES)


def benchmark_phantom(n_patients: int, seed: int = 0, parts: int = 1, cache_dir: Path = CACHE_DIR) -> Path:
    """A phantom root with ``n_patients`` patients and its labels.csv; written only when missing."""
    name = f"phantom_p{n_patients}_s{seed}" + (f"_parts{parts}" if parts > 1 else "")
    root = cache_dir / name
    if (root / "labels.csv").exists():
        return root
    if root.exists():
        raise FileExistsError(f"{root} exists without labels.csv (an interrupted write?); delete it and run again")
    staging = root.with_name(root.name + ".writing")
    shutil.rmtree(staging, ignore_errors=True)  # left by an interrupted write
    if parts == 1:
        _write_part((staging, n_patients, seed))
    else:
        per_part = math.ceil(n_patients / parts)
        jobs = [(staging / f"part{part}", min(per_part, n_patients - part * per_part), seed * 1000 + part) for part in range(parts) if part * per_part < n_patients]
        with ProcessPoolExecutor(len(jobs)) as pool:
            list(pool.map(_write_part, jobs))
        pd.concat([pd.read_csv(out_dir / "labels.csv") for out_dir, _, _ in jobs]).to_csv(staging / "labels.csv", index=False)
    staging.rename(root)
    return root


def patients_for_slices(n_slices: int) -> int:
    """Patients whose sagittal series of one modality give at least ``n_slices`` slices."""
    return math.ceil(n_slices / SLICES_PER_SERIES)
