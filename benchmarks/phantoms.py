"""Benchmark phantoms, written once into ~/.cache/lss/benchmarks and reused by every later run.

The folder name carries a digest of the phantom writer's source, so a changed writer gives a
fresh phantom instead of timing a stale one. write_phantom uses every core for large phantoms.
"""

from __future__ import annotations

import hashlib
import math
import shutil
from pathlib import Path

import lss.dicom.phantom
from lss.dicom.phantom import write_phantom

CACHE_DIR = Path("~/.cache/lss/benchmarks").expanduser()
SLICES_PER_SERIES = 15
"""The phantom's sagittal series length: a patient gives 15 T1 and 15 T2 sagittal slices."""


def writer_version() -> str:
    digest = hashlib.sha256()
    for source in sorted(Path(lss.dicom.phantom.__file__).parent.glob("*.py")):
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
