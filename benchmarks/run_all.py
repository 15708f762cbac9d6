"""`make bench`: the CPU benchmarks in one table (figure, target, measured, command).

    .venv/bin/python benchmarks/run_all.py

Budget: <= 5 minutes, plus the few of benchmarks/scale.py --quick, once the benchmark phantoms exist in
~/.cache/lss/benchmarks (the first run writes them: ~10,000 files, a few minutes more). Each row names the
script that measures the figure on its own, with more detail. The GPU figures come from benchmarks/gpu_protocol.py on a
GPU machine; this table says so instead of measuring them.
"""

from __future__ import annotations

import os
import time

import cache_speed
import index_speed
import real_lumbar
import scale
import sweep_overhead
import train_overhead

from support import benchmark_phantom, print_table

SWEEP = ["--seeds", "2", "trainer.max_epochs=1"]


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

    os.environ.setdefault("LSS_PATIENT_KEY", "benchmark")
    phantom = benchmark_phantom(index_speed.PHANTOM_PATIENTS)
    for name, root in (("phantom", phantom), ("phantom, scanner-like headers", index_speed.scanner_like(phantom))):
        index = index_speed.measure(root, repeats=2)
        rows.append(
            (
                f"2. lss-index vs a bare dcmread loop, {name}, {index['files']:,} files",
                f">= {index_speed.TARGET_RATIO}x",
                f"{index['bare_s'] / index['process_s']:.2f}x whole process "
                f"({index['files'] / index['process_s']:,.0f} vs {index['files'] / index['bare_s']:,.0f} files/s); "
                f"{index['bare_s'] / index['in_process_s']:.2f}x in-process",
                "benchmarks/index_speed.py",
            )
        )
    start = index_speed.start_up(repeats=2)
    rows.append(
        (
            "   lss-index --help / an empty folder",
            f"<= {index_speed.TARGET_START_S} s",
            f"{start['help_s']:.2f} s / {start['empty_s']:.2f} s",
            "benchmarks/index_speed.py",
        )
    )
    for network, bare, job in train_overhead.measure(patients=24, epochs=4):
        rows.append(
            (
                f"3. lss job vs a bare PyTorch loop, {network}",
                f"<= {train_overhead.TARGET}x",
                f"{job / bare:.2f}x ({job:.1f} s vs {bare:.1f} s)",
                "benchmarks/train_overhead.py",
            )
        )

    sweep = sweep_overhead.measure(int(SWEEP[1]), SWEEP[2:])
    command = "benchmarks/sweep_overhead.py " + " ".join(SWEEP)
    rows += [
        (
            f"4. gap: last step -> next job's first step ({sweep['jobs']} jobs)",
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
            "5. GPU: paper protocol s/run, 40-run sweep",
            "<= 60 s, <= 15 min",
            "not measured here (needs a GPU)",
            "benchmarks/gpu_protocol.py",
        ),
    ]
    rows.append(
        (
            "6. real lumbar MRI, T2: ImageNet EfficientNet-Lite0 vs centre rule (quick)",
            "beats the centre rule",
            real_lumbar.quick_row()
            if real_lumbar.REAL_LUMBAR.is_dir()
            else "skipped: ../shared/data/real-lumbar absent",
            "benchmarks/real_lumbar.py --quick (full: no flag)",
        )
    )
    grown = scale.measure(quick=True)
    rows += [
        (
            "7. peak RSS at 8N / at N: cache build (299x299), predict.py",
            f"{scale.TARGETS['cache_rss_ratio']}",
            f"{grown['cache_rss_ratio']:.2f}x, {grown['predict_rss_ratio']:.2f}x",
            "benchmarks/scale.py --quick",
        ),
        (
            "   largest time exponent k of any stage (time ∝ N^k)",
            scale.TARGETS["k"],
            f"{grown['max_k']:.2f}",
            "benchmarks/scale.py --quick",
        ),
        (
            "   predict.py slices/s vs a bare loop (8N)",
            scale.TARGETS["predict_vs_bare"],
            f"{grown['predict_vs_bare']:.2f}x",
            "benchmarks/scale.py --quick",
        ),
        (
            "   three jobs at once (resources.cpus shared) / one after another",
            scale.TARGETS["three_jobs_ratio"],
            f"{grown['three_jobs_ratio']:.2f}x",
            "benchmarks/scale.py --quick",
        ),
        (
            "   one sweep, hydra/launcher=parallel n_jobs=3 / one after another",
            "-",
            f"{grown['launcher_ratio']:.2f}x",
            "benchmarks/scale.py --quick",
        ),
    ]
    rows.append(
        (
            "8. this table",
            "<= 5 min + scale.py --quick",
            f"{(time.perf_counter() - started) / 60:.1f} min",
            "benchmarks/run_all.py",
        )
    )

    load = os.getloadavg()[0]
    print(
        f"\n{len(os.sched_getaffinity(0))} cores, 1-min load average {load:.1f} at the end "
        "(other processes make every figure slower)\n"
    )
    print_table(("figure", "target", "measured", "command (.venv/bin/python ...)"), rows)


if __name__ == "__main__":
    main()
