"""Training runs written straight through MLflow's API, following what lss/training.py logs.

Tags ``lss.kind``, ``lss.sweep_id``, ``lss.job_num``, ``lss.data_source``; dotted params (the
design settings, seed, modality, split sizes); ``test/<metric>`` finals and a per-epoch
``val/accuracy`` history. Lets the analysis be tested on messy stores a real sweep rarely makes.
"""

from __future__ import annotations

import time

from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient

from lss.data.splits import SPLIT_SCHEME
from lss.tracking import COMMIT_TAG, ENVIRONMENT_TAG_PREFIX, SPLIT_SCHEME_PARAM, ensure_experiment

EXPERIMENT = "lss-test"
RECORD = {"lss": "0.1.0", "python": "3.11.9", "torch": "2.14.1", "device": "AMD EPYC"}
"""A run record (lss.environment) every written run shares unless told otherwise."""
T1_ACCURACY = [0.90, 0.91, 0.89, 0.90, 0.92, 0.88]
T2_ACCURACY = [0.93, 0.94, 0.92, 0.93, 0.95, 0.92]


def write_training_run(
    tracking_uri: str,
    modality: str,
    seed: int,
    accuracy: float,
    status: str = "FINISHED",
    sweep_id: str = "sweep-a",
    split_by: str = "patient",
    backbone: str = "inception_resnet_v2",
    data_source: str = "dicom",
    split_scheme: int | None = SPLIT_SCHEME,
    record: dict[str, str] | None = None,
) -> str:
    """Log one training run as lss/training.py does, and end it with ``status``; ``split_scheme=None`` logs none, as
    lss did before it had one; ``record`` replaces values of the run record (``lss.env.<name>`` tags)."""
    client = MlflowClient(tracking_uri)
    environment = RECORD | (record or {})
    run = client.create_run(
        ensure_experiment(tracking_uri, EXPERIMENT),
        tags={"lss.kind": "train", "lss.sweep_id": sweep_id, "lss.job_num": str(seed), "lss.data_source": data_source}
        | {COMMIT_TAG: "0123abcd"}
        | {f"{ENVIRONMENT_TAG_PREFIX}{name}": value for name, value in environment.items()},
    )
    params = {
        "modality": modality,
        "seed": seed,
        "model.backbone": backbone,
        "model.pretrained": True,
        "data.split_by": split_by,
        "optimizer.lr": 1e-4,
        "paths.output_dir": f"/out/{sweep_id}/{seed}",
        "split.n_train": 80,
        "split.n_val": 10,
        "split.n_test": 20,
        "split.partition_id": f"patients-{seed}",
    } | ({SPLIT_SCHEME_PARAM: split_scheme} if split_scheme is not None else {})
    now = int(time.time() * 1000)
    history = [Metric("val/accuracy", accuracy - 0.1 / (epoch + 1), now, epoch) for epoch in range(3)]
    finals = (
        []
        if status != "FINISHED"
        else [
            Metric(f"test/{name}", accuracy + offset, now, 0)
            for name, offset in (("accuracy", 0.0), ("precision", 0.005), ("recall", -0.004), ("f1", 0.001))
        ]
    )
    client.log_batch(
        run.info.run_id,
        metrics=history + finals,
        params=[Param(key, str(value)) for key, value in params.items()],
        tags=[RunTag("mlflow.runName", f"{modality}-seed{seed}")],
    )
    if status != "RUNNING":
        client.set_terminated(run.info.run_id, status)
    return run.info.run_id


def write_messy_sweep(tracking_uri: str) -> dict[str, str]:
    """Six seeds; T2 seed 3 FAILED (so missing), T1 seed 6 still RUNNING, T1 seed 2 run twice."""
    for seed, (t1, t2) in enumerate(zip(T1_ACCURACY, T2_ACCURACY)):
        write_training_run(tracking_uri, "T1", seed, t1)
        write_training_run(tracking_uri, "T2", seed, t2, status="FAILED" if seed == 3 else "FINISHED")
    time.sleep(0.01)  # the re-run starts strictly later
    return {
        "rerun": write_training_run(tracking_uri, "T1", 2, 0.895),
        "running": write_training_run(tracking_uri, "T1", 6, 0.9, status="RUNNING"),
    }
