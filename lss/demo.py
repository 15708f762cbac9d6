"""`make demo`: the whole pipeline on a phantom, on the embedded defaults, in minutes on 2 CPU cores.

phantom -> index (Table 2) -> 20 x 2 training sweep (one MLflow run per job) -> Table 3 and
Figs 5-7 -> Mid-slice selection on a fresh phantom with the best run -> its review page (report.html).
Every step is the same command a user would type; re-running skips finished jobs (``resume``).
``--pacs`` (``make demo PACS=1``): the fresh phantom lies in a local Orthanc instead of a folder; the
selection reads it over DICOMweb and stores one Key Object Selection per study back into it.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import subprocess
import sys
import time
from pathlib import Path

from omegaconf import OmegaConf

from lss import CONF_DIR, tracking
from lss.entry import one_line_user_errors
from lss.errors import UserError
from lss.manifest import MODALITIES
from lss.orthanc import orthanc, upload
from lss.phantom import write_phantom
from lss.provenance import phantom_parameters
from lss.selection.select import REPORT

REPO = Path(__file__).resolve().parents[1]
FRESH_PHANTOM_SEED = 1
"""Not the training phantom's seed (0): the selected patients were never seen in training."""
SELECTION_PATIENTS = 4


def step(title: str) -> float:
    print(f"\n=== {title} ===", flush=True)
    return time.monotonic()


def run(command: list[str]) -> None:
    print("$ " + " ".join(command), flush=True)
    subprocess.run(command, cwd=REPO, check=True, stdin=subprocess.DEVNULL)


def ensure_phantom(out: Path, patients: int, seed: int) -> None:
    """Write the phantom unless this exact one is already there (same seed -> same bytes)."""
    found = phantom_parameters(out)
    if found is not None and found.startswith(f"patients={patients} seed={seed} "):
        print(f"phantom already at {out} ({found})")
        return
    if out.exists():  # a phantom of other parameters, written by an earlier demo: ours to replace
        shutil.rmtree(out)
    result = write_phantom(out, n_patients=patients, seed=seed, progress=True)
    print(f"wrote {result.n_files} DICOM files to {out}")


def stored_key_objects(url: str) -> int:
    """How many Key Object Selection documents the PACS holds (QIDO-RS)."""
    from lss.dicom.dicomweb import DicomWebSource

    return len(DicomWebSource(url).client().search_for_instances(search_filters={"Modality": "KO"}))


def demo_selection(out: Path, patients: int, pacs: bool) -> Path:
    """Select with T1 then T2 (the store and experiment of conf/mlflow), from the fresh phantom's folder or, with
    ``pacs``, from a local Orthanc holding it (each study's KOS stored back); return the last review page."""
    fresh = out / "fresh_phantom"
    if not (fresh / "labels.csv").exists():
        write_phantom(fresh, n_patients=patients, seed=FRESH_PHANTOM_SEED)
    if pacs:
        shutil.rmtree(out / "pacs", ignore_errors=True)  # an empty PACS each time: earlier demos' KOS would add up
    with orthanc(out / "pacs") if pacs else contextlib.nullcontext() as url:
        if url is not None:
            print(
                f"local PACS (Orthanc, DICOMweb) at {url}: {upload(url, fresh)} instances of the fresh phantom stored"
            )
        for modality in MODALITIES:
            select_with_best_run(out, modality, [f"input={url}", "store=true"] if url else [f"input={fresh}"])
        if url is not None:
            print(
                f"the PACS now holds {stored_key_objects(url)} Key Object Selection documents (one per study and run)"
            )
    return out / "selection" / MODALITIES[-1] / REPORT


def select_with_best_run(out: Path, modality: str, source: list[str]) -> None:
    """predict.py with the modality's best demo run by test F1 on ``source`` (input=..., store=...)."""
    mlflow_cfg = OmegaConf.load(CONF_DIR / "mlflow" / "default.yaml")
    uri, experiment = tracking.resolve_tracking_uri(mlflow_cfg.tracking_uri), str(mlflow_cfg.experiment_name)
    run_id = tracking.best_train_run(uri, experiment, metric="test/f1", modality=modality)
    if run_id is None:
        raise UserError(f"no FINISHED {modality} training run in {uri} (experiment {experiment}); run the sweep")
    print(f"\n{modality}: best run by test/f1 = {run_id}", flush=True)
    run(
        [
            sys.executable,
            "predict.py",
            f"run_id={run_id}",
            *source,
            f"output={out / 'selection' / modality}",
            f"mlflow.tracking_uri={uri}",
            f"hydra.run.dir={out / 'selection' / modality / 'hydra'}",
            "progress=false",
            "explain=true",
        ]
    )


@one_line_user_errors
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m lss.demo", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--out", type=Path, default=Path("outputs/demo"), help="demo folder (phantoms, index, analysis, selection)"
    )
    parser.add_argument(
        "--patients", type=int, default=24, help="phantom patients (each one T1 + one T2 sagittal series)"
    )
    parser.add_argument("--seeds", type=int, default=20, help="repeats per modality (paper: 20)")
    parser.add_argument(
        "--pacs",
        action="store_true",
        help="select from a local Orthanc (DICOMweb) holding the fresh phantom and store each study's KOS back",
    )
    args = parser.parse_args(argv)
    out = (REPO / args.out).resolve() if not args.out.is_absolute() else args.out
    timings: dict[str, float] = {}

    started = step("1. phantom DICOM repository (lss-phantom)")
    ensure_phantom(out / "phantom", args.patients, seed=0)
    timings["phantom"] = time.monotonic() - started

    started = step("2. index it: Table 2 (lss-index)")
    run(
        [
            sys.executable,
            "-m",
            "lss.index_cli",
            "--root",
            str(out / "phantom"),
            "--out",
            str(out / "index"),
            "--labels",
            str(out / "phantom" / "labels.csv"),
        ]
    )
    timings["index"] = time.monotonic() - started

    started = step(f"3. train: {args.seeds} seeds x T1,T2 (python train.py -m ...)")
    run(
        [
            sys.executable,
            "train.py",
            "-m",
            "experiment=demo",
            f"seed=range({args.seeds})",
            "modality=T1,T2",
            f"data.root={out / 'phantom'}",
            f"data.labels={out / 'phantom' / 'labels.csv'}",
        ]
    )
    timings["sweep"] = time.monotonic() - started

    started = step("4. analyse: Table 3, Figs 5-7 (python analyze.py)")
    run([sys.executable, "analyze.py", f"output_dir={out / 'analysis'}"])
    timings["analysis"] = time.monotonic() - started

    where = "a local PACS holding a fresh phantom" if args.pacs else "a fresh phantom"
    started = step(f"5. select Mid slices from {where} with the best demo run (python predict.py)")
    review_page = demo_selection(out, SELECTION_PATIENTS, args.pacs)
    timings["selection"] = time.monotonic() - started

    print("\n=== timings ===")
    for name, seconds in timings.items():
        print(f"{name:>10}: {seconds:7.1f} s")
    print(f"{'total':>10}: {sum(timings.values()):7.1f} s")
    print("\n=== Table 3 (from step 4) ===")
    print((out / "analysis" / "table3.md").read_text())
    print(f"Table 3 and figures (Figs 5-7, t1_vs_t2_runs.png): {out / 'analysis'}")
    print(f"Mid-slice selections (each with its report.html): {out / 'selection'}")
    print("MLflow UI: make ui  (http://127.0.0.1:5000): runs with their Dataset and Models columns")
    print(f"\nReview page (open it in a browser): {review_page}")


if __name__ == "__main__":
    main()
