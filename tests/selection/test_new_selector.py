"""A new selector is one module and one config file: here both come from this test, nothing under lss/ or conf/.

The toy learns nothing: it calls the slice nearest the middle of the stack's positions mid-sagittal. train.py
calibrates and tests it like any selector (and logs the run's split.json); predict.py uses it from the run, and
without any checkpoint at all.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from helpers.selection import predict_config, selection_options
from helpers.training import composed, finished_runs, tiny_overrides
from lss.errors import ConfigError
from lss.model.selector import SELECTORS, SeriesSelector, selector_class
from lss.selection import select_mid_slices
from lss.selection.model_source import untrained_selector


class StackMiddle(SeriesSelector):
    """score(c) = -(position of c - the stack's middle position)^2 in mm^2: no pixel read, nothing learnt."""

    name = "stack_middle_toy"
    temperature_bounds = (0.1, 1e4)
    needs_checkpoint = False

    def __init__(
        self,
        modality: str,
        context: int,
        input_size: list[int],
        mean: list[float],
        std: list[float],
        band_size: int,
        **model_node: Any,
    ) -> None:
        """``model_node``: the rest of conf/model/base.yaml (backbone, optimizer, ...), which a toy has no use for."""
        super().__init__(modality, context)
        self.save_hyperparameters(ignore=["optimizer"], logger=False)

    def candidate_scores(
        self, images: torch.Tensor, positions: torch.Tensor, series: torch.Tensor
    ) -> list[torch.Tensor]:
        parts = torch.split(positions.double(), torch.bincount(series).tolist())
        return [-(part - (part.min() + part.max()) / 2).pow(2) for part in parts]


TOY_CONFIG = f"""# @package _global_
model:
  _target_: {StackMiddle.__module__}.{StackMiddle.__qualname__}
  band_size: ${{index.band_size}}
data:
  unit: series
  split_by: patient
  batch_size: 4
trainer:
  max_epochs: 1
log_model: false
"""


@pytest.fixture(scope="module")
def search_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A config search path holding conf/selector/stack_middle_toy.yaml, as a plugin would ship it."""
    folder = tmp_path_factory.mktemp("toy_conf")
    (folder / "selector").mkdir()
    (folder / "selector" / f"{StackMiddle.name}.yaml").write_text(TOY_CONFIG)
    return f"hydra.searchpath=[file://{folder}]"


@pytest.fixture(scope="module")
def toy_run(phantom_dir: Path, search_path: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from mlflow import MlflowClient

    from lss.training import train

    workdir = tmp_path_factory.mktemp("toy")
    overrides = [*tiny_overrides(phantom_dir, workdir), "modality=T2", "seed=1", f"selector={StackMiddle.name}"]
    metrics = train(composed([*overrides, search_path], workdir / "job"))
    tracking_uri = f"sqlite:///{workdir / 'mlflow.db'}"
    run = finished_runs(tracking_uri).iloc[0]
    split = json.loads(
        Path(MlflowClient(tracking_uri).download_artifacts(run["run_id"], "split.json", str(workdir))).read_text()
    )
    return {"metrics": metrics, "run": run, "tracking_uri": tracking_uri, "split": split, "workdir": workdir}


def test_a_selector_defined_outside_lss_is_registered_by_its_name() -> None:
    assert SELECTORS[StackMiddle.name] is StackMiddle is selector_class(StackMiddle.name)
    with pytest.raises(ConfigError, match=r"no selector is named .absent.; known: .*series.*slice"):
        selector_class("absent")


def test_train_py_calibrates_and_tests_a_selector_that_learns_nothing(toy_run: dict) -> None:
    run, metrics = toy_run["run"], toy_run["metrics"]
    assert run["status"] == "FINISHED"
    assert run["params.model._target_"].endswith("StackMiddle")
    for name in ("test/mid_hit", "test/mid_hit_centre", "test/f1_band", "test/ece_calibrated"):
        assert metrics[name] == metrics[name], name  # logged, not NaN
    assert metrics["test/f1"] == metrics["test/f1_band"]  # a series selector decides by its band
    assert 0.1 <= metrics["calibration/temperature"] <= 1e4
    assert "val/mid_hit" in run.index.str.removeprefix("metrics.")


def test_a_runs_split_json_lists_disjoint_patients_and_the_series_of_each_part(toy_run: dict) -> None:
    split, run = toy_run["split"], toy_run["run"]
    assert (split["seed"], split["split_by"]) == (1, "patient")
    assert split["partition_id"] == run["params.split.partition_id"]
    patients = [set(split[part]["patient_keys"]) for part in ("train", "val", "test")]
    assert all(patients) and not (patients[0] & patients[1] or patients[0] & patients[2] or patients[1] & patients[2])
    series = [set(split[part]["series_uids"]) for part in ("train", "val", "test")]
    assert not (series[0] & series[1] or series[0] & series[2] or series[1] & series[2])
    assert sum(split[part]["n_slices"] for part in ("train", "val", "test")) == sum(
        int(run[f"params.split.n_{part}"]) for part in ("train", "val", "test")
    )


def test_predict_with_the_toys_run_says_which_split_each_of_its_series_was_in(
    toy_run: dict, phantom_dir: Path, search_path: str, tmp_path: Path
) -> None:
    from lss.selection.predict import predict

    cfg = predict_config(
        f"run_id={toy_run['run']['run_id']}",
        f"mlflow.tracking_uri={toy_run['tracking_uri']}",
        f"input={phantom_dir}",
        f"output={tmp_path / 'out'}",
        "mode=none",
        "progress=false",
    )
    result = predict(cfg)
    kept = json.loads((tmp_path / "out" / "run_split.json").read_text())
    assert kept == toy_run["split"]
    page = result.report.read_text()
    for part in ("train", "val", "test"):
        for series_uid in kept[part]["series_uids"]:
            assert f"{series_uid}</h2>" in page
        assert page.count(f"in the model's {part} split") == len(kept[part]["series_uids"])


def test_predict_without_a_checkpoint_builds_the_toy_from_its_config_and_picks_each_stacks_middle(
    search_path: str, tmp_path: Path
) -> None:
    from lss.phantom import write_phantom

    studies = tmp_path / "studies"
    write_phantom(studies, n_patients=2, seed=5)
    model = untrained_selector(StackMiddle.name, ["modality=T2", search_path])
    assert isinstance(model, StackMiddle) and float(model.temperature) == 1.0
    result = select_mid_slices(model, studies, tmp_path / "out", selection_options("mode=none", "progress=false"))
    scored = result.series[result.series["status"] == "selected"]
    assert len(scored) == 2 and (scored["modality"] == "T2").all()
    by_series = result.predictions.groupby("series_uid")
    for row in scored.itertuples():
        positions = by_series.get_group(row.series_uid).sort_values("slice_index")["slice_location_mm"]
        middle = (positions.min() + positions.max()) / 2
        assert abs(positions.iloc[int(row.mid_slice_index)] - middle) == pytest.approx((positions - middle).abs().min())
    assert "in the model's" not in result.report.read_text()  # no run, no split to tell


def test_a_selector_that_learns_is_refused_without_a_checkpoint() -> None:
    with pytest.raises(ConfigError, match="selector=series learns from labelled data: train it"):
        untrained_selector("series", ["modality=T2"])
    with pytest.raises(ConfigError, match="selector=absent is not a config under conf/selector/"):
        untrained_selector("absent", ["modality=T2"])


def test_every_config_under_conf_selector_builds_the_selector_of_its_name() -> None:
    from hydra.utils import get_class

    from lss import CONF_DIR
    from lss.launch.compose import compose_config

    for path in sorted((Path(CONF_DIR) / "selector").glob("*.yaml")):
        target = compose_config([f"selector={path.stem}"]).model._target_
        assert get_class(target) is selector_class(path.stem), path.name
