"""Selecting Mid slices of new studies: a model trained here picks the phantom's Mid band."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pydicom
import pytest

from helpers.selection import predict_config, selection_options
from helpers.training import REPO
from lss.errors import ConfigError, UserError
from lss.selection import load_selector, select_mid_slices, selection_accuracy
from lss.selection.select import MID


def tree_digest(root: Path) -> dict[str, str]:
    """Every file and link under root with a hash of its bytes: any write, new file or removal changes it."""
    digest = {}
    for directory, _, files in os.walk(root):
        for name in files:
            path = Path(directory, name)
            digest[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digest


def test_a_model_trained_on_the_phantom_selects_mid_slices_that_agree_with_its_labels(
    model, new_studies: Path, trained_t1: dict, tmp_path: Path
) -> None:
    result = select_mid_slices(
        model,
        new_studies,
        tmp_path / "out",
        selection_options("mode=none", f"cache_dir={trained_t1['cache_dir']}", "progress=false"),
    )
    accuracy = selection_accuracy(result, new_studies / "labels.csv", band_size=5)
    assert accuracy["n_series"] == 3 and accuracy["n_slices"] == len(result.predictions) > 0
    # chance: all-Lateral scores 0.67 (5 Mid of 15) and a randomly placed band about 0.64
    assert accuracy["accuracy"] >= 0.8 and accuracy["f1"] >= 0.75, accuracy
    assert accuracy["mid_sagittal_chosen"] >= 2 / 3, accuracy
    assert (result.predictions["modality"] == "T1").all()
    assert (result.series.loc[result.series["status"] == "selected", "n_mid"] == 5).all()  # one band of 5 per series


@pytest.mark.parametrize("mode", ["symlink", "copy", "none"])
def test_each_export_mode_mirrors_the_input_layout_and_leaves_the_input_byte_for_byte_unchanged(
    mode: str, model, new_studies: Path, trained_t1: dict, tmp_path: Path
) -> None:
    before = tree_digest(new_studies)
    result = select_mid_slices(
        model,
        new_studies,
        tmp_path / "out",
        selection_options(f"mode={mode}", f"cache_dir={trained_t1['cache_dir']}", "progress=false"),
    )
    assert tree_digest(new_studies) == before
    selected_dir = tmp_path / "out" / "selected"
    chosen = set(result.predictions.loc[result.predictions["label"] == MID, "path"])
    if mode == "none":
        assert not selected_dir.exists() and result.n_selected_files == 0
        return
    exported = {str(path.relative_to(selected_dir)) for path in selected_dir.rglob("*") if not path.is_dir()}
    assert exported == chosen and result.n_selected_files == len(chosen)
    for relative in chosen:
        target = selected_dir / relative
        assert target.is_symlink() == (mode == "symlink")
        assert target.read_bytes() == (new_studies / relative).read_bytes()
        if mode == "symlink":
            assert target.resolve() == (new_studies / relative).resolve()


def test_the_tables_are_written_with_the_documented_columns(
    model, new_studies: Path, trained_t1: dict, tmp_path: Path
) -> None:
    select_mid_slices(
        model,
        new_studies,
        tmp_path,
        selection_options("mode=none", f"cache_dir={trained_t1['cache_dir']}", "progress=false"),
    )
    predictions = pd.read_csv(tmp_path / "predictions.csv")
    assert list(predictions.columns) == [
        "path",
        "series_uid",
        "sop_uid",
        "frame",
        "slice_index",
        "n_slices",
        "slice_location_mm",
        "modality",
        "p_mid",
        "label",
    ]
    assert predictions["p_mid"].between(0, 1).all() and set(predictions["label"]) == {"Mid", "Lateral"}
    series = pd.read_csv(tmp_path / "series.csv")
    assert {"series_uid", "n_mid", "mid_slice_indices", "mid_sop_uids", "confidence", "status"} <= set(series.columns)
    assert series.loc[series["status"] == "selected", "confidence"].between(0.5, 1).all()
    assert (tmp_path / "skipped.csv").is_file()


def test_unreadable_input_files_are_listed_in_skipped_csv_and_the_rest_is_still_scored(
    model, new_studies: Path, trained_t1: dict, tmp_path: Path
) -> None:
    damaged = tmp_path / "damaged"
    shutil.copytree(new_studies, damaged)
    a_dicom = next(path for path in sorted(damaged.rglob("*")) if path.is_file() and path.suffix != ".csv")
    (damaged / "notes.dcm").write_bytes(b"this is not DICOM")
    (damaged / "empty.dcm").write_bytes(b"")
    (damaged / "truncated.dcm").write_bytes(a_dicom.read_bytes()[:300])
    result = select_mid_slices(
        model,
        damaged,
        tmp_path / "out",
        selection_options("mode=none", f"cache_dir={tmp_path / 'cache'}", "progress=false"),
    )
    skipped = pd.read_csv(tmp_path / "out" / "skipped.csv").set_index("path")
    assert {"notes.dcm", "empty.dcm", "truncated.dcm"} <= set(skipped.index)
    assert skipped.loc["empty.dcm", "reason"] == "empty_file"
    assert result.predictions["series_uid"].nunique() == 3


def test_series_of_the_other_modality_are_skipped_with_a_warning_unless_allowed(
    model, new_studies: Path, trained_t1: dict, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="lss.selection"):
        strict = select_mid_slices(
            model,
            new_studies,
            tmp_path / "strict",
            selection_options("mode=none", f"cache_dir={trained_t1['cache_dir']}", "progress=false"),
        )
    assert "3 T2 series" in caplog.text and "allow_modality_mismatch=true" in caplog.text
    skipped_series = strict.series[strict.series["status"] != "selected"]
    assert len(skipped_series) == 3 and set(skipped_series["modality"]) == {"T2"}
    allowed = select_mid_slices(
        model,
        new_studies,
        tmp_path / "allowed",
        selection_options(
            "mode=none", "allow_modality_mismatch=true", f"cache_dir={trained_t1['cache_dir']}", "progress=false"
        ),
    )
    assert set(allowed.predictions["modality"]) == {"T1", "T2"} and (allowed.series["status"] == "selected").all()


def test_the_independent_rule_labels_each_slice_by_its_own_probability(
    model, new_studies: Path, trained_t1: dict, tmp_path: Path
) -> None:
    result = select_mid_slices(
        model,
        new_studies,
        tmp_path,
        selection_options(
            "mode=none", "mid_rule=independent", f"cache_dir={trained_t1['cache_dir']}", "progress=false"
        ),
    )
    assert ((result.predictions["label"] == MID) == (result.predictions["p_mid"] >= 0.5)).all()


def test_predict_py_with_a_run_id_writes_the_selection_and_reports_accuracy_against_labels_csv(
    trained_t1: dict, new_studies: Path, tmp_path: Path
) -> None:
    """The command a user types: the run's logged checkpoint and config, default symlinks and scratch cache."""
    out = tmp_path / "selection"
    command = [
        sys.executable,
        str(REPO / "predict.py"),
        f"run_id={trained_t1['run_id']}",
        f"input={new_studies}",
        f"output={out}",
        f"mlflow.tracking_uri={trained_t1['tracking_uri']}",
        f"hydra.run.dir={tmp_path / 'hydra'}",
        "progress=false",
    ]
    result = subprocess.run(
        command, cwd=tmp_path, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert "against labels.csv: accuracy" in result.stdout
    kept = {"run_config.yaml", "run_split.json"}  # what the run logged beside its checkpoint
    assert {"predictions.csv", "series.csv", "skipped.csv", *kept, "selected", "report.html"} == {
        path.name for path in out.iterdir()
    }
    assert f"review page: {out / 'report.html'}" in result.stdout
    assert "modality: T1" in (out / "run_config.yaml").read_text()
    assert all(path.is_symlink() for path in (out / "selected").rglob("*") if not path.is_dir())
    assert "Key Object Selection" not in result.stdout  # kos=auto: a KOS carries patient attributes, a PACS only


def test_kos_true_writes_one_key_object_selection_per_study_of_a_folder_too(
    model, new_studies: Path, trained_t1: dict, tmp_path: Path
) -> None:
    from lss.selection.key_objects import referenced_sop_instance_uids

    options = selection_options("kos=true", "mode=none", f"cache_dir={trained_t1['cache_dir']}", "progress=false")
    result = select_mid_slices(model, new_studies, tmp_path / "out", options)
    chosen = set(result.predictions.loc[result.predictions["label"] == MID, "sop_uid"])
    referenced = [referenced_sop_instance_uids(pydicom.dcmread(path)) for path in result.key_objects]
    assert len(referenced) == 3 and set().union(*referenced) == chosen and sum(map(len, referenced)) == len(chosen)
    with pytest.raises(ConfigError, match="store=true"):
        select_mid_slices(model, new_studies, tmp_path / "again", selection_options("store=true"))


def test_a_missing_checkpoint_an_unknown_run_and_a_run_without_checkpoint_fail_clearly(
    trained_t1: dict, tmp_path: Path
) -> None:
    from mlflow.tracking import MlflowClient

    from lss import tracking

    with pytest.raises(ConfigError, match=r"checkpoint=.*does not exist"):
        load_selector(checkpoint=tmp_path / "absent.ckpt")
    with pytest.raises(UserError, match="run_id=0123456789abcdef is not a run"):
        load_selector(run_id="0123456789abcdef", tracking_uri=trained_t1["tracking_uri"])
    experiment_id = tracking.ensure_experiment(trained_t1["tracking_uri"], "lss")
    bare_run = MlflowClient(trained_t1["tracking_uri"]).create_run(experiment_id).info.run_id
    with pytest.raises(UserError, match=r"logged no checkpoint.*log_checkpoint=true"):
        load_selector(run_id=bare_run, tracking_uri=trained_t1["tracking_uri"])
    with pytest.raises(ConfigError, match="exactly one of checkpoint=PATH, run_id=MLFLOW_RUN_ID or model_uri="):
        load_selector(checkpoint=trained_t1["checkpoint"], run_id=bare_run)


def test_an_output_inside_the_input_is_refused(model, new_studies: Path) -> None:
    with pytest.raises(ConfigError, match="inside input"):
        select_mid_slices(model, new_studies, new_studies / "selection", selection_options("progress=false"))
    assert not (new_studies / "selection").exists()


def test_a_checkpoint_written_before_calibration_loads_uncalibrated(trained_t1: dict, tmp_path: Path) -> None:
    import torch

    from lss.model.checkpoint import TEMPERATURE_KEY, read_checkpoint

    checkpoint = read_checkpoint(trained_t1["checkpoint"])
    assert float(checkpoint["state_dict"].pop(TEMPERATURE_KEY)) != 1.0
    torch.save(checkpoint, tmp_path / "before_calibration.ckpt")
    assert float(load_selector(checkpoint=tmp_path / "before_calibration.ckpt").temperature) == 1.0


def test_predict_measures_accuracy_against_a_per_series_labels_file_with_the_configured_band_size(
    trained_t1: dict, new_studies: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """index.band_size=3 selects bands of 3 and widens each labelled mid slice into a reference band of 3, not 5."""
    from lss.selection.predict import predict

    studies = tmp_path / "studies"
    shutil.copytree(new_studies, studies)
    truth = pd.read_csv(studies / "series_truth.csv")
    truth[["series_instance_uid", "mid_sop_instance_uid"]].to_csv(studies / "labels.csv", index=False)
    cfg = predict_config(
        f"checkpoint={trained_t1['checkpoint']}",
        f"input={studies}",
        f"output={tmp_path / 'out'}",
        "index.band_size=3",
        "mode=none",
        "progress=false",
    )
    result = predict(cfg)
    assert (result.series.loc[result.series["status"] == "selected", "n_mid"] == 3).all()
    band_of_3, band_of_5 = (selection_accuracy(result, studies / "labels.csv", band_size) for band_size in (3, 5))
    printed = capsys.readouterr().out
    assert f"accuracy {band_of_3['accuracy']:.3f}, F1 {band_of_3['f1']:.3f}" in printed
    assert f"accuracy {band_of_5['accuracy']:.3f}, F1 {band_of_5['f1']:.3f}" not in printed


def predict_py_error(args: list[str], cwd: Path) -> str:
    """Run predict.py as a user does; it must end with one ``Error:`` line and exit 1, never a traceback."""
    command = [sys.executable, str(REPO / "predict.py"), *args, f"hydra.run.dir={cwd / 'hydra'}", "progress=false"]
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-4000:]
    assert "Traceback" not in result.stdout + result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: ")
    return last


def test_predict_py_refuses_an_output_inside_the_input_before_writing_anything(
    trained_t1: dict, new_studies: Path, tmp_path: Path
) -> None:
    """Issue 21: with run_id=, run_config.yaml used to land inside the input before the refusal."""
    before = tree_digest(new_studies)
    line = predict_py_error(
        [
            f"run_id={trained_t1['run_id']}",
            f"mlflow.tracking_uri={trained_t1['tracking_uri']}",
            f"input={new_studies}",
            f"output={new_studies / 'selection'}",
        ],
        tmp_path,
    )
    assert "inside input" in line
    assert tree_digest(new_studies) == before and not (new_studies / "selection").exists()


def test_predict_py_ends_bad_inputs_and_a_garbage_checkpoint_in_one_line(trained_t1: dict, tmp_path: Path) -> None:
    checkpoint = f"checkpoint={trained_t1['checkpoint']}"
    out = f"output={tmp_path / 'out'}"
    (tmp_path / "empty").mkdir()
    assert "input= is not set" in predict_py_error([checkpoint, out], tmp_path)
    assert "holds no files" in predict_py_error([checkpoint, f"input={tmp_path / 'empty'}", out], tmp_path)
    not_dicom = tmp_path / "notes"
    not_dicom.mkdir()
    (not_dicom / "readme.txt").write_text("no images here\n")
    (not_dicom / "scan.dcm").write_bytes(b"\0" * 300)
    line = predict_py_error([checkpoint, f"input={not_dicom}", out], tmp_path)
    assert "holds no sagittal DICOM slice (2 not_dicom)" in line
    garbage = tmp_path / "garbage.ckpt"
    garbage.write_bytes(b"this is not a checkpoint" * 100)
    line = predict_py_error([f"checkpoint={garbage}", f"input={not_dicom}", out], tmp_path)
    assert f"checkpoint={garbage} is not a checkpoint train.py wrote" in line
