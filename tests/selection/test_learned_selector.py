"""The learned series selector (selector=learned) trained as a normal run and used by predict.py on new studies."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import torch

from helpers.selection import predict_config
from helpers.training import trained_selector_run
from lss.selection import load_selector


@pytest.fixture(scope="module")
def trained_learned(phantom_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """A selector=learned run on the phantom that trains on sub-stacks too and reads the symmetry score as an input
    and as a prior: every path of the recipe."""
    overrides = ["selector=learned", "model.crops=4", "model.symmetry_input=true", "model.prior_weight=0.5"]
    return trained_selector_run(phantom_dir, tmp_path_factory.mktemp("learned"), overrides)


def test_a_learned_selector_run_finishes_after_one_pass_and_logs_the_series_metrics(trained_learned: dict) -> None:
    run = trained_learned["run"]
    assert run["status"] == "FINISHED"
    assert run["params.model._target_"] == "lss.model.learned_selector.LearnedSeriesSelector"
    for metric in ("test/mid_hit", "test/mid_hit_1", "test/mid_plane_error_mm", "test/f1"):
        assert run[f"metrics.{metric}"] == run[f"metrics.{metric}"], metric  # logged, not NaN
    assert 0 <= run["metrics.test/mid_plane_error_mm"] < 20
    model = load_selector(checkpoint=trained_learned["checkpoint"])
    assert model.scorer_weights.abs().sum() > 0  # the fitted scorer travels in the checkpoint


def test_predict_py_selects_the_mid_slice_of_new_studies_with_a_learned_selector_run(
    trained_learned: dict, new_studies: Path, tmp_path: Path
) -> None:
    from lss.selection.predict import predict

    predict(  # what predict.py run_id=... input=... output=... mode=none does, in this process
        predict_config(
            f"run_id={trained_learned['run']['run_id']}",
            f"mlflow.tracking_uri={trained_learned['tracking_uri']}",
            f"input={new_studies}",
            f"output={tmp_path / 'out'}",
            "mode=none",
            "progress=false",
        )
    )
    series = pd.read_csv(tmp_path / "out" / "series.csv")
    selected = series[series["status"] == "selected"]
    assert len(selected) == 3 and (selected["n_mid"] == 5).all() and selected["mid_slice_index"].notna().all()
    assert pd.read_csv(tmp_path / "out" / "predictions.csv")["p_mid"].between(0, 1).all()


def test_a_stack_given_in_reversed_order_gets_the_same_pick(trained_learned: dict) -> None:
    model = load_selector(checkpoint=trained_learned["checkpoint"])
    images = torch.rand(11, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    positions = torch.arange(11, dtype=torch.float32) * 4.0
    one_series = torch.zeros(11, dtype=torch.long)
    with torch.no_grad():
        forward = model.candidate_scores(images, positions, one_series)[0]
        backward = model.candidate_scores(images.flip(0), positions.flip(0), one_series)[0]
    assert torch.allclose(backward.flip(0), forward, atol=1e-6)
    assert int(forward.argmax()) == 10 - int(backward.argmax())
