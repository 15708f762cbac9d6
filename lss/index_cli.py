"""lss-index: index a DICOM repository (or sagittal volumes) into manifest.csv, skipped.csv and summary.md."""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml

from lss import CONF_DIR
from lss.dicom.dicomweb import PASSWORD_ENV, TOKEN_ENV, USER_ENV
from lss.dicom.index_params import IndexParams
from lss.entry import one_line_user_errors


def configured_index_params() -> IndexParams:
    """Defaults from conf/index/default.yaml, the config train.py and predict.py index with too."""
    return IndexParams(**yaml.safe_load((CONF_DIR / "index" / "default.yaml").read_text()))


def build_parser() -> argparse.ArgumentParser:
    defaults = configured_index_params()
    parser = argparse.ArgumentParser(
        prog="lss-index",
        description="Index the sagittal slices of a DICOM repository (headers only; .mha/.nii/.nii.gz volumes too) "
        "with Mid/Lateral labels.",
    )
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--root", type=Path, help="repository to walk (never written to)")
    where.add_argument(
        "--dicomweb",
        metavar="URL",
        help="a PACS's DICOMweb root, http(s)://HOST:PORT/PATH (or dicomweb(s)://HOST:PORT/PATH); metadata only, "
        f"credentials from {TOKEN_ENV} or {USER_ENV}/{PASSWORD_ENV}",
    )
    parser.add_argument(
        "--study", action="append", metavar="UID", help="with --dicomweb: index this study only (repeatable)"
    )
    parser.add_argument("--out", type=Path, required=True, help="folder for manifest.csv, skipped.csv, summary.md")
    parser.add_argument(
        "--labels",
        type=Path,
        help="per-slice CSV (sop_instance_uid,label) or per-series CSV (series_instance_uid,mid_sop_instance_uid)",
    )
    parser.add_argument(
        "--weighting",
        type=Path,
        help="CSV (series_instance_uid,modality) giving series T1 or T2 whatever their headers say, "
        "e.g. the weighting.csv of lss-labels rsna2024",
    )
    parser.add_argument(
        "--band-size",
        type=int,
        default=defaults.band_size,
        help=f"slices in the Mid band: the mid slice and its neighbours (default {defaults.band_size}, paper §3)",
    )
    parser.add_argument(
        "--ivd-width-mm",
        type=float,
        default=defaults.ivd_width_mm,
        help=f"normal disc width; Mid slices further than half of it from the mid slice are reported "
        f"(default {defaults.ivd_width_mm:g}, paper ref. 18)",
    )
    parser.add_argument(
        "--stir-as",
        choices=["T1", "T2"],
        default=defaults.stir_as,
        help="file STIR / TIRM series under this weighting (default: their own weighting, STIR)",
    )
    parser.add_argument(
        "--montage", action="store_true", help="also write OUT/montages/<series_uid>.png (paper Fig. 2)"
    )
    parser.add_argument(
        "--workers", type=int, help="header-reading processes (default: all cores for large repositories)"
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return parser


@one_line_user_errors
def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.study and args.dicomweb is None:
        parser.error("--study selects studies of a PACS: give --dicomweb URL too")
    if args.dicomweb is not None and args.montage:
        parser.error("--montage draws slices from files: index a folder (--root) for montages")
    from lss.dicom.index import index_dicomweb, index_repository  # pandas and friends: after --help has answered

    params = IndexParams(args.band_size, args.ivd_width_mm, args.stir_as)
    if args.dicomweb is not None:
        from lss.dicom.dicomweb import DicomWebSource, study_metadata

        instances = study_metadata(DicomWebSource(args.dicomweb), args.study)
        result = index_dicomweb(instances, args.out, args.labels, args.weighting, params, not args.no_progress)
    else:
        result = index_repository(
            args.root,
            args.out,
            labels_csv=args.labels,
            weighting_csv=args.weighting,
            params=params,
            workers=args.workers,
            progress=not args.no_progress,
            montage=args.montage,
        )
    print(result.summary_markdown)
    print(
        f"Wrote {args.out / 'manifest.csv'} ({len(result.manifest):,} slices) "
        f"and {args.out / 'skipped.csv'} ({len(result.skipped):,} entries)."
    )


if __name__ == "__main__":
    main()
