"""A wheel built from the repository installs into a fresh venv and runs lss-index, lss-train and lss-predict
from a folder outside the checkout: the configs travel inside the package."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from helpers.training import REPO, finished_runs


def run(command: list[str | Path], cwd: Path) -> str:
    result = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
        env={key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "MLFLOW_TRACKING_URI")},
    )
    assert result.returncode == 0, f"{command}\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
    return result.stdout


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding only the wheel; its dependencies come from this venv's site-packages (offline, fast)."""
    folder = tmp_path_factory.mktemp("wheel")
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", folder, REPO], folder)
    (wheel,) = folder.glob("lss-*.whl")
    venv = folder / "venv"
    run([sys.executable, "-m", "venv", venv], folder)
    python = venv / "bin" / "python"
    site_packages = run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], folder).strip()
    Path(site_packages, "lss_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    run([python, "-m", "pip", "install", "-q", "--no-deps", "--no-index", wheel], folder)
    return venv


@pytest.mark.slow
def test_the_wheel_indexes_trains_and_predicts_a_phantom_outside_the_checkout(
    wheel_venv: Path, phantom_dir: Path, tmp_path: Path
) -> None:
    bin_dir = wheel_venv / "bin"
    imported = run([bin_dir / "python", "-c", "import lss; print(lss.CONF_DIR)"], tmp_path).strip()
    assert imported.startswith(str(wheel_venv)) and Path(imported, "config.yaml").is_file()

    assert "--band-size" in run([bin_dir / "lss-index", "--help"], tmp_path)
    labels = phantom_dir / "labels.csv"
    indexed = run(
        [bin_dir / "lss-index", "--root", phantom_dir, "--out", tmp_path / "index", "--labels", labels], tmp_path
    )
    assert "manifest.csv" in indexed and (tmp_path / "index" / "manifest.csv").is_file()

    assert "train.py: train Mid-vs-Lateral classifiers" in run([bin_dir / "lss-train", "--help"], tmp_path)
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    run(
        [
            bin_dir / "lss-train",
            "experiment=demo",
            f"data.root={phantom_dir}",
            "data.input_size=[32,32]",
            "trainer.max_epochs=1",
            "log_model=false",
            f"mlflow.tracking_uri={store}",
            "hydra.run.dir=train",
        ],
        tmp_path,
    )
    assert list(finished_runs(store)["status"]) == ["FINISHED"]
    assert (tmp_path / "train" / "train.log").is_file()

    checkpoint = tmp_path / "train" / "checkpoints" / "last.ckpt"
    run(
        [
            bin_dir / "lss-predict",
            f"checkpoint={checkpoint}",
            f"input={phantom_dir}",
            f"output={tmp_path / 'selected'}",
            "mode=none",
            "progress=false",
            "hydra.run.dir=predict",
        ],
        tmp_path,
    )
    assert (tmp_path / "selected" / "series.csv").is_file() and (tmp_path / "predict" / "predict.log").is_file()
