"""Models trained on the ablation inputs select through predict.py too: context=3 and fused T1T2."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from helpers.selection import selection_options
from helpers.training import composed, run_script, tiny_overrides
from lss.dicom.index import index_repository
from lss.errors import UserError
from lss.phantom import write_phantom
from lss.selection import load_selector, select_mid_slices


def trained(phantom_dir: Path, workdir: Path, overrides: list[str]) -> Path:
    """Train a tiny model in-process; return its checkpoint."""
    from lss.training import train

    train(composed([*tiny_overrides(phantom_dir, workdir), "seed=0", *overrides], workdir / "job"))
    return workdir / "job" / "checkpoints" / "last.ckpt"


@pytest.fixture(scope="module")
def context_checkpoint(phantom_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return trained(phantom_dir, tmp_path_factory.mktemp("context"), ["modality=T2", "data.context=3"])


@pytest.fixture(scope="module")
def new_studies(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("new") / "dicom"
    write_phantom(root, n_patients=2, seed=7)
    return root


@pytest.mark.slow
def test_a_context_3_model_selects_on_a_new_study_through_predict_py(
    context_checkpoint: Path, new_studies: Path, tmp_path: Path
) -> None:
    assert load_selector(checkpoint=context_checkpoint).hparams["context"] == 3
    result = run_script(
        "predict.py",
        [
            f"checkpoint={context_checkpoint}",
            f"input={new_studies}",
            f"output={tmp_path / 'out'}",
            "mode=none",
            "progress=false",
            f"hydra.run.dir={tmp_path / 'hydra'}",
        ],
    )
    predictions = pd.read_csv(tmp_path / "out" / "predictions.csv")
    series = pd.read_csv(tmp_path / "out" / "series.csv")
    assert (predictions["modality"] == "T2").all() and predictions["series_uid"].nunique() == 2
    assert (series.loc[series["status"] == "selected", "n_mid"] == 5).all()
    assert "accuracy" in result.stdout  # scored against the new phantom's labels.csv


def test_a_context_3_model_given_a_lone_file_says_it_needs_whole_series(
    context_checkpoint: Path, new_studies: Path, tmp_path: Path
) -> None:
    lone = tmp_path / "lone"
    lone.mkdir()
    manifest = index_repository(new_studies, progress=False).manifest
    shutil.copy(new_studies / manifest.loc[manifest["modality"] == "T2", "path"].iloc[0], lone / "slice.dcm")
    with pytest.raises(UserError, match=r"no whole series.*lone file"):
        select_mid_slices(
            load_selector(checkpoint=context_checkpoint),
            lone,
            tmp_path / "out",
            selection_options("mode=none", "progress=false"),
        )


def test_a_fused_t1t2_model_scores_t2_series_and_lists_t1_series_as_its_channel(
    phantom_dir: Path, new_studies: Path, tmp_path: Path
) -> None:
    checkpoint = trained(phantom_dir, tmp_path / "fused", ["modality=T1T2"])
    result = select_mid_slices(
        load_selector(checkpoint=checkpoint),
        new_studies,
        tmp_path / "out",
        selection_options("mode=none", "progress=false"),
    )
    assert (result.predictions["modality"] == "T2").all() and len(result.predictions) > 0
    t1_series = result.series[result.series["modality"] == "T1"]
    assert len(t1_series) == 2 and set(t1_series["status"]) == {"T1 channel of the T1T2 model"}
