"""Run `python train.py ARGS` with step_clock.py's hooks switched on and read back its events."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CLOCK_ENV = "LSS_STEP_CLOCK"  # read by step_clock.record in the training processes
CLOCK_OVERRIDES = [
    "trainer._target_=benchmarks.step_clock.TimedTrainer",
    "+hydra.callbacks.step_clock._target_=benchmarks.step_clock.JobClock",
]


def run_clocked(train_args: list[str], clock: Path) -> tuple[float, float, list[dict]]:
    """(start time, wall seconds, clock events) of one train.py command; exits with its stderr if it fails."""
    command = [sys.executable, "train.py", *train_args, *CLOCK_OVERRIDES]
    print("$ " + " ".join(command), flush=True)
    started = time.time()
    result = subprocess.run(command, cwd=REPO, env={**os.environ, CLOCK_ENV: str(clock)}, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    wall = time.time() - started
    if result.returncode != 0:
        sys.exit(f"train.py failed (exit {result.returncode}):\n{result.stderr[-6000:]}")
    return started, wall, [json.loads(line) for line in clock.read_text().splitlines()]
