"""User errors end as one clear last line and a non-zero exit, never a traceback (unless HYDRA_FULL_ERROR=1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.training import REPO, finished_runs, run_script, tiny_overrides


def last_line_error(script: str, args: list[str], env: dict[str, str] | None = None) -> str:
    result = run_script(script, args, check=False, timeout=300, env=env)
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-4000:]
    assert "Traceback" not in result.stdout + result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: ")
    return last


def test_train_py_refuses_a_missing_root_and_a_missing_labels_file_in_one_line(
    phantom_dir: Path, tmp_path: Path
) -> None:
    assert "Error: data.root=/no/such/root does not exist" in last_line_error(
        "train.py", [*tiny_overrides(phantom_dir, tmp_path), "data.root=/no/such/root"]
    )
    assert "Error: data.labels=/no/labels.csv does not exist" in last_line_error(
        "train.py", [*tiny_overrides(phantom_dir, tmp_path), "data.labels=/no/labels.csv"]
    )
    assert finished_runs(f"sqlite:///{tmp_path / 'mlflow.db'}").empty  # refused before a run was opened


def test_missing_imagenet_weights_end_in_one_line_naming_model_weights(phantom_dir: Path, tmp_path: Path) -> None:
    line = last_line_error(
        "train.py", [*tiny_overrides(phantom_dir, tmp_path), "model=inception_resnet_v2", "model.pretrained=true"]
    )
    assert "model.weights=" in line and "model.pretrained=false" in line


def test_a_split_without_a_class_fails_its_run_with_the_reason_as_a_tag(phantom_dir: Path, tmp_path: Path) -> None:
    line = last_line_error("train.py", [*tiny_overrides(phantom_dir, tmp_path), "data.val_fraction=0"])
    assert "the val split" in line and "data.val_fraction" in line
    runs = finished_runs(f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert list(runs["status"]) == ["FAILED"]
    assert line == f"Error: {runs['tags.lss.error'].iloc[0]}"


def test_hydra_full_error_keeps_the_traceback(phantom_dir: Path, tmp_path: Path) -> None:
    result = run_script(
        "train.py",
        [*tiny_overrides(phantom_dir, tmp_path), "data.root=/no/such/root"],
        check=False,
        env={"HYDRA_FULL_ERROR": "1"},
    )
    assert result.returncode != 0 and "Traceback" in result.stderr and "ConfigError" in result.stderr


@pytest.mark.parametrize(
    ("script", "args", "expected"),
    [
        (
            "predict.py",
            ["checkpoint=/no/model.ckpt", "input={repo}/conf", "output={tmp}/out"],
            "checkpoint=/no/model.ckpt does not exist",
        ),
        (
            "analyze.py",
            ["mlflow.tracking_uri=sqlite:///{tmp}/empty.db", "mlflow.experiment_name=none"],
            "expected an MLflow experiment 'none'",
        ),
    ],
)
def test_predict_and_analyze_end_user_errors_in_one_line(
    script: str, args: list[str], expected: str, tmp_path: Path
) -> None:
    args = [arg.format(tmp=tmp_path, repo=REPO) for arg in args] + [f"hydra.run.dir={tmp_path / 'hydra'}"]
    assert expected in last_line_error(script, args)


def test_a_labels_csv_that_matches_no_slice_or_has_the_wrong_columns_is_refused_in_one_line(
    phantom_dir: Path, tmp_path: Path
) -> None:
    """Issue 21: unknown UIDs used to be replaced by the centre rule silently, wrong columns ended in a traceback."""
    unknown = tmp_path / "unknown.csv"
    unknown.write_text("sop_instance_uid,label\n9.9.9.1,Mid\n9.9.9.2,Lateral\n")
    line = last_line_error("train.py", [*tiny_overrides(phantom_dir, tmp_path), f"data.labels={unknown}"])
    assert f"Error: data.labels={unknown} labels none of the" in line and "T1 slices" in line
    columns = tmp_path / "columns.csv"
    columns.write_text("uid,class\n9.9.9.1,Mid\n")
    line = last_line_error("train.py", [*tiny_overrides(phantom_dir, tmp_path), f"data.labels={columns}"])
    assert "expected sop_instance_uid,label (per slice) or series_instance_uid,mid_sop_instance_uid" in line
    assert finished_runs(f"sqlite:///{tmp_path / 'mlflow.db'}").empty  # refused before a run was opened


def test_lss_version_is_the_package_version_the_citation_and_the_wheel_carry(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import tomllib

    import yaml

    from lss import __version__
    from lss.__main__ import main

    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0 and capsys.readouterr().out.strip() == f"lss {__version__}"
    assert yaml.safe_load((REPO / "CITATION.cff").read_text())["version"] == __version__
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert project["project"]["scripts"]["lss"] == "lss.__main__:main"
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "lss.__version__"}
    assert "Apache License" in (REPO / "LICENSE").read_text() and project["project"]["license"] == "Apache-2.0"
