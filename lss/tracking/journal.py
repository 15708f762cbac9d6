"""What a run logs, kept on disk until the store has it: a tracking outage never loses a finished result.

Every write of a run (params, metrics, artifacts, the dataset input, the model, the end status) is appended to
``entries.jsonl`` in the run's journal folder (in the job folder), then sent in order; ``sent`` counts what the
store has. When the store is away the job goes on and keeps appending; what is left is sent at the end of the job,
on the next run or by ``python -m lss.tracking sync`` (a pointer in ``mlflow.pending_dir`` says where it is). The end
status is the last entry, so a run is FINISHED in the store only once everything before it arrived, and every file
an entry sends carries its SHA-256: a journal damaged on disk is refused, never sent as a right run.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from mlflow.entities import RunStatus
from mlflow.entities.logged_model_status import LoggedModelStatus

from lss.errors import UserError
from lss.tracking.datasets import log_dataset
from lss.tracking.identity import ERROR_TAG
from lss.tracking.models import log_tested_model
from lss.tracking.runs import log_artifacts, log_metrics, log_params
from lss.tracking.store import client_for, is_store_away, with_retries

log = logging.getLogger(__name__)

HEADER_FILE, ENTRIES_FILE, SENT_FILE, FILES_FOLDER = "run.json", "entries.jsonl", "sent", "files"
RETRY_AFTER_S = 60.0
"""While the store is away, a new entry tries to send again at most this often (the end of the job always tries)."""


class JournalDamaged(UserError):
    """A journal whose entries or files are not what was written: never sent, never counted as a result."""


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(functools.partial(handle.read, 1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def link_or_copy(source: str, target: str) -> None:
    """A hard link where the file system allows it (a checkpoint is not copied), else a copy."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


@dataclass
class Journal:
    """One run's journal folder: ``run.json`` (store, experiment, run id, config hash), the entries, what was sent."""

    folder: Path
    header: dict[str, str]
    away_since: float | None = field(default=None, compare=False)

    @property
    def tracking_uri(self) -> str:
        return self.header["tracking_uri"]

    @property
    def run_id(self) -> str:
        return self.header["run_id"]

    @classmethod
    def create(cls, folder: Path, header: dict[str, str]) -> Journal:
        (folder / FILES_FOLDER).mkdir(parents=True, exist_ok=True)
        (folder / HEADER_FILE).write_text(json.dumps(header, indent=1))
        (folder / ENTRIES_FILE).touch()
        return cls(folder, header)

    @classmethod
    def load(cls, folder: Path) -> Journal:
        try:
            return cls(folder, json.loads((folder / HEADER_FILE).read_text()))
        except (OSError, ValueError) as error:
            raise JournalDamaged(f"the tracking journal {folder} has no readable {HEADER_FILE} ({error})") from error

    def entries(self) -> list[dict[str, Any]]:
        try:
            lines = (self.folder / ENTRIES_FILE).read_text().splitlines()
            return [json.loads(line) for line in lines]
        except (OSError, ValueError) as error:
            raise JournalDamaged(f"the tracking journal {self.folder} cannot be read back ({error})") from error

    def sent(self) -> int:
        path = self.folder / SENT_FILE
        return int(path.read_text()) if path.exists() else 0

    def append(self, entry: dict[str, Any]) -> None:
        with (self.folder / ENTRIES_FILE).open("a") as handle:
            handle.write(json.dumps(entry) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def new_file(self, name: str) -> Path:
        """A path in the journal for the next entry's file, under its own name (artifacts keep their names)."""
        path = self.folder / FILES_FOLDER / str(len(self.entries())) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def digests(self, paths: list[Path]) -> dict[str, str]:
        """SHA-256 of each file, by its path in the journal: what ``verify`` checks before sending."""
        return {str(path.relative_to(self.folder)): file_digest(path) for path in paths}

    def keep_files(self, source: Path) -> tuple[str, dict[str, str]]:
        """Snapshot ``source`` (a file or a folder) into the journal: its path there and its files' SHA-256."""
        target = self.new_file(source.name)
        if source.is_dir():
            shutil.copytree(source, target, copy_function=link_or_copy)
            files = sorted(path for path in target.rglob("*") if path.is_file())
        else:
            link_or_copy(str(source), str(target))
            files = [target]
        return str(target.relative_to(self.folder)), self.digests(files)

    def verify(self, entry: dict[str, Any]) -> None:
        for name, expected in entry.get("files", {}).items():
            path = self.folder / name
            if not path.is_file() or file_digest(path) != expected:
                raise JournalDamaged(f"{path} is not the file this job wrote (missing or changed since)")

    def ended(self) -> str | None:
        """The end status the job recorded (FINISHED / FAILED / KILLED), None while it runs or if it died."""
        entries = self.entries()
        return entries[-1]["status"] if entries and entries[-1]["kind"] == "end" else None

    def send(self) -> bool:
        """Send every entry the store does not have yet, in order; False (and the rest kept) when the store is away."""
        entries, start = self.entries(), self.sent()
        for entry in entries[start:]:  # all checked first: nothing of a damaged journal reaches the store
            self.verify(entry)
        for number in range(start, len(entries)):
            try:
                SENDERS[entries[number]["kind"]](self, entries[number])
            except Exception as error:
                if not is_store_away(self.tracking_uri, error):
                    raise
                if self.away_since is None:
                    log.warning(
                        "the tracking store %s is away (%s); run %s is kept in %s and sent when it is back "
                        "(at the end of the job, on the next run, or by: python -m lss.tracking sync)",
                        self.tracking_uri,
                        str(error).splitlines()[0][:200],
                        self.run_id,
                        self.folder,
                    )
                self.away_since = time.monotonic()
                return False
            (self.folder / f"{SENT_FILE}.new").write_text(str(number + 1))
            (self.folder / f"{SENT_FILE}.new").replace(self.folder / SENT_FILE)
        self.away_since = None
        return True

    def submit(self, entry: dict[str, Any]) -> None:
        """Keep ``entry`` on disk, then send what is pending unless the store was away a moment ago."""
        self.append(entry)
        if self.away_since is None or time.monotonic() - self.away_since > RETRY_AFTER_S:
            self.send()


def send_params(journal: Journal, entry: dict[str, Any]) -> None:
    log_params(journal.tracking_uri, journal.run_id, entry["params"])


def send_metrics(journal: Journal, entry: dict[str, Any]) -> None:
    log_metrics(journal.tracking_uri, journal.run_id, entry["metrics"], entry["step"], entry["timestamp_ms"])


def send_artifacts(journal: Journal, entry: dict[str, Any]) -> None:
    log_artifacts(journal.tracking_uri, journal.run_id, journal.folder / entry["path"], entry["artifact_path"])


def send_dataset(journal: Journal, entry: dict[str, Any]) -> None:
    rows = pd.read_pickle(journal.folder / entry["rows"])
    log_dataset(journal.tracking_uri, journal.run_id, rows, entry["source"], entry["name"])


def fail_pending_models(tracking_uri: str, run_id: str) -> list[str]:
    """Mark FAILED the models of ``run_id`` left PENDING by an upload the store never saw end."""
    client = client_for(tracking_uri)
    experiment = client.get_run(run_id).info.experiment_id
    pending = [
        model.model_id
        for model in client.search_logged_models([experiment])
        if model.source_run_id == run_id and model.status == LoggedModelStatus.PENDING
    ]
    for model_id in pending:
        with_retries(functools.partial(client.finalize_logged_model, model_id, LoggedModelStatus.FAILED))
        log.warning("model %s of run %s was left PENDING by an interrupted upload; marked FAILED", model_id, run_id)
    return pending


def send_model(journal: Journal, entry: dict[str, Any]) -> None:
    fail_pending_models(journal.tracking_uri, journal.run_id)
    model = torch.load(journal.folder / entry["model"], map_location="cpu", weights_only=False)  # written by this job
    example = np.load(journal.folder / entry["example"])
    output_shape = tuple(entry.get("output_shape", [2]))  # journals kept before entries said it: the logits'
    log_tested_model(journal.tracking_uri, journal.run_id, model, example, output_shape, entry["register_as"])


def send_end(journal: Journal, entry: dict[str, Any]) -> None:
    client = client_for(journal.tracking_uri)
    if entry["status"] == RunStatus.to_string(RunStatus.FINISHED):
        fail_pending_models(journal.tracking_uri, journal.run_id)
    for key, value in entry["tags"].items():
        with_retries(functools.partial(client.set_tag, journal.run_id, key, value))
    with_retries(functools.partial(client.set_terminated, journal.run_id, entry["status"]))


SENDERS: dict[str, Callable[[Journal, dict[str, Any]], None]] = {
    "params": send_params,
    "metrics": send_metrics,
    "artifacts": send_artifacts,
    "dataset": send_dataset,
    "model": send_model,
    "end": send_end,
}


@dataclass
class TrackedRun:
    """A run being written: every call is kept in the journal first, then sent (``Journal``)."""

    journal: Journal

    @property
    def run_id(self) -> str:
        return self.journal.run_id

    def log_params(self, params: dict[str, Any]) -> None:
        self.journal.submit({"kind": "params", "params": {key: str(value) for key, value in params.items()}})

    def log_metrics(self, metrics: dict[str, float], step: int = 0) -> None:
        floats = {key: float(value) for key, value in metrics.items()}
        self.journal.submit(
            {"kind": "metrics", "metrics": floats, "step": int(step), "timestamp_ms": int(time.time() * 1000)}
        )

    def log_artifacts(self, path: Path, artifact_path: str | None = None) -> None:
        """A file, or every file of a folder, under ``artifact_path`` of the run."""
        kept, files = self.journal.keep_files(Path(path))
        self.journal.submit({"kind": "artifacts", "path": kept, "artifact_path": artifact_path, "files": files})

    def log_dataset(self, rows: pd.DataFrame, source: str, name: str) -> None:
        """The manifest rows a run trained on, as its dataset input (``lss.tracking.datasets``)."""
        path = self.journal.new_file("dataset.pkl")
        rows.to_pickle(path)
        files = self.journal.digests([path])
        entry = {"kind": "dataset", "rows": next(iter(files)), "source": source, "name": name, "files": files}
        self.journal.submit(entry)

    def log_model(
        self,
        model: torch.nn.Module,
        input_example: np.ndarray,
        output_shape: tuple[int, ...],
        register_as: str | None,
    ) -> None:
        """The tested network as an MLflow model (``lss.tracking.models``); ``output_shape`` per input image."""
        model_path, example_path = self.journal.new_file("model.pt"), self.journal.new_file("example.npy")
        torch.save(model, model_path)
        np.save(example_path, input_example)
        files = self.journal.digests([model_path, example_path])
        model_file, example_file = files
        self.journal.submit(
            {
                "kind": "model",
                "model": model_file,
                "example": example_file,
                "output_shape": list(output_shape),
                "register_as": register_as,
                "files": files,
            }
        )

    def end(self, status: int, tags: dict[str, str]) -> None:
        """``status``: a ``RunStatus`` (FINISHED, FAILED, KILLED), sent after every entry before it."""
        self.journal.submit({"kind": "end", "status": RunStatus.to_string(status), "tags": tags})


def error_tags(error: BaseException) -> dict[str, str]:
    return {ERROR_TAG: (str(error) or type(error).__name__)[:5000]}


def pending_journals(pending_dir: Path) -> Iterator[tuple[Path, Journal | None]]:
    """(pointer file, its journal or None when it cannot be read) for every run not yet fully in a store."""
    for pointer in sorted(pending_dir.glob("*.json")) if pending_dir.is_dir() else []:
        try:
            folder = Path(json.loads(pointer.read_text())["journal"])
            yield pointer, Journal.load(folder)
        except (OSError, ValueError, KeyError, JournalDamaged) as error:
            log.warning("pending tracking journal %s cannot be read (%s); left alone", pointer, error)
            yield pointer, None


def keep_pending(journal: Journal, pending_dir: Path) -> Path:
    pending_dir.mkdir(parents=True, exist_ok=True)
    pointer = pending_dir / f"{journal.run_id}.json"
    pointer.write_text(json.dumps({"journal": str(journal.folder.resolve())}))
    return pointer


def close_journal(journal: Journal, pointer: Path) -> None:
    """Everything arrived: forget the pointer and the journal's copies (the job folder keeps its own files)."""
    pointer.unlink(missing_ok=True)
    shutil.rmtree(journal.folder, ignore_errors=True)


def send_pending(tracking_uri: str, pending_dir: Path) -> int:
    """Send what earlier jobs kept for this store; return how many runs are still pending. A damaged journal is
    not sent: its run ends FAILED, naming the journal, and is retrained by the next sweep."""
    left = 0
    for pointer, journal in pending_journals(pending_dir):
        if journal is None or journal.tracking_uri != tracking_uri or journal.ended() is None:
            left += journal is not None and journal.tracking_uri == tracking_uri
            continue
        try:
            sent = journal.send()
        except JournalDamaged as damage:
            log.warning("%s; run %s is marked FAILED and will be retrained", damage, journal.run_id)
            send_end(journal, {"status": RunStatus.to_string(RunStatus.FAILED), "tags": error_tags(damage)})
            close_journal(journal, pointer)
            continue
        if sent:
            log.info("run %s, kept on disk during a tracking outage, is now in %s", journal.run_id, tracking_uri)
            close_journal(journal, pointer)
        else:
            left += 1
    return left


def finished_on_disk(tracking_uri: str, pending_dir: Path, experiment_name: str, digest: str) -> str | None:
    """A run of this config that FINISHED but is not yet in the store (kept during an outage), with every file
    intact: resume counts it as done."""
    for _, journal in pending_journals(pending_dir):
        if (
            journal is not None
            and journal.tracking_uri == tracking_uri
            and journal.header.get("experiment_name") == experiment_name
            and journal.header.get("config_hash") == digest
        ):
            try:
                if journal.ended() == RunStatus.to_string(RunStatus.FINISHED):
                    for entry in journal.entries():
                        journal.verify(entry)
                    return journal.run_id
            except JournalDamaged as damage:
                log.warning("%s; not counted as a finished run", damage)
    return None
