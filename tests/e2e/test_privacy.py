"""No patient identifier reaches MLflow or any output; patient_key is a keyed one-way hash; the UI is local.

The pipeline runs on a phantom whose PatientName, PatientID and PatientBirthDate are distinctive
strings, then every byte lss wrote (MLflow's SQLite file, its artifacts, index, cache, job folders,
analysis, predictions) is searched for them. Text drawn into PNG pixels cannot be found this way;
no lss figure draws patient attributes (montages show n·p, run figures show metrics).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from helpers.phantom import PATIENT_MARKER
from helpers.training import finished_runs, run_script
from lss.dicom.privacy import PATIENT_KEY_ENV, PATIENT_KEY_HEX_DIGITS, load_patient_secret, patient_key
from lss.phantom.identity import MARKED_BIRTH_DATE

MARKER = PATIENT_MARKER  # PatientName f"{MARKER}^P{i}", PatientID f"{MARKER}{i:04d}"
SECRET = "privacy-test-secret"
N_PATIENTS = 8  # the session phantom's
IDENTIFIERS = (MARKER, f"{MARKER}0000", f"{MARKER}^P0", MARKED_BIRTH_DATE, "1901-02-03")


def identifier_hits(root: Path) -> dict[str, list[str]]:
    """Files under root whose name or bytes contain a patient identifier (case-insensitive); links are not followed."""
    needles = {identifier: identifier.lower().encode() for identifier in IDENTIFIERS}
    hits: dict[str, list[str]] = {}
    for directory, subdirs, files in os.walk(root):
        for name in [*subdirs, *files]:
            path = Path(directory, name)
            content = str(path.relative_to(root)).lower().encode()
            if name in files and not path.is_symlink():
                content += b"\0" + path.read_bytes().lower()
            found = [identifier for identifier, needle in needles.items() if needle in content]
            if found:
                hits[str(path.relative_to(root))] = found
    return hits


@pytest.fixture(scope="module")
def marked_phantom(phantom_dir: Path) -> Path:
    """The session phantom: written with identity_marker=MARKER (tests/conftest.py)."""
    return phantom_dir


@pytest.fixture(scope="module")
def pipeline_outputs(marked_phantom: Path, tiny_sweep: dict, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """index (montages) -> the session's real sweep -> analysis -> predict; every folder lss wrote into."""
    from lss.analysis.report import run_analysis
    from lss.dicom.index import index_repository

    outputs = tmp_path_factory.mktemp("privacy") / "outputs"
    tracking_uri = tiny_sweep["tracking_uri"]
    index_repository(
        marked_phantom, outputs / "index", labels_csv=marked_phantom / "labels.csv", progress=False, montage=True
    )
    run_analysis(outputs / "analysis", tracking_uri, "lss")
    run_id = finished_runs(tracking_uri).query("`params.modality` == 'T1'")["run_id"].iloc[0]
    run_script(
        "predict.py",
        [
            f"run_id={run_id}",
            f"input={marked_phantom}",
            f"output={outputs / 'predict'}",
            f"mlflow.tracking_uri={tracking_uri}",
            "mode=symlink",
            "progress=false",
            f"hydra.run.dir={outputs / 'predict_job'}",
        ],
        cwd=outputs.parent,
    )
    return [outputs, Path(tiny_sweep["workdir"])]


def test_the_search_finds_the_identifiers_where_they_are(marked_phantom: Path) -> None:
    """The phantom itself carries every identifier as plain header bytes: the search below is not blind."""
    found = {needle for needles in identifier_hits(marked_phantom).values() for needle in needles}
    assert found >= {MARKER, f"{MARKER}0000", f"{MARKER}^P0", MARKED_BIRTH_DATE}


@pytest.mark.slow
def test_index_sweep_and_analysis_write_no_patient_identifier(pipeline_outputs: list[Path]) -> None:
    outputs, sweep = pipeline_outputs
    assert (sweep / "mlflow.db").is_file() and any((sweep / "mlartifacts").rglob("*.ckpt"))
    assert (outputs / "analysis").is_dir() and (outputs / "index" / "manifest.csv").is_file()
    assert len(finished_runs(f"sqlite:///{sweep / 'mlflow.db'}")) == 6  # one training run per (modality, seed)
    assert identifier_hits(outputs) == {} and identifier_hits(sweep) == {}


@pytest.mark.slow
def test_prediction_writes_no_patient_identifier(pipeline_outputs: list[Path]) -> None:
    assert (pipeline_outputs[0] / "predict").is_dir()
    assert identifier_hits(pipeline_outputs[0] / "predict") == {}


def test_the_manifest_carries_the_keyed_hash_of_each_patient_id_and_never_the_id(
    marked_phantom: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lss.dicom.index import index_repository

    monkeypatch.setenv(PATIENT_KEY_ENV, SECRET)
    manifest = index_repository(marked_phantom, progress=False).manifest
    expected = {patient_key(f"{MARKER}{index:04d}", SECRET.encode()) for index in range(N_PATIENTS)}
    assert set(manifest["patient_key"]) == expected


def test_patient_key_is_keyed_stable_and_not_the_raw_id() -> None:
    patient_id = "12345678"
    key = patient_key(patient_id, b"hospital-secret")
    assert key == patient_key(patient_id, b"hospital-secret")  # stable: same splits run after run
    assert key != patient_key(
        patient_id, b"another-secret"
    )  # keyed: without the secret, IDs cannot be tried one by one
    assert key != patient_key("12345679", b"hospital-secret")
    assert len(key) == PATIENT_KEY_HEX_DIGITS and int(key, 16) >= 0 and patient_id not in key
    assert patient_key("", b"hospital-secret") == ""  # no PatientID: no key, not a hash of nothing


def test_the_secret_is_created_once_private_and_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PATIENT_KEY_ENV, raising=False)
    secret_file = tmp_path / "lss" / "patient_key.secret"
    first = load_patient_secret(secret_file)
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600 and len(first) >= 32
    assert load_patient_secret(secret_file) == first
    monkeypatch.setenv(PATIENT_KEY_ENV, "from-the-environment")
    assert load_patient_secret(secret_file) == b"from-the-environment"


def test_the_mlflow_ui_listens_on_loopback_unless_told_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    from lss.tracking import ui
    from lss.tracking.__main__ import main

    commands: list[list[str]] = []
    monkeypatch.setattr(ui.subprocess, "run", lambda command, **kwargs: commands.append(command))
    main(["ui", "--tracking-uri", "sqlite:///outputs/mlflow.db"])
    main(["ui", "--tracking-uri", "sqlite:///outputs/mlflow.db", "--host", "0.0.0.0"])
    hosts = [command[command.index("--host") + 1] for command in commands]
    assert hosts == ["127.0.0.1", "0.0.0.0"]
