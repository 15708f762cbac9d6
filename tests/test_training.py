"""Training: composition, one job end to end, the tiny sweep's MLflow runs, seeds, failures."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from conftest import tiny_overrides
from lss.launch.compose import compose_train_config

TEST_METRICS = ("test/accuracy", "test/precision", "test/recall", "test/f1")


def composed(overrides: list[str], output_dir: Path):
    """The real config, composed as train.py would (lss.config), for a job writing into ``output_dir``."""
    return compose_train_config(overrides, output_dir)


def finished_runs(tracking_uri: str, experiment_name: str = "lss") -> pd.DataFrame:
    import mlflow

    mlflow.set_tracking_uri(tracking_uri)
    return mlflow.search_runs(experiment_names=[experiment_name], filter_string="tags.`lss.kind` = 'train'")


@pytest.mark.parametrize(
    "overrides",
    [
        [],
        ["experiment=paper"],
        ["experiment=demo"],
        ["modality=T2", "model=resnet18", "optimizer=adamw", "trainer=cpu"],
        ["trainer=gpu"],
        ["trainer=ddp"],
        ["model=tiny", "data.split_by=patient", "test_weights=best"],
    ],
)
def test_every_group_and_experiment_composes(overrides: list[str], tmp_path: Path) -> None:
    cfg = composed(overrides, tmp_path)
    assert cfg.modality in ("T1", "T2")
    assert isinstance(cfg.seed, int)
    assert cfg.trainer._target_ == "lightning.pytorch.Trainer"
    assert cfg.paths.output_dir == str(tmp_path)


def test_paper_experiment_is_the_paper_protocol(tmp_path: Path) -> None:
    cfg = composed(["experiment=paper"], tmp_path)
    assert cfg.model.name == "inception_resnet_v2" and cfg.model.pretrained
    assert cfg.optimizer.factory._target_ == "torch.optim.SGD"
    assert cfg.optimizer.factory.momentum == 0.9 and cfg.optimizer.factory.weight_decay == 1e-4
    assert cfg.optimizer.lr == 1e-4 and cfg.optimizer.head_lr_multiplier == 20
    assert cfg.data.batch_size == 10 and cfg.trainer.max_epochs == 4
    assert cfg.data.test_fraction == 0.2 and cfg.data.split_by == "image" and not cfg.data.augment
    assert cfg.test_weights == "last"


def test_fast_dev_run_trains_and_tests_one_batch(phantom_dir: Path, tmp_path: Path) -> None:
    from lss.training import train

    cfg = composed([*tiny_overrides(phantom_dir, tmp_path), "+trainer.fast_dev_run=true"], tmp_path / "job")
    metrics = train(cfg)
    assert set(TEST_METRICS) <= set(metrics)
    runs = finished_runs(f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert list(runs["status"]) == ["FINISHED"]


def test_same_seed_gives_identical_metrics_and_seed_zero_is_a_seed(phantom_dir: Path, tmp_path: Path) -> None:
    from lss.training import train

    def once(seed: int, name: str) -> dict[str, float]:
        return train(composed([*tiny_overrides(phantom_dir, tmp_path), f"seed={seed}", "resume=false"], tmp_path / name))

    first, again, other = once(0, "a"), once(0, "b"), once(1, "c")
    assert first == again
    assert first != other  # seed 0 was applied: a different seed trains a different model
    runs = finished_runs(f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert sorted(runs["params.seed"]) == ["0", "0", "1"]


def test_resume_skips_a_finished_job(phantom_dir: Path, tmp_path: Path) -> None:
    from lss.training import train

    overrides = [*tiny_overrides(phantom_dir, tmp_path), "seed=3"]
    assert train(composed(overrides, tmp_path / "a"))
    assert train(composed(overrides, tmp_path / "b")) == {}  # skipped: same resolved config FINISHED
    assert len(finished_runs(f"sqlite:///{tmp_path / 'mlflow.db'}")) == 1
    assert train(composed([*overrides, "resume=false"], tmp_path / "c"))  # forced: trained again
    assert list(finished_runs(f"sqlite:///{tmp_path / 'mlflow.db'}")["status"]) == ["FINISHED", "FINISHED"]


def test_a_setting_that_cannot_work_is_refused_before_a_run_opens(phantom_dir: Path, tmp_path: Path) -> None:
    from lss.errors import ConfigError
    from lss.training import train

    with pytest.raises(ConfigError, match="test_weights"):
        train(composed([*tiny_overrides(phantom_dir, tmp_path), "test_weights=newest"], tmp_path / "job"))
    assert finished_runs(f"sqlite:///{tmp_path / 'mlflow.db'}").empty


def test_missing_pretrained_weights_fail_fast_with_instructions(tmp_path: Path) -> None:
    from lss.model.backbone import PretrainedWeightsMissing, create_backbone

    started = time.monotonic()
    with pytest.raises(PretrainedWeightsMissing, match="model.weights="):
        create_backbone("inception_resnet_v2", pretrained=True)
    with pytest.raises(PretrainedWeightsMissing, match="does not exist"):
        create_backbone("inception_resnet_v2", pretrained=True, weights=str(tmp_path / "absent.safetensors"))
    assert time.monotonic() - started < 5


def test_weights_from_a_file_are_loaded(tmp_path: Path) -> None:
    """The real loading path: a weights file on disk (here the tiny model's own) is read by timm."""
    import timm
    import torch
    from safetensors.torch import save_file

    from lss.model.backbone import create_backbone

    source = timm.create_model("test_resnet", pretrained=False)
    save_file(source.state_dict(), tmp_path / "model.safetensors")
    loaded = create_backbone("test_resnet", pretrained=True, weights=str(tmp_path / "model.safetensors"))
    assert torch.equal(loaded.conv1[0].weight, source.conv1[0].weight)
    assert loaded.get_classifier().out_features == 2


def test_tiny_sweep_leaves_one_finished_run_per_job(tiny_sweep: dict) -> None:
    runs = finished_runs(tiny_sweep["tracking_uri"])
    assert len(runs) == 6 and set(runs["status"]) == {"FINISHED"}
    assert sorted(zip(runs["params.modality"], runs["params.seed"])) == sorted((m, s) for m in ("T1", "T2") for s in "012")
    for column in [f"metrics.{name}" for name in (*TEST_METRICS, "val/accuracy", "val/loss", "train/loss", "test/accuracy_band")]:
        assert runs[column].notna().all(), column
    for column in ("params.model.name", "params.data.split_by", "params.split.n_test", "params.split.partition_id", "tags.lss.sweep_id", "tags.lss.job_num", "tags.mlflow.source.git.commit"):
        assert runs[column].notna().all(), column
    assert runs["tags.lss.sweep_id"].nunique() == 1
    assert sorted(runs["tags.lss.job_num"].astype(int)) == list(range(6))
    # patient-grouped splits: T1 and T2 of one seed share the partition, seeds differ
    partitions = runs.groupby("params.seed")["params.split.partition_id"].nunique()
    assert (partitions == 1).all() and runs["params.split.partition_id"].nunique() == 3


def test_tiny_sweep_logs_curves_and_artifacts(tiny_sweep: dict) -> None:
    client = MlflowClient(tiny_sweep["tracking_uri"])
    run_id = finished_runs(tiny_sweep["tracking_uri"])["run_id"].iloc[0]
    history = client.get_metric_history(run_id, "val/accuracy")
    assert [point.step for point in history] == [0, 1]  # one point per epoch, logged once
    artifacts = {item.path for item in client.list_artifacts(run_id)}
    assert {"config.yaml", "confusion_matrix.csv", "confusion_matrix.png", "test_predictions.csv", "checkpoint"} <= artifacts
    predictions = pd.read_csv(client.download_artifacts(run_id, "test_predictions.csv"))
    assert list(predictions.columns) == ["sop_uid", "series_uid", "slice_index", "label", "p_mid"]


def test_ddp_inside_a_multirun_runs_each_job_once(phantom_dir: Path, tmp_path: Path) -> None:
    """Lightning #11300: DDP children must not re-launch the sweep. 2 jobs x 2 CPU processes."""
    from conftest import run_train

    run_train(["-m", "seed=0,1", *tiny_overrides(phantom_dir, tmp_path), "trainer.accelerator=cpu", "trainer.devices=2", "trainer.strategy=ddp"])
    runs = finished_runs(f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert len(runs) == 2 and set(runs["status"]) == {"FINISHED"}
    assert sorted(runs["params.seed"]) == ["0", "1"]
    assert runs["metrics.test/accuracy"].notna().all()
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    for run_id in runs["run_id"]:
        assert [point.step for point in client.get_metric_history(run_id, "val/accuracy")] == [0, 1]
        assert len(client.get_metric_history(run_id, "test/accuracy")) == 1
    job_dirs = sorted(path.name for path in (tmp_path / "multirun").iterdir() if path.is_dir())
    assert job_dirs == ["0", "1"]
    assert not (tmp_path / "run").exists()  # children wrote into their job's folder, nowhere else


def test_submitit_local_launcher_runs_a_sweep(phantom_dir: Path, tmp_path: Path) -> None:
    from conftest import run_train

    """One job is enough to show submitit runs it in a process of its own and it tracks as usual."""
    run_train(["-m", "seed=0", "hydra/launcher=local", *tiny_overrides(phantom_dir, tmp_path)])
    runs = finished_runs(f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert list(runs["params.seed"]) == ["0"] and list(runs["status"]) == ["FINISHED"]
    assert list((tmp_path / "multirun" / ".submitit").glob("*/*_result.pkl"))  # submitit ran the job


def test_the_resume_hash_ignores_where_and_how_a_job_runs_but_not_what_it_computes() -> None:
    from lss.training import config_hash

    job = {"seed": 0, "modality": "T1", "data": {"num_workers": 0, "root": "/data"}, "paths": {"output_dir": "/a"}}
    moved = {**job, "data": {"num_workers": "auto", "root": "/data"}, "paths": {"output_dir": "/b"}, "resume": False}
    assert config_hash(job) == config_hash(moved)
    assert config_hash(job) != config_hash({**job, "seed": 1})
    assert config_hash(job) != config_hash({**job, "data": {"num_workers": 0, "root": "/other"}})
