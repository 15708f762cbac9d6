"""A PACS over DICOMweb: QIDO-RS to find studies, WADO-RS for metadata and instances, STOW-RS to store.

A service root is written as every DICOMweb client writes it, ``http(s)://HOST:PORT/PATH``, or as
``dicomweb://HOST:PORT/PATH`` (plain http) and ``dicomwebs://`` (https); both spellings of one service are the same
source (one index entry, one local copy). Credentials come from the environment only
(never a config file, which train.py logs): ``LSS_DICOMWEB_TOKEN`` (a bearer token) or ``LSS_DICOMWEB_USER`` with
``LSS_DICOMWEB_PASSWORD`` (basic auth). A manifest row's ``path`` is the instance's WADO-RS path relative to the
service root (``studies/<uid>/series/<uid>/instances/<uid>``), so a local copy of the instances laid out under the
same paths is a folder the rest of lss reads as it reads any repository.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lss.errors import UserError

if TYPE_CHECKING:
    from dicomweb_client.api import DICOMwebClient
    from pydicom.dataset import Dataset

SCHEMES = {"dicomweb": "http", "dicomwebs": "https", "http": "http", "https": "https"}
"""A DICOMweb URL's scheme -> the scheme of its requests."""
TOKEN_ENV = "LSS_DICOMWEB_TOKEN"
USER_ENV, PASSWORD_ENV = "LSS_DICOMWEB_USER", "LSS_DICOMWEB_PASSWORD"
TIMEOUT_S = (10.0, 120.0)
"""(connect, read): a PACS that does not answer fails the job in seconds, not never."""
REQUEST_THREADS = 4
"""Concurrent WADO-RS requests (metadata, instances): they wait on the network and the PACS, not on our CPU."""
PIXEL_DATA = "7FE00010"
STUDY_UID, SERIES_UID, SOP_UID = "0020000D", "0020000E", "00080018"


def is_dicomweb(location: str | Path) -> bool:
    """Whether ``location`` names a DICOMweb service rather than a folder."""
    return str(location).split("://", 1)[0] in SCHEMES and "://" in str(location)


@dataclass(frozen=True)
class DicomWebSource:
    """A DICOMweb service root, as the user wrote it (``dicomweb://HOST:PORT/PATH``); never holds credentials."""

    url: str

    def __post_init__(self) -> None:
        if not is_dicomweb(self.url):
            raise UserError(
                f"{self.url} is not a DICOMweb URL; write http(s)://HOST:PORT/PATH or dicomweb(s)://HOST:PORT/PATH"
            )
        if "@" in self.url.split("://", 1)[1].split("/", 1)[0]:
            raise UserError(
                "the DICOMweb URL carries credentials, which would be logged; remove them from the URL and set "
                f"{TOKEN_ENV} or {USER_ENV}/{PASSWORD_ENV} instead"
            )

    @property
    def http_url(self) -> str:
        scheme, rest = self.url.split("://", 1)
        return f"{SCHEMES[scheme]}://{rest.rstrip('/')}"

    @property
    def folder_name(self) -> str:
        """A file name for this service (host, port, path; not the spelling of its scheme): where its local copies
        are kept."""
        return re.sub(r"[^A-Za-z0-9.-]+", "_", self.url.split("://", 1)[1]).strip("_")

    def client(self) -> DICOMwebClient:
        import requests
        from dicomweb_client.api import DICOMwebClient

        session = requests.Session()
        session.auth = _basic_auth()
        headers = {"Authorization": f"Bearer {token}"} if (token := _environment(TOKEN_ENV)) else None
        client = DICOMwebClient(self.http_url, session=session, headers=headers, timeout=TIMEOUT_S)
        client.set_http_retry_params(retry=False)  # its default retries a refused connection for 30 s
        return client


def _environment(name: str) -> str | None:
    import os

    return os.environ.get(name) or None


def _basic_auth() -> tuple[str, str] | None:
    user, password = _environment(USER_ENV), _environment(PASSWORD_ENV)
    if (user is None) != (password is None):
        raise UserError(f"set both {USER_ENV} and {PASSWORD_ENV} for basic auth, or neither")
    return (user, password) if user is not None and password is not None else None


@contextmanager
def answering(source: DicomWebSource, doing: str) -> Iterator[None]:
    """Turn a network or HTTP failure into one line naming the service and what to check."""
    import requests

    try:
        yield
    except requests.HTTPError as error:
        status = error.response.status_code if error.response is not None else "?"
        hint = f"; set {TOKEN_ENV} or {USER_ENV}/{PASSWORD_ENV}" if status in (401, 403) else ""
        raise UserError(f"{source.url} answered HTTP {status} while {doing}{hint}") from error
    except requests.RequestException as error:
        raise UserError(f"cannot reach {source.url} while {doing} ({type(error).__name__}); is the PACS up?") from error


def instance_path(instance: dict[str, Any]) -> str:
    """The instance's WADO-RS path relative to the service root: its manifest ``path``."""
    study, series, sop = (_uid(instance, tag) for tag in (STUDY_UID, SERIES_UID, SOP_UID))
    return f"studies/{study}/series/{series}/instances/{sop}"


def _uid(instance: dict[str, Any], tag: str) -> str:
    values = instance.get(tag, {}).get("Value") or [""]
    return str(values[0])


def study_metadata(source: DicomWebSource, studies: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """The DICOM JSON metadata of every instance of ``studies`` (all studies when None), in a stable order.
    Metadata only: Pixel Data comes as a bulk data reference, never as pixels."""
    client = source.client()
    with answering(source, "searching for studies (QIDO-RS)"):
        if studies is None:
            found = client.search_for_studies(fields=["StudyInstanceUID"], get_remaining=True)
            studies = sorted(_uid(study, STUDY_UID) for study in found)

    def metadata(study: str) -> list[dict[str, Any]]:
        with answering(source, f"reading the metadata of study {study} (WADO-RS)"):
            return client.retrieve_study_metadata(study)

    with ThreadPoolExecutor(REQUEST_THREADS) as pool:
        return sorted((instance for found in pool.map(metadata, studies) for instance in found), key=instance_path)


def metadata_dataset(instance: dict[str, Any]) -> tuple[Dataset, bool]:
    """The header elements the indexer reads (lss.dicom.headers.HEADER_TAGS, as from a file) as a pydicom Dataset,
    and whether the instance has Pixel Data. Converting only those is several times faster than the whole."""
    from pydicom.dataset import Dataset

    wanted = {
        tag: element for tag, element in instance.items() if tag in _header_tags() and "BulkDataURI" not in element
    }
    return Dataset.from_json(wanted), PIXEL_DATA in instance


@cache
def _header_tags() -> frozenset[str]:
    from pydicom.datadict import tag_for_keyword

    from lss.dicom.headers import HEADER_TAGS

    return frozenset(f"{tag_for_keyword(keyword):08X}" for keyword in HEADER_TAGS)


def retrieve_instances(source: DicomWebSource, paths: Sequence[str], folder: Path) -> Path:
    """Copies of the instances at ``paths`` (manifest paths) under ``folder``, each retrieved once (WADO-RS) and
    checked on every later call (lss.files.verified_entry); return ``folder``, a root for the manifest's paths."""
    from lss.files import verified_entry

    client = source.client()

    def retrieve(path: str) -> None:
        _, study, _, series, _, sop = path.split("/")

        def write(partial: Path) -> None:
            with answering(source, f"retrieving instance {sop} (WADO-RS)"):
                dataset = client.retrieve_instance(study, series, sop)
            dataset.save_as(partial, enforce_file_format=True)

        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        verified_entry(folder / path, write)

    with ThreadPoolExecutor(REQUEST_THREADS) as pool:
        list(pool.map(retrieve, sorted(set(paths))))
    return folder


def store(source: DicomWebSource, files: Sequence[Path]) -> None:
    """Send the DICOM ``files`` to the PACS (STOW-RS)."""
    import pydicom

    if not files:
        return
    datasets = [pydicom.dcmread(path) for path in files]
    with answering(source, f"storing {len(datasets)} object(s) (STOW-RS)"):
        source.client().store_instances(datasets)
