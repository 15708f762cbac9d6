"""Training: composition, one job end to end in-process, seeds, resume, refusals, what a run records."""

from __future__ import annotations

import os
import time
from pathlib import Path

import hydra
import numpy as np
import pandas as pd
import pytest
import torch
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from mlflow.tracking import MlflowClient
from omegaconf import DictConfig

from helpers.dicom_factory import write_sagittal_series
from helpers.training import TEST_METRICS, composed, composed_datamodule, finished_runs, tiny_overrides
from lss.data.splits import SPLIT_KEY


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


def manifest_of(cfg: DictConfig) -> Path:
    return instantiate(cfg.data, _convert_="all").indexed_manifests()[0]


BACKBONES = ("tiny", "resnet18", "efficientnet_lite0", "inception_resnet_v2")
GROUP_OPTIONS = [
    ("data", "dicom", "lss.data.datamodule.MidSliceDataModule"),
    *[("model", option, "lss.model.module.MidSliceClassifier") for option in BACKBONES],
    ("optimizer", "sgdm", "torch.optim.SGD"),
    ("optimizer", "adamw", "torch.optim.AdamW"),
    ("trainer", "default", "lightning.pytorch.Trainer"),
    ("trainer", "cpu", "lightning.pytorch.Trainer"),
    *(
        [("trainer", option, "lightning.pytorch.Trainer") for option in ("gpu", "ddp")]
        if torch.cuda.is_available()
        else []
    ),
]


@pytest.mark.parametrize(("group", "option", "target"), GROUP_OPTIONS)
def test_every_config_group_instantiates_on_its_own(group: str, option: str, target: str, tmp_path: Path) -> None:
    """As lightning-hydra-template does: each node builds what its _target_ names, with nothing injected in code."""
    cfg = composed([f"{group}={option}", "model.pretrained=false", f"data.root={tmp_path}"], tmp_path / "job")
    built = instantiate(cfg[group], _convert_="all")
    if group == "optimizer":  # _partial_: the module calls it with its parameter groups
        built = built([torch.nn.Parameter(torch.zeros(1))])
    assert isinstance(built, hydra.utils.get_class(target))


def test_the_data_node_carries_the_backbones_pretrained_input_unless_overridden(tmp_path: Path) -> None:
    cfg = composed(["model=inception_resnet_v2"], tmp_path)
    assert (list(cfg.data.input_size), list(cfg.model.input_size)) == ([299, 299], [299, 299])
    assert list(cfg.data.mean) == list(cfg.model.mean) == [0.5, 0.5, 0.5]
    demo = composed(["experiment=demo", "seed=0", "modality=T2"], tmp_path)
    assert list(demo.model.input_size) == [64, 64] and (demo.data.seed, demo.data.modality) == (0, "T2")
    assert demo.model.modality == "T2" and demo.data.index.band_size == demo.index.band_size


def test_record_before_fit_and_test_is_a_clear_error_also_under_python_o(phantom_dir: Path, tmp_path: Path) -> None:
    from lss.tracking import TrackedRun
    from lss.tracking.journal import Journal
    from lss.training import build, record

    cfg = composed(tiny_overrides(phantom_dir, tmp_path), tmp_path / "job")
    run = TrackedRun(Journal.create(tmp_path / "journal", {"run_id": "no-run"}))
    with pytest.raises(RuntimeError, match="follows fit_and_test"):
        record(cfg, run, *build(cfg), tested=None)


def test_paper_experiment_is_the_paper_protocol(tmp_path: Path) -> None:
    cfg = composed(["experiment=paper"], tmp_path)
    assert cfg.model.backbone == "inception_resnet_v2" and cfg.model.pretrained
    assert cfg.optimizer._target_ == "torch.optim.SGD" and cfg.optimizer._partial_
    assert cfg.optimizer.momentum == 0.9 and cfg.optimizer.weight_decay == 1e-4
    assert cfg.optimizer.lr == 1e-4 and cfg.model.head_lr_multiplier == 20
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
        return train(
            composed([*tiny_overrides(phantom_dir, tmp_path), f"seed={seed}", "resume=false"], tmp_path / name)
        )

    first, again, other = once(0, "a"), once(0, "b"), once(1, "c")
    assert first == again
    assert first != other  # seed 0 was applied: a different seed trains a different model
    runs = finished_runs(f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert sorted(runs["params.seed"]) == ["0", "0", "1"]
    # what an audit needs: the cache entries every run read, and where its labels came from
    assert runs["params.cache.index"].nunique() == runs["params.cache.images"].nunique() == 1
    assert (tmp_path / "cache" / "index" / runs["params.cache.index"].iloc[0] / "manifest.csv").is_file()
    assert (tmp_path / "cache" / "images" / f"images-{runs['params.cache.images'].iloc[0]}.npy").is_file()
    assert (runs["params.labels.from_csv"].astype(int) > 0).all() and (runs["params.labels.from_rule"] == "0").all()
    assert set(runs["params.resources.cpu_budget"]) == {str(len(os.sched_getaffinity(0)))}  # resources.cpus=auto


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
    with pytest.raises(ConfigError, match="register_as=lss-T1 registers the logged model; set log_model=true"):
        train(
            composed([*tiny_overrides(phantom_dir, tmp_path), "register_as=lss-T1", "log_model=false"], tmp_path / "b")
        )
    assert finished_runs(f"sqlite:///{tmp_path / 'mlflow.db'}").empty


def test_missing_pretrained_weights_fail_fast_with_instructions(tmp_path: Path) -> None:
    from lss.model.backbone import PretrainedWeightsMissing, create_backbone

    started = time.monotonic()
    with pytest.raises(PretrainedWeightsMissing, match=r"model\.weights="):
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


def test_the_resume_hash_ignores_where_and_how_a_job_runs_but_not_what_it_computes() -> None:
    from lss.tracking import config_hash

    job = {"seed": 0, "modality": "T1", "data": {"num_workers": 0, "root": "/data"}, "paths": {"output_dir": "/a"}}
    moved = {
        **job,
        "data": {"num_workers": "auto", "root": "/data"},
        "paths": {"output_dir": "/b"},
        "resume": False,
        "resources": {"cpus": 1},
    }
    assert config_hash(job) == config_hash(moved)
    assert config_hash(job) != config_hash({**job, "seed": 1})
    assert config_hash(job) != config_hash({**job, "data": {"num_workers": 0, "root": "/other"}})


def test_the_paper_experiment_stays_fp32_on_a_gpu_unless_overridden(tmp_path: Path) -> None:
    assert composed(["experiment=paper", "trainer=gpu"], tmp_path).trainer.precision == "32-true"
    assert composed(["experiment=paper", "trainer=ddp"], tmp_path).trainer.precision == "32-true"
    assert (
        composed(["experiment=paper", "trainer=gpu", "trainer.precision=bf16-mixed"], tmp_path).trainer.precision
        == "bf16-mixed"
    )
    assert composed(["trainer=gpu"], tmp_path).trainer.precision == "bf16-mixed"


def test_the_demo_labels_follow_data_root(tmp_path: Path) -> None:
    cfg = composed(["experiment=demo", f"data.root={tmp_path / 'other_phantom'}"], tmp_path)
    assert cfg.data.labels == str(tmp_path / "other_phantom" / "labels.csv")


@pytest.mark.parametrize("key", ["root", "labels", "manifest", "weighting"])
def test_a_path_that_does_not_exist_is_refused_before_a_run_opens_naming_its_key(
    key: str, phantom_dir: Path, tmp_path: Path
) -> None:
    from lss.errors import ConfigError
    from lss.training import train

    missing = tmp_path / "absent.csv"
    with pytest.raises(ConfigError, match=rf"^data\.{key}={missing} does not exist"):
        train(composed([*tiny_overrides(phantom_dir, tmp_path), f"data.{key}={missing}"], tmp_path / "job"))
    assert finished_runs(f"sqlite:///{tmp_path / 'mlflow.db'}").empty


def test_the_optimizer_a_paper_run_builds_has_lr_1e_4_for_transferred_layers_and_20x_for_the_head(
    phantom_dir: Path, tmp_path: Path
) -> None:
    from lss.training import build, fit_and_test

    cfg = composed(
        [
            *tiny_overrides(phantom_dir, tmp_path),
            "experiment=paper",
            "model=tiny",
            "model.pretrained=false",
            "data.input_size=[32,32]",
            "data.split_by=patient",
            "+trainer.fast_dev_run=true",
            "trainer.accelerator=cpu",
        ],
        tmp_path / "job",
    )
    datamodule, model = build(cfg)
    fit_and_test(cfg, datamodule, model, logger=False)
    optimizer = model.trainer.optimizers[0]
    assert type(optimizer).__name__ == "SGD"
    assert {group["name"]: group["lr"] for group in optimizer.param_groups} == {
        "transferred": 1e-4,
        "head": pytest.approx(2e-3),
    }
    assert all(group["momentum"] == 0.9 and group["weight_decay"] == 1e-4 for group in optimizer.param_groups)


@pytest.mark.parametrize("test_weights", ["last", "best"])
def test_the_tested_weights_and_their_temperature_are_the_logged_checkpoint(
    test_weights: str, phantom_dir: Path, tmp_path: Path
) -> None:
    """Scoring the test slices again with the logged checkpoint gives the logged (calibrated) test predictions."""
    from lss.data.cache import manifest_images
    from lss.data.channels import InputPlan
    from lss.data.preprocess import PreprocessParams
    from lss.manifest import read_manifest
    from lss.selection import load_selector
    from lss.selection.scoring import prediction_trainer, score_slices
    from lss.training import train

    cfg = composed([*tiny_overrides(phantom_dir, tmp_path), "seed=5", f"test_weights={test_weights}"], tmp_path / "job")
    train(cfg)
    run_id = finished_runs(f"sqlite:///{tmp_path / 'mlflow.db'}")["run_id"].iloc[0]
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    logged = pd.read_csv(client.download_artifacts(run_id, "test_predictions.csv", str(tmp_path)))
    model = load_selector(run_id=run_id, tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    manifest = read_manifest(next((tmp_path / "cache" / "index").glob("*/manifest.csv"))).set_index("sop_uid")
    slices = manifest.loc[logged["sop_uid"]].reset_index()
    images = manifest_images(
        slices, phantom_dir, PreprocessParams(32, 32), tmp_path / "cache" / "images", progress=False
    )
    one_slice = np.repeat(np.arange(len(images))[:, None], 3, axis=1)
    plan = InputPlan(slices, slices, one_slice)
    p_mid = score_slices(model, plan, images, 16, prediction_trainer("cpu", progress=False))  # predict_step
    assert p_mid == pytest.approx(logged["p_mid"].to_numpy(), abs=1e-5)  # calibrated on both sides
    metrics = client.get_run(run_id).data.metrics
    assert metrics["calibration/temperature"] == pytest.approx(float(model.temperature)) != 1.0
    assert 0 <= metrics["test/ece_calibrated"] <= 1 and 0 <= metrics["test/ece"] <= 1
    assert "reliability_diagram.png" in {item.path for item in client.list_artifacts(run_id)}
    (checkpoint,) = client.list_artifacts(run_id, "checkpoint")
    assert Path(checkpoint.path).name.startswith("best-epoch" if test_weights == "best" else "last")


def test_the_temperature_is_fitted_on_validation_slices_only_flipping_every_test_label_leaves_it_unchanged(
    phantom_dir: Path, tmp_path: Path
) -> None:
    """Patient splits depend on the seed and the patients alone, so a manifest whose test slices have their labels
    flipped trains and validates on the same slices: same weights, same temperature, opposite test accuracy."""
    import lightning as L

    from lss.manifest import read_manifest, write_manifest
    from lss.training import build, fit_and_test

    overrides = [*tiny_overrides(phantom_dir, tmp_path), "seed=2"]  # experiment=demo splits by patient

    def trained(extra: list[str], name: str) -> tuple[float, float, object]:
        L.seed_everything(2, workers=True, verbose=False)  # as train() does
        cfg = composed([*overrides, *extra], tmp_path / name)
        datamodule, model = build(cfg)
        fit_and_test(cfg, datamodule, model, logger=False)
        return float(model.temperature), float(model.trainer.callback_metrics["test/accuracy"]), datamodule

    temperature, accuracy, datamodule = trained([], "as_labelled")
    manifest = read_manifest(manifest_of(composed(overrides, tmp_path / "index")))
    test_slices = manifest["sop_uid"].isin(datamodule.slices.iloc[datamodule.split.test]["sop_uid"])
    manifest.loc[test_slices, "label"] = manifest.loc[test_slices, "label"].map({"Mid": "Lateral", "Lateral": "Mid"})
    write_manifest(manifest, tmp_path / "test_labels_flipped.csv")
    flipped_temperature, flipped_accuracy, flipped = trained(
        [f"data.manifest={tmp_path / 'test_labels_flipped.csv'}"], "test_labels_flipped"
    )
    assert list(flipped.split.val) == list(datamodule.split.val) and test_slices.sum() == len(datamodule.split.test)
    assert flipped_accuracy == pytest.approx(1 - accuracy)  # the test slices did change
    assert flipped_temperature == temperature != 1.0


def test_changing_the_band_size_reindexes_the_root(phantom_dir: Path, tmp_path: Path) -> None:
    centre_rule = [*tiny_overrides(phantom_dir, tmp_path), "data.labels=null"]  # the band size decides the labels
    five = manifest_of(composed(centre_rule, tmp_path / "a"))
    again = manifest_of(composed(centre_rule, tmp_path / "b"))
    three = manifest_of(composed([*centre_rule, "index.band_size=3"], tmp_path / "c"))
    assert five == again != three
    counts = [
        pd.read_csv(path).query("label == 'Mid'").groupby("series_uid").size().unique().tolist()
        for path in (five, three)
    ]
    assert counts == [[5], [3]]


def test_data_weighting_reaches_the_indexer_and_keys_the_index_cache(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    write_sagittal_series(root, n_slices=5, series_uid="1.2.2", te_ms=25.0, tr_ms=3500.0, description="stir_sag")
    weighting = tmp_path / "weighting.csv"
    weighting.write_text("series_instance_uid,modality\n1.2.2,T2\n")
    overrides = [*tiny_overrides(root, tmp_path), "data.labels=null"]
    by_headers = manifest_of(composed(overrides, tmp_path / "a"))
    by_csv = manifest_of(composed([*overrides, f"data.weighting={weighting}"], tmp_path / "b"))
    assert by_headers != by_csv
    assert set(pd.read_csv(by_headers)["modality"]) == {"STIR"} and set(pd.read_csv(by_csv)["modality"]) == {"T2"}


def test_labels_for_only_some_slices_are_refused_unless_the_centre_rule_is_asked_for_and_the_run_logs_how_many(
    phantom_dir: Path, phantom_manifest: Path, tmp_path: Path
) -> None:
    from lss.errors import UserError
    from lss.training import train

    manifest = pd.read_csv(phantom_manifest, dtype=str)
    t1 = manifest[manifest["modality"] == "T1"]
    unlabelled_series = sorted(t1["series_uid"].unique())[0]
    kept = t1[t1["series_uid"] != unlabelled_series]
    labels = tmp_path / "some.csv"
    kept.rename(columns={"sop_uid": "sop_instance_uid"})[["sop_instance_uid", "label"]].to_csv(labels, index=False)
    overrides = [*tiny_overrides(phantom_dir, tmp_path), f"data.labels={labels}", "trainer.max_epochs=1"]
    n_rule = int((t1["series_uid"] == unlabelled_series).sum())
    refusal = rf"labels {len(kept)} of {len(t1)} indexed T1 slices \({n_rule} would get.*data.unlabelled="
    with pytest.raises(UserError, match=refusal):
        train(composed(overrides, tmp_path / "a"))
    assert finished_runs(f"sqlite:///{tmp_path / 'mlflow.db'}").empty
    train(composed([*overrides, "data.unlabelled=centre_rule"], tmp_path / "b"))
    run = finished_runs(f"sqlite:///{tmp_path / 'mlflow.db'}").iloc[0]
    assert run["status"] == "FINISHED"
    logged = int(run["params.labels.from_csv"]) + int(run["params.labels.from_rule"])
    split = sum(int(run[f"params.split.n_{part}"]) for part in ("train", "val", "test"))
    assert int(run["params.labels.from_rule"]) == n_rule and logged == split == len(t1)


def test_unlabelled_drop_keeps_only_the_labelled_series_and_splits_only_their_patients(
    phantom_dir: Path, phantom_manifest: Path, tmp_path: Path
) -> None:
    manifest = pd.read_csv(phantom_manifest, dtype=str)
    t1 = manifest[manifest["modality"] == "T1"]
    kept_series = sorted(t1["series_uid"].unique())[:5]
    kept = t1[t1["series_uid"].isin(kept_series)]
    labels = tmp_path / "some.csv"
    kept.rename(columns={"sop_uid": "sop_instance_uid"})[["sop_instance_uid", "label"]].to_csv(labels, index=False)
    datamodule = composed_datamodule(
        [f"data.root={phantom_dir}", f"data.labels={labels}", "data.unlabelled=drop", "data.input_size=[32,32]"],
        tmp_path,
    )
    plan, split_keys = datamodule.input_plan()
    assert set(plan.samples["series_uid"]) == set(kept_series) and len(plan.samples) == len(kept)
    assert (plan.samples["label_source"] == "labels").all()
    # the split is drawn over the labelled patients only
    assert set(split_keys) == set(plan.samples[SPLIT_KEY]) and len(set(split_keys)) == kept["patient_key"].nunique()
    with pytest.raises(InstantiationException, match=r"data.unlabelled=drop trains on the series data.labels labels"):
        composed_datamodule([f"data.root={phantom_dir}", "data.labels=null", "data.unlabelled=drop"], tmp_path)
