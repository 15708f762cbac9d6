"""A local PACS: Orthanc with its DICOMweb plugin on a free loopback port, storage in a folder of ours.

``make demo PACS=1`` and the tests run one. Debian's ``orthanc`` and ``orthanc-dicomweb`` packages (.ci/run
installs them); where they are missing the demo stops with one line and the tests that need a PACS skip with
that line as their reason (``ORTHANC_MISSING``).
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lss.errors import UserError

ORTHANC = "Orthanc"
DICOMWEB_PLUGINS = (
    Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so"),
    Path("/usr/lib/orthanc/libOrthancDicomWeb.so"),
)
ORTHANC_MISSING = "Orthanc with its DICOMweb plugin is not installed (apt-get install orthanc orthanc-dicomweb)"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def dicomweb_plugin() -> Path | None:
    """The plugin's shared library, None when Orthanc or the plugin is not installed."""
    if shutil.which(ORTHANC) is None:
        return None
    return next((plugin for plugin in DICOMWEB_PLUGINS if plugin.is_file()), None)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except (urllib.error.URLError, OSError):
        return False


@contextmanager
def orthanc(folder: Path, timeout_s: float = 60) -> Iterator[str]:
    """Run Orthanc (DICOMweb at /dicom-web/, no authentication, no DICOM network port) until the block ends;
    yield its DICOMweb root as a ``dicomweb://`` URL."""
    plugin = dicomweb_plugin()
    if plugin is None:
        raise UserError(ORTHANC_MISSING)
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = {
        "Name": "lss",
        "StorageDirectory": str(folder / "storage"),
        "IndexDirectory": str(folder / "storage"),
        "HttpPort": port,
        "DicomServerEnabled": False,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "HttpTimeout": 30,
        "Plugins": [str(plugin)],
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/", "StudiesMetadata": "Full", "SeriesMetadata": "Full"},
    }
    (folder / "orthanc.json").write_text(json.dumps(config))
    log = (folder / "orthanc.log").open("w")
    process = subprocess.Popen(
        [ORTHANC, str(folder / "orthanc.json")], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + timeout_s
        while not _answers(f"http://127.0.0.1:{port}/system"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise UserError(f"Orthanc did not start:\n{(folder / 'orthanc.log').read_text()[-3000:]}")
            time.sleep(0.2)
        yield f"dicomweb://127.0.0.1:{port}/dicom-web"
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def upload(url: str, folder: Path) -> int:
    """STOW-RS every DICOM file under ``folder`` (the phantom's CSV files and stamp stay behind); return the count."""
    from lss.dicom.dicomweb import DicomWebSource, store

    files = [path for path in sorted(folder.rglob("*")) if path.is_file() and path.suffix != ".csv"]
    files = [path for path in files if not path.name.startswith(".")]
    store(DicomWebSource(url), files)
    return len(files)
