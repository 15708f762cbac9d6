"""`lss-phantom`: write a phantom DICOM repository for tests, demos and benchmarks, or a replica of a public dataset."""

import argparse
import time
from pathlib import Path

from lss.phantom.replicas import REPLICAS
from lss.phantom.writer import write_phantom

PHANTOM_LAYOUT = "dicom"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="lss-phantom", description=__doc__.split(": ", 1)[1])
    parser.add_argument("--out", type=Path, required=True, help="empty or new directory to write into")
    parser.add_argument("--patients", type=int, required=True, help="number of patients (one study each)")
    parser.add_argument("--seed", type=int, required=True, help="same seed, byte-identical files")
    parser.add_argument(
        "--slices", type=int, default=15, help="slices per sagittal series (default 15, as in the paper's Fig. 2)"
    )
    parser.add_argument(
        "--identity-marker", default=None, help="put this string into PatientName and PatientID (privacy tests)"
    )
    parser.add_argument(
        "--layout",
        choices=[PHANTOM_LAYOUT, *REPLICAS],
        default=PHANTOM_LAYOUT,
        help="dicom: the phantom repository with labels.csv (default); rsna2024, spider, mendeley: a small replica "
        "of that dataset's layout and annotations (15 slices, no identity marker)",
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    if args.layout != PHANTOM_LAYOUT:
        replica = REPLICAS[args.layout](args.out, args.patients, args.seed)
        print(
            f"wrote a {args.layout} replica ({len(replica.expected)} sagittal series) for {args.patients} patients "
            f"to {replica.root} in {time.perf_counter() - started:.1f} s"
        )
        return
    result = write_phantom(args.out, args.patients, args.seed, args.slices, args.identity_marker, progress=True)
    seconds = time.perf_counter() - started
    n_mid = int((result.labels["label"] == "Mid").sum())
    print(
        f"wrote {result.n_files} files ({len(result.series_truth)} sagittal series, "
        f"{n_mid} Mid / {len(result.labels) - n_mid} Lateral) "
        f"for {args.patients} patients to {result.out_dir} in {seconds:.1f} s ({result.n_files / seconds:.0f} files/s)"
    )
