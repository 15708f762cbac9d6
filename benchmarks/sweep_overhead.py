"""Sweep overhead: a real `train.py -m` demo sweep, timed from the inside.

    .venv/bin/python benchmarks/sweep_overhead.py                 # the demo sweep: 20 seeds x T1,T2
    .venv/bin/python benchmarks/sweep_overhead.py --seeds 2       # 4 jobs (what `make bench` runs)

Runs exactly the demo's command (experiment=demo on the 24-patient phantom) into a fresh cache
and MLflow store, with benchmarks/support.py's Trainer and Hydra callback added from the
command line. Reports:
  * gap: from one job's last training step to the next job's first training step (target <= 3 s
    on CPU), split into the finishing job's last validation + test loops, its MLflow recording,
    and the next job's start (Hydra, model, data look-up);
  * the sweep's wall time split into data (index + cache + split: fit() entry to datamodule
    ready), training (Lightning fit and test loops) and overhead (everything else: interpreter
    start and imports, Hydra, MLflow runs and artifacts, model building).
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import tempfile
from collections import defaultdict
from pathlib import Path

from support import benchmark_phantom, print_table, run_clocked

DEMO_PATIENTS = 24


def run_sweep(seeds: int, workdir: Path, extra: list[str]) -> tuple[float, list[dict]]:
    root = benchmark_phantom(DEMO_PATIENTS)
    clock = workdir / "clock.jsonl"
    started, wall, events = run_clocked(
        [
            "-m",
            "experiment=demo",
            f"seed=range({seeds})",
            "modality=T1,T2",
            f"data.root={root}",
            f"data.labels={root / 'labels.csv'}",
            f"paths.cache_dir={workdir / 'cache'}",
            f"mlflow.tracking_uri=sqlite:///{workdir / 'mlflow.db'}",
            f"hydra.sweep.dir={workdir / 'multirun'}",
            *extra,
        ],
        clock,
    )
    return wall, [
        {"event": "sweep_start", "job": -1, "t": started},
        *events,
        {"event": "sweep_end", "job": -1, "t": started + wall},
    ]


def per_job(events: list[dict]) -> dict[int, dict[str, float]]:
    """job -> event -> time; the first 'data_ready' (fit) only, 'last_step' at its last optimizer step."""
    jobs: dict[int, dict[str, float]] = defaultdict(dict)
    for event in events:
        if event["job"] < 0 or event["event"] == "train_epoch":
            continue
        time_of = event.get("t_step", event["t"])
        jobs[event["job"]].setdefault(event["event"], time_of)
    return dict(sorted(jobs.items()))


def analyse(wall: float, events: list[dict]) -> dict[str, float]:
    jobs = per_job(events)
    numbers = list(jobs)
    gaps = [jobs[b]["first_step"] - jobs[a]["last_step"] for a, b in itertools.pairwise(numbers)]
    eval_tail = [jobs[a]["test_end"] - jobs[a]["last_step"] for a in numbers[:-1]]
    recording = [jobs[a]["job_end"] - jobs[a]["test_end"] for a in numbers[:-1]]
    next_start = [jobs[b]["first_step"] - jobs[a]["job_end"] for a, b in itertools.pairwise(numbers)]
    data = sum(job["data_ready"] - job["fit_start"] for job in jobs.values())
    training = sum(
        (job["fit_end"] - job["data_ready"]) + (job["test_end"] - job["test_start"]) for job in jobs.values()
    )
    return {
        "jobs": len(jobs),
        "wall_s": wall,
        "data_s": data,
        "training_s": training,
        "overhead_s": wall - data - training,
        "gap_median_s": statistics.median(gaps) if gaps else float("nan"),
        "gap_max_s": max(gaps) if gaps else float("nan"),
        "gap_max_after_job": numbers[gaps.index(max(gaps))] if gaps else -1,
        "gap_eval_tail_s": statistics.median(eval_tail) if eval_tail else float("nan"),
        "gap_recording_s": statistics.median(recording) if recording else float("nan"),
        "gap_next_start_s": statistics.median(next_start) if next_start else float("nan"),
        "first_job_data_s": jobs[numbers[0]]["data_ready"] - jobs[numbers[0]]["fit_start"],
        "later_job_data_s": statistics.median([jobs[n]["data_ready"] - jobs[n]["fit_start"] for n in numbers[1:]])
        if len(numbers) > 1
        else float("nan"),
        "startup_s": jobs[numbers[0]]["job_start"] - events[0]["t"],
    }


def measure(seeds: int, extra: list[str] | None = None) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="lss-sweep-bench-") as scratch:
        wall, events = run_sweep(seeds, Path(scratch), extra or [])
        return analyse(wall, events)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--seeds", type=int, default=20, help="seeds per modality (default 20: the demo sweep, 40 jobs)"
    )
    parser.add_argument("overrides", nargs="*", help="extra train.py overrides, e.g. trainer.max_epochs=2")
    args = parser.parse_args()
    result = measure(args.seeds, args.overrides)
    print(f"\n{result['jobs']} jobs, fresh cache and MLflow store ({os.cpu_count()} cores)\n")
    rows = [
        ("sweep wall time", result["wall_s"]),
        ("  data (index + image cache + split, all jobs)", result["data_s"]),
        ("    first job (index + decode)", result["first_job_data_s"]),
        ("    a later job, median (cache look-up)", result["later_job_data_s"]),
        ("  training (Lightning fit + test loops, all jobs)", result["training_s"]),
        ("  overhead (imports, Hydra, MLflow, model build)", result["overhead_s"]),
        ("    interpreter start + imports + Hydra, once", result["startup_s"]),
        ("gap last step -> next first step, median", result["gap_median_s"]),
        ("  finishing job's last validation + test loops", result["gap_eval_tail_s"]),
        ("  its MLflow recording (artifacts, checkpoint)", result["gap_recording_s"]),
        ("  next job's start (Hydra, model, data look-up)", result["gap_next_start_s"]),
        ("gap, max", result["gap_max_s"]),
    ]
    print_table(("figure", "seconds"), [(figure, f"{seconds:.2f}") for figure, seconds in rows])
    print(
        f"\ntarget: gap <= 3 s on CPU; measured median {result['gap_median_s']:.2f} s, "
        f"max {result['gap_max_s']:.2f} s (after job {result['gap_max_after_job']})"
    )


if __name__ == "__main__":
    main()
