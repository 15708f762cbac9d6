"""`make bench`: the CPU benchmarks in one table (figure, target, measured, command).

    .venv/bin/python benchmarks/run_all.py

Budget: <= 5 minutes once the benchmark phantoms exist in ~/.cache/lss/benchmarks (the first
run writes them: ~10,000 files, a few minutes more). Each row names the script that measures the
figure on its own, with more detail. The GPU figures come from benchmarks/gpu_protocol.py on a
GPU machine; this table says so instead of measuring them.
"""

from __future__ import annotations

import os
import time

import cache_speed
import real_lumbar
import sweep_overhead

from support import benchmark_phantom, print_table

INDEX_FILES = 10_000
INDEX_PATIENTS = 334
"""Every phantom patient has at least 30 files (sagittal T1 and T2 of 15 slices): >= 10,020 files."""
SWEEP = ["--seeds", "2", "trainer.max_epochs=1"]


def index_rate() -> tuple[int, float]:
    """Header-only indexing of a 10,000-file phantom with every core, files/s."""
    from lss.dicom.index import index_repository
    from lss.dicom.walk import walk_repository

    os.environ.setdefault("LSS_PATIENT_KEY", "benchmark")
    root = benchmark_phantom(INDEX_PATIENTS)
    n_files = len(walk_repository(root)[0])
    started = time.perf_counter()
    index_repository(root, workers=len(os.sched_getaffinity(0)), progress=False)
    return n_files, n_files / (time.perf_counter() - started)


def main() -> None:
    started = time.perf_counter()
    rows: list[tuple[str, str, str, str]] = []

    cache = cache_speed.measure(patients=24, size=64)
    rows += [
        (
            "1. cached epoch vs uncached (demo phantom, 64x64)",
            ">= 10x",
            f"{cache['speedup']:.0f}x ({cache['uncached_s']:.2f} s -> {cache['cached_s']:.3f} s, "
            f"{cache['slices']} slices)",
            "benchmarks/cache_speed.py",
        ),
        ("   one-time decode into the cache", "-", f"{cache['build_s']:.2f} s", "benchmarks/cache_speed.py"),
    ]

    n_files, rate = index_rate()
    rows.append(
        (
            f"2. header-only indexing, {n_files:,} files, {len(os.sched_getaffinity(0))} cores",
            ">= 1,000 files/s",
            f"{rate:,.0f} files/s",
            f"benchmarks/index_speed.py --files {INDEX_FILES}",
        )
    )

    sweep = sweep_overhead.measure(int(SWEEP[1]), SWEEP[2:])
    command = "benchmarks/sweep_overhead.py " + " ".join(SWEEP)
    rows += [
        (
            f"3. gap: last step -> next job's first step ({sweep['jobs']} jobs)",
            "<= 3 s",
            f"median {sweep['gap_median_s']:.2f} s, max {sweep['gap_max_s']:.2f} s",
            command,
        ),
        (
            "   of which eval tail / MLflow record / next start",
            "-",
            f"{sweep['gap_eval_tail_s']:.2f} / {sweep['gap_recording_s']:.2f} / {sweep['gap_next_start_s']:.2f} s",
            command,
        ),
        (
            "   sweep wall = data + training + overhead",
            "-",
            f"{sweep['wall_s']:.0f} = {sweep['data_s']:.0f} + {sweep['training_s']:.0f} + {sweep['overhead_s']:.0f} s",
            command,
        ),
        (
            "4. GPU: paper protocol s/run, 40-run sweep",
            "<= 60 s, <= 15 min",
            "not measured here (needs a GPU)",
            "benchmarks/gpu_protocol.py",
        ),
    ]
    rows.append(
        (
            "5. real lumbar MRI, T2: ImageNet EfficientNet-Lite0 vs centre rule (quick)",
            "beats the centre rule",
            real_lumbar.quick_row()
            if real_lumbar.REAL_LUMBAR.is_dir()
            else "skipped: ../shared/data/real-lumbar absent",
            "benchmarks/real_lumbar.py --quick (full: no flag)",
        )
    )
    rows.append(
        ("6. this table", "<= 5 min", f"{(time.perf_counter() - started) / 60:.1f} min", "benchmarks/run_all.py")
    )

    load = os.getloadavg()[0]
    print(
        f"\n{len(os.sched_getaffinity(0))} cores, 1-min load average {load:.1f} at the end "
        "(other processes make every figure slower)\n"
    )
    print_table(("figure", "target", "measured", "command (.venv/bin/python ...)"), rows)


if __name__ == "__main__":
    main()
