"""Indexing a PACS over DICOMweb against indexing the same studies from a folder, measured in the same run.

The phantom is uploaded to a local Orthanc (STOW-RS, not timed); then the folder is indexed with
``index_repository`` and the PACS with ``study_metadata`` + ``index_dicomweb`` (QIDO-RS, then the
metadata of each study: no pixel data), best of ``--repeats`` each, in one process. Bytes per
indexed slice are the bodies of the same QIDO-RS and metadata responses, next to the mean file size.
Needs Orthanc with its DICOMweb plugin (apt-get install orthanc orthanc-dicomweb).

    .venv/bin/python benchmarks/pacs_index_speed.py [--patients 40]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import urllib.request
from pathlib import Path

from lss.dicom.dicomweb import STUDY_UID, DicomWebSource, study_metadata
from lss.dicom.index import index_dicomweb, index_repository
from lss.dicom.walk import walk_repository
from lss.orthanc import orthanc, upload
from support import benchmark_phantom, print_table


def best_s(repeats: int, run: object) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return min(times)


def metadata_bytes(source: DicomWebSource) -> int:
    """Body bytes of what the indexer asks for: the study search, then each study's metadata."""

    def body(path: str) -> bytes:
        request = urllib.request.Request(f"{source.http_url}/{path}", headers={"Accept": "application/dicom+json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            return bytes(response.read())

    studies = body("studies?includefield=StudyInstanceUID")
    uids = [study[STUDY_UID]["Value"][0] for study in json.loads(studies)]
    return len(studies) + sum(len(body(f"studies/{uid}/metadata")) for uid in uids)


def measure(patients: int, repeats: int) -> dict[str, float]:
    root = benchmark_phantom(patients)
    files, _ = walk_repository(root)
    with tempfile.TemporaryDirectory(prefix="lss-orthanc-") as scratch, orthanc(Path(scratch)) as url:
        instances = upload(url, root)
        source = DicomWebSource(url)
        folder_s = best_s(repeats, lambda: index_repository(root, progress=False))
        pacs_s = best_s(repeats, lambda: index_dicomweb(study_metadata(source), progress=False))
        slices = len(index_dicomweb(study_metadata(source), progress=False).manifest)
        transferred = metadata_bytes(source)
    dicom_files = [path for path in files if path.suffix != ".csv" and not path.name.startswith(".")]
    return {
        "files": len(files),
        "instances": instances,
        "slices": slices,
        "folder_files_per_s": len(files) / folder_s,
        "pacs_instances_per_s": instances / pacs_s,
        "folder_s": folder_s,
        "pacs_s": pacs_s,
        "bytes_per_slice": transferred / slices,
        "mean_file_bytes": sum(path.stat().st_size for path in dicom_files) / len(dicom_files),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    found = measure(args.patients, args.repeats)
    print_table(
        ["figure", "folder", "DICOMweb (Orthanc, loopback)"],
        [
            ("files (instances) indexed", f"{found['files']:,}", f"{found['instances']:,}"),
            ("seconds, best of repeats", f"{found['folder_s']:.2f}", f"{found['pacs_s']:.2f}"),
            ("files/s", f"{found['folder_files_per_s']:,.0f}", f"{found['pacs_instances_per_s']:,.0f}"),
            (
                "bytes read per indexed slice",
                f"{found['mean_file_bytes']:,.0f} (mean file; headers only are read)",
                f"{found['bytes_per_slice']:,.0f} (metadata JSON)",
            ),
        ],
    )


if __name__ == "__main__":
    main()
