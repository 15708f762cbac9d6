"""SIGTERM (a SLURM time limit, ``kill``) and SIGINT (Ctrl+C) end the run KILLED, stop the sweep with a non-zero
exit, and leave a sweep that ``resume=true`` finishes."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from helpers.training import finished_runs, run_train, start_train, tiny_overrides, wait_for_run_state
from lss.entry import signals_interrupt
from lss.errors import Interrupted
from lss.tracking.jobs import claimed_run


def interrupt_first_job(args: list[str], workdir: Path, signal_number: int) -> tuple[int, str]:
    """Start ``train.py ARGS``, send ``signal_number`` to its process group once job 0 is RUNNING; (exit, output)."""
    sweep = start_train(args, workdir / "interrupted.log", cwd=workdir)
    try:
        wait_for_run_state(workdir / "mlflow.db", sweep, ("RUNNING", "0"))
        os.killpg(sweep.pid, signal_number)
        code = sweep.wait(timeout=300)
    finally:
        if sweep.poll() is None:
            os.killpg(sweep.pid, signal.SIGKILL)
            sweep.wait()
    return code, (workdir / "interrupted.log").read_text()


@pytest.mark.slow
def test_sigterm_ends_the_run_killed_stops_the_sweep_and_resume_finishes_it(phantom_dir: Path, tmp_path: Path) -> None:
    """Before: the run ended FAILED (lss.error "SIGTERMException"), the sweep exited 0, job 1 never ran."""
    args = ["-m", "seed=0,1", *tiny_overrides(phantom_dir, tmp_path)]
    code, output = interrupt_first_job(args, tmp_path, signal.SIGTERM)
    assert code == 128 + signal.SIGTERM, output[-3000:]
    assert output.strip().splitlines()[-1].startswith("Error: interrupted by SIGTERM")
    tracking_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    killed = finished_runs(tracking_uri)
    assert list(killed["status"]) == ["KILLED"] and list(killed["tags.lss.interrupted"]) == ["SIGTERM"]
    assert "tags.lss.error" not in killed.columns  # not taken for a failure of the job

    run_train(args, cwd=tmp_path)  # what a requeued SLURM job does: the same command, resume=true
    runs = finished_runs(tracking_uri)
    assert sorted(runs["status"]) == ["FINISHED", "FINISHED", "KILLED"]
    assert sorted(runs.loc[runs["status"] == "FINISHED", "params.seed"]) == ["0", "1"]


@pytest.mark.slow
def test_sigint_ends_the_run_killed_with_exit_130(phantom_dir: Path, tmp_path: Path) -> None:
    """Before: FAILED with lss.error="1" (Lightning's sys.exit(1) on KeyboardInterrupt)."""
    code, output = interrupt_first_job(tiny_overrides(phantom_dir, tmp_path), tmp_path, signal.SIGINT)
    assert code == 128 + signal.SIGINT, output[-3000:]
    runs = finished_runs(f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert list(runs["status"]) == ["KILLED"] and list(runs["tags.lss.interrupted"]) == ["SIGINT"]


class SignalledOnCollection:
    """Sends SIGINT to this process from ``__del__``, whose exceptions Python prints and ignores: where a signal
    lands in an at-fork hook (a DataLoader worker starting) or a finaliser."""

    def __del__(self) -> None:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)  # the handler runs here, inside __del__


def signalled_job(uri: str, started: list[str]) -> None:
    """One job that gets SIGINT inside a finaliser and carries on; ``started`` receives its run id."""
    with signals_interrupt(), claimed_run(uri, "lss", "T1-seed0", {}, {"seed": 0}) as run:
        assert run is not None
        started.append(run.run_id)
        SignalledOnCollection()  # created and collected at once; the job goes on after the swallowed raise


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_signal_whose_exception_a_finaliser_swallowed_still_ends_the_run_killed(tmp_path: Path) -> None:
    """Before: SIGINT during a fork left the job running on, the run FINISHED and the sweep exited 0 (seen in CI)."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    started: list[str] = []
    with pytest.raises(Interrupted) as interrupt:
        signalled_job(uri, started)
    assert interrupt.value.exit_code == 128 + signal.SIGINT and Interrupted.received is None
    ended = MlflowClient(uri).get_run(started[0])
    assert ended.info.status == "KILLED" and ended.data.tags["lss.interrupted"] == "SIGINT"


def test_a_signal_during_the_claim_ends_the_new_run_killed_whichever_thread_the_os_gave_it_to(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: SIGTERM while the run was being created, with another thread alive (as MLflow and Lightning start
    them), reached Python at once despite the main thread's signal mask: run RUNNING, no journal (seen in a suite)."""
    from lss.tracking import jobs

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    created: list[str] = []
    create_run = jobs.create_run

    def create_then_get_signalled(*args: object, **kwargs: object) -> tuple[str, bool]:
        result = create_run(*args, **kwargs)
        created.append(result[0])
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.05)  # a handler that is not held acts here, before the run has a journal
        return result

    monkeypatch.setattr(jobs, "create_run", create_then_get_signalled)
    bystander = threading.Event()
    thread = threading.Thread(target=bystander.wait, daemon=True)  # a thread that does not block SIGTERM
    thread.start()
    try:
        with pytest.raises(Interrupted), signals_interrupt(), claimed_run(uri, "lss", "T1-seed0", {}, {"seed": 0}):
            pytest.fail("the job body must not run after a signal held during the claim")
    finally:
        bystander.set()
    ended = MlflowClient(uri).get_run(created[0])
    assert ended.info.status == "KILLED" and ended.data.tags["lss.interrupted"] == "SIGTERM"
