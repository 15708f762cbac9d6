"""lss-index: index a DICOM repository into manifest.csv, skipped.csv and summary.md (issue 2 §3)."""

from __future__ import annotations

import argparse
from pathlib import Path

from lss.dicom.index import index_repository


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lss-index",
        description="Index the sagittal slices of a DICOM repository (headers only) with Mid/Lateral labels.",
    )
    parser.add_argument("--root", type=Path, required=True, help="repository to walk (never written to)")
    parser.add_argument("--out", type=Path, required=True, help="folder for manifest.csv, skipped.csv, summary.md")
    parser.add_argument(
        "--labels", type=Path, help="per-slice CSV (sop_instance_uid,label) or per-series CSV (series_instance_uid,mid_sop_instance_uid)"
    )
    parser.add_argument("--mid-neighbours", type=int, default=4, help="neighbours of the mid slice labelled Mid (default 4: 2 each side)")
    parser.add_argument("--montage", action="store_true", help="also write OUT/montages/<series_uid>.png (paper Fig. 2)")
    parser.add_argument("--workers", type=int, help="header-reading processes (default: all cores for large repositories)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    result = index_repository(
        args.root, args.out, labels_csv=args.labels, mid_neighbours=args.mid_neighbours,
        workers=args.workers, progress=not args.no_progress, montage=args.montage,
    )  # fmt: skip
    print(result.summary_markdown)
    print(f"Wrote {args.out / 'manifest.csv'} ({len(result.manifest):,} slices) and {args.out / 'skipped.csv'} ({len(result.skipped):,} entries).")


if __name__ == "__main__":
    main()
