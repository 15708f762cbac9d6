"""Indexing speed against a bare header loop, measured in the same run, and how fast lss-index starts.

The baseline is the 10-line loop a user would write: ``pydicom.dcmread(path, stop_before_pixels=True,
specific_tags=[...])`` over every file, in one process. The indexer is timed as ``lss-index``, a whole
process as a user runs it (start-up, walk, reading, series, labels, summary, CSV files), and as
``index_repository`` in this process. On 2 cores the limit is two bare loops side by side (2x); the
target is 1.6x. Repositories: the phantom; the same files with scanner-like headers (a Siemens-like
private CSA block of 40 KB, a referenced-image sequence of undefined length, a character set and the
descriptive elements a scanner writes); the real lumbar set (485 files: only in-process, start-up
would dominate a whole process).

    .venv/bin/python benchmarks/index_speed.py
    .venv/bin/python benchmarks/index_speed.py --repository /data/dicom

Targets: lss-index >= 1.6 x the bare loop; `lss-index --help` and an empty folder <= 0.5 s.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pydicom

from lss.dicom.headers import HEADER_TAGS
from lss.dicom.index import index_repository
from lss.dicom.walk import walk_repository
from support import REPO, benchmark_phantom, print_table

PHANTOM_PATIENTS = 160
"""About 5,300 files: sagittal T1 and T2 of 15 slices per patient, an axial series in about one in four."""
REAL_LUMBAR = (REPO / ".." / "shared" / "data" / "real-lumbar").resolve()
TARGET_RATIO, TARGET_START_S = 1.6, 0.5
LSS_INDEX = [sys.executable, "-m", "lss.index_cli"]


def bare_loop_s(files: list[Path]) -> float:
    """Seconds for the bare single-process header loop (non-DICOM files cost a failed parse, as when indexing)."""
    started = time.perf_counter()
    for path in files:
        with contextlib.suppress(Exception):  # labels.csv and the like: the loop a user writes swallows them too
            pydicom.dcmread(path, stop_before_pixels=True, specific_tags=HEADER_TAGS)
    return time.perf_counter() - started


def command_s(arguments: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(
        [*LSS_INDEX, *arguments], check=True, capture_output=True, env={**os.environ, "PYTHONUNBUFFERED": "1"}
    )
    return time.perf_counter() - started


def best_of(repeats: int, measure: object) -> float:
    return min(measure() for _ in range(repeats))  # type: ignore[operator]


def in_process_s(root: Path, out: Path) -> float:
    started = time.perf_counter()
    index_repository(root, out_dir=out, progress=False)
    return time.perf_counter() - started


def measure(root: Path, repeats: int, whole_process: bool = True) -> dict[str, float]:
    """Files and seconds of the bare loop, lss-index (whole process) and index_repository: best of ``repeats``."""
    files, _ = walk_repository(root)
    bare_loop_s(files)  # warm the page cache
    with tempfile.TemporaryDirectory(prefix="lss-index-speed-") as out:
        bare = best_of(repeats, lambda: bare_loop_s(files))
        process = best_of(repeats, lambda: command_s(["--root", str(root), "--out", out, "--no-progress"]))
        in_process = best_of(repeats, lambda: in_process_s(root, Path(out)))
    return {
        "files": len(files),
        "bare_s": bare,
        "process_s": process if whole_process else float("nan"),
        "in_process_s": in_process,
    }


def scanner_like(root: Path) -> Path:
    """The phantom's files with the header bulk real scanners write, once, beside the phantom in the cache."""
    target = root.with_name(root.name + "_scanner_like")
    if (target / ".complete").exists():
        return target
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    for path in walk_repository(root)[0]:
        destination = target / path.relative_to(root)
        destination.parent.mkdir(parents=True, exist_ok=True)
        try:
            dataset = pydicom.dcmread(path)
        except Exception:  # labels.csv, the stamp: copied as they are
            destination.write_bytes(path.read_bytes())
            continue
        dataset.SpecificCharacterSet = "ISO_IR 100"
        dataset.InstitutionName, dataset.StationName, dataset.ProtocolName = "HOSPITAL", "MRC40001", "t2_tse_sag_384"
        references = []
        for index in range(3):
            item = Dataset()
            item.ReferencedSOPClassUID, item.ReferencedSOPInstanceUID = dataset.SOPClassUID, f"1.2.3.{index}"
            references.append(item)
        dataset.ReferencedImageSequence = Sequence(references)
        dataset["ReferencedImageSequence"].is_undefined_length = True
        block = dataset.private_block(0x0029, "SIEMENS CSA HEADER", create=True)
        block.add_new(0x10, "OB", bytes(12_000))
        block.add_new(0x20, "OB", bytes(28_000))
        dataset.save_as(destination, enforce_file_format=True)
    (target / ".complete").write_text("done")
    return target


def start_up(repeats: int) -> dict[str, float]:
    """Seconds for `lss-index --help` and for an empty folder, whole processes."""
    with tempfile.TemporaryDirectory(prefix="lss-empty-") as empty:
        return {
            "help_s": best_of(repeats, lambda: command_s(["--help"])),
            "empty_s": best_of(repeats, lambda: command_s(["--root", empty, "--out", f"{empty}/out", "--no-progress"])),
        }


def versus(rate: dict[str, float], key: str) -> str:
    return f"{rate[key]:,.0f} ({rate[key] / rate['bare_s']:.2f}x)"


def repositories(given: Path | None) -> list[tuple[str, Path, bool]]:
    """(name, root, time a whole process too) of each repository to measure."""
    if given is not None:
        return [("given", given, True)]
    phantom = benchmark_phantom(PHANTOM_PATIENTS)
    found = [("phantom", phantom, True), ("phantom, scanner-like headers", scanner_like(phantom), True)]
    return found + ([("real lumbar set", REAL_LUMBAR, False)] if REAL_LUMBAR.is_dir() else [])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repository", type=Path, help="time this repository instead of the phantom and the real set")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("LSS_PATIENT_KEY", "benchmark")
    rows = []
    for name, root, whole_process in repositories(args.repository):
        result = measure(root, args.repeats, whole_process)
        rate = {key: result["files"] / result[key] for key in ("bare_s", "process_s", "in_process_s")}

        rows.append(
            (
                f"{name}: {result['files']:,} files",
                f"{rate['bare_s']:,.0f}",
                versus(rate, "process_s") if whole_process else "-",
                versus(rate, "in_process_s"),
                f">= {TARGET_RATIO}x",
            )
        )
    times = start_up(args.repeats)
    print(f"{len(os.sched_getaffinity(0))} cores, load average {os.getloadavg()[0]:.1f} at the end\n")
    print_table(
        ("repository", "bare loop, files/s", "lss-index process, files/s", "index_repository, files/s", "target"), rows
    )
    print()
    print_table(
        ("start-up", "seconds", "target"),
        [
            ("lss-index --help", f"{times['help_s']:.2f}", f"<= {TARGET_START_S}"),
            ("lss-index on an empty folder", f"{times['empty_s']:.2f}", f"<= {TARGET_START_S}"),
        ],
    )


if __name__ == "__main__":
    main()
