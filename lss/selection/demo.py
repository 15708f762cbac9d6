"""The last step of ``make demo``: the best demo run of each modality selects Mid slices of a fresh phantom.

Run as ``python predict.py`` exactly as a user would, so the demo shows the real command and its summary,
including the accuracy against the fresh phantom's labels.csv, and writes its review page (report.html,
with Grad-CAM overlays).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from lss import tracking
from lss.errors import UserError
from lss.manifest import MODALITIES
from lss.selection.select import REPORT

REPO = Path(__file__).resolve().parents[2]
FRESH_PHANTOM_SEED = 1
"""Not the training phantom's seed (0): the selected patients were never seen in training."""


def demo_selection(out: Path, patients: int = 4, tracking_uri: str | None = None, experiment_name: str = "lss") -> Path:
    """Select with T1 then T2; return the review page of the last selection."""
    from lss.dicom.phantom import write_phantom

    fresh = out / "fresh_phantom"
    if not (fresh / "labels.csv").exists():
        write_phantom(fresh, n_patients=patients, seed=FRESH_PHANTOM_SEED)
    uri = tracking.resolve_tracking_uri(tracking_uri)
    for modality in MODALITIES:
        run_id = tracking.best_train_run(uri, experiment_name, metric="test/f1", modality=modality)
        if run_id is None:
            raise UserError(
                f"no FINISHED {modality} training run in {uri} (experiment {experiment_name}); run the demo sweep first"
            )
        command = [
            sys.executable,
            "predict.py",
            f"run_id={run_id}",
            f"input={fresh}",
            f"output={out / 'selection' / modality}",
            f"mlflow.tracking_uri={uri}",
            f"hydra.run.dir={out / 'selection' / modality / 'hydra'}",
            "progress=false",
            "explain=true",
        ]
        print(f"\n{modality}: best run by test/f1 = {run_id}\n$ " + " ".join(command), flush=True)
        subprocess.run(command, cwd=REPO, check=True, stdin=subprocess.DEVNULL)
    return out / "selection" / MODALITIES[-1] / REPORT
