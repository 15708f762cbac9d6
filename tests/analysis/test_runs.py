"""Pulling training runs out of a real MLflow SQLite store (written through MLflow's own API) for Table 3."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from helpers.mlflow_runs import EXPERIMENT, write_messy_sweep, write_training_run
from lss.analysis import runs
from lss.analysis.report import fetch_training_runs, run_analysis, select_runs
from lss.errors import UserError
from lss.tracking import metric_history


@pytest.fixture(scope="module")
def messy_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, str]]:
    tracking_uri = f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"
    return tracking_uri, write_messy_sweep(tracking_uri)


def test_a_messy_sweep_is_resolved_and_every_run_accounted_for(messy_store):
    tracking_uri, special = messy_store
    selection = select_runs(fetch_training_runs(tracking_uri, EXPERIMENT), None)

    assert selection.runs.groupby("modality").size().to_dict() == {"T1": 6, "T2": 5}
    t1_seed_2 = selection.runs.query("modality == 'T1' and seed == 2").iloc[0]
    assert t1_seed_2["run_id"] == special["rerun"] and t1_seed_2["accuracy"] == pytest.approx(0.895)
    assert selection.superseded["kept_run_id"].tolist() == [special["rerun"]]
    assert sorted(selection.excluded["reason"]) == ["status FAILED", "status RUNNING"]
    assert selection.missing_seeds == {"T1": [6], "T2": [3, 6]}
    summary = selection.summary()
    assert "Newest sweep sweep-a." in summary
    assert "T1 = 6, T2 = 5" in summary and "Missing seeds for T2: [3, 6]" in summary
    assert f"kept newest FINISHED run {special['rerun']}" in summary


def test_runs_carry_the_split_sizes_and_partition_for_the_corrected_test(messy_store):
    selection = select_runs(fetch_training_runs(messy_store[0], EXPERIMENT), None)
    first = selection.runs.iloc[0]
    assert (first["n_train"], first["n_test"], first["split_by"]) == (80, 20, "patient")
    assert first["partition_id"] == f"patients-{first['seed']}"


def test_validation_history_has_one_point_per_epoch_and_run(messy_store):
    tracking_uri, _ = messy_store
    selection = select_runs(fetch_training_runs(tracking_uri, EXPERIMENT), None)
    history = runs.validation_history(
        metric_history(tracking_uri, list(selection.runs["run_id"]), "val/accuracy"), selection.runs
    )
    assert len(history) == 3 * len(selection.runs)
    assert sorted(history["epoch"].unique()) == [0, 1, 2]
    assert set(history.columns) == {"run_id", "modality", "seed", "epoch", "val_accuracy"}


def test_too_few_finished_runs_is_a_clear_error(tmp_path: Path):
    tracking_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    for seed in range(3):
        write_training_run(tracking_uri, "T1", seed, 0.9, sweep_id="small")
        write_training_run(tracking_uri, "T2", seed, 0.9, sweep_id="small", status="KILLED" if seed else "FINISHED")
    with pytest.raises(UserError, match=r"at least 3 FINISHED runs per modality.*\['T2'\].*status KILLED"):
        select_runs(fetch_training_runs(tracking_uri, EXPERIMENT), "small")
    with pytest.raises(UserError, match=r"\['T1', 'T2'\]"):
        select_runs(fetch_training_runs(tracking_uri, EXPERIMENT), "nope")


def test_an_unknown_experiment_says_where_it_looked(tmp_path: Path):
    tracking_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    with pytest.raises(UserError, match=r"mlflow\.experiment_name="):
        fetch_training_runs(tracking_uri, "no-such-experiment")


def two_designs(tracking_uri: str) -> None:
    """A 4-seed Inception sweep, then a later 3-seed ablation with another backbone and split."""
    for seed in range(4):
        for modality in ("T1", "T2"):
            write_training_run(tracking_uri, modality, seed, 0.9, sweep_id="inception")
    time.sleep(0.01)
    for seed in range(3):
        for modality in ("T1", "T2"):
            write_training_run(
                tracking_uri, modality, seed, 0.8, sweep_id="ablation", backbone="resnet18", split_by="image"
            )


def test_by_default_table_3_rests_on_the_newest_sweep_only_and_says_so(tmp_path: Path, capsys):
    tracking_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    two_designs(tracking_uri)
    report = run_analysis(tmp_path / "analysis", tracking_uri, EXPERIMENT, log_to_mlflow=False)
    assert set(report.selection.runs["model"]) == {"resnet18"} and len(report.selection.runs) == 6
    assert "Newest sweep ablation." in capsys.readouterr().out
    listed = (tmp_path / "analysis" / "runs.csv").read_text()
    assert all(run_id in listed for run_id in report.selection.runs["run_id"])


def test_several_sweeps_of_different_designs_are_refused_naming_the_settings_that_differ(tmp_path: Path):
    tracking_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    two_designs(tracking_uri)
    for sweep_id in ("all", ["inception", "ablation"]):
        with pytest.raises(UserError, match=r"differ in data\.split_by, model\.backbone;"):
            select_runs(fetch_training_runs(tracking_uri, EXPERIMENT), sweep_id)
    assert len(select_runs(fetch_training_runs(tracking_uri, EXPERIMENT), "inception").runs) == 8
    filtered = fetch_training_runs(tracking_uri, EXPERIMENT, {"model.backbone": "inception_resnet_v2"})
    assert len(select_runs(filtered, "all").runs) == 8


def test_the_newest_sweep_takes_the_runs_it_resumed_from_an_earlier_sweep_of_the_same_design(tmp_path: Path, capsys):
    """A resumed sweep logs only the jobs it re-ran; the jobs it skipped keep their runs in the first sweep."""
    tracking_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    for seed in range(2):
        for modality in ("T1", "T2"):
            write_training_run(tracking_uri, modality, seed, 0.9, sweep_id="first")
    time.sleep(0.01)
    for seed in range(2, 4):
        for modality in ("T1", "T2"):
            write_training_run(tracking_uri, modality, seed, 0.9, sweep_id="resumed")
    selection = select_runs(fetch_training_runs(tracking_uri, EXPERIMENT), None)
    assert sorted(selection.runs["seed"].unique()) == [0, 1, 2, 3]
    assert "4 runs of the same design from sweeps ['first']" in selection.summary()


def test_the_cache_keys_and_label_counts_a_run_logs_are_outcomes_not_design_settings() -> None:
    """T1 and T2 runs of one sweep read different cache entries and label different slices: still one design."""
    from lss.tracking import design_keys

    logged = ["data.labels", "data.split_by", "cache.images", "cache.index", "labels.from_csv", "labels.from_rule"]
    assert design_keys([*logged, "split.n_train", "seed", "modality"]) == ["data.labels", "data.split_by"]


def test_runs_of_two_split_schemes_are_refused_and_the_newest_sweep_reuses_no_run_of_the_old_scheme(
    tmp_path: Path,
) -> None:
    """Runs from before split.scheme was logged (scheme 1) tested on other slices than scheme 2 runs of the same
    seeds: one line refuses to pair them, and ``where`` picks one scheme."""
    tracking_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    for seed in range(4):
        for modality in ("T1", "T2"):
            write_training_run(tracking_uri, modality, seed, 0.9, sweep_id="old", split_scheme=None)
    time.sleep(0.01)
    for seed in range(2, 5):
        for modality in ("T1", "T2"):
            write_training_run(tracking_uri, modality, seed, 0.9, sweep_id="new")
    with pytest.raises(UserError, match=r"different split schemes \(scheme 1 \(8 runs\), scheme 2 \(6 runs\);"):
        select_runs(fetch_training_runs(tracking_uri, EXPERIMENT), "all")
    newest = select_runs(fetch_training_runs(tracking_uri, EXPERIMENT), None)
    assert set(newest.runs["sweep_id"]) == {"new"} and sorted(newest.runs["seed"].unique()) == [2, 3, 4]
    chosen = select_runs(fetch_training_runs(tracking_uri, EXPERIMENT, {"split.scheme": 2}), "all")
    assert set(chosen.runs["split_scheme"]) == {"2"}


def test_the_report_prints_the_run_record_and_warns_in_one_line_where_runs_differ(tmp_path: Path) -> None:
    tracking_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    for seed in range(3):
        write_training_run(tracking_uri, "T1", seed, 0.9, record={"device": "NVIDIA H100"})
        write_training_run(tracking_uri, "T2", seed, 0.9)
    summary = select_runs(fetch_training_runs(tracking_uri, EXPERIMENT), None).summary().splitlines()
    assert "Run record: split scheme 2, commit 0123abcd, lss 0.1.0, python 3.11.9, torch 2.14.1" in summary
    assert summary[-1] == "Warning: the compared runs differ in device (AMD EPYC in 3, NVIDIA H100 in 3)"
