"""lss-labels: turn a public dataset's annotations into the labels (and weighting) CSVs lss-index reads.

lss-labels rsna2024 --root /data/rsna-2024 --out outputs/rsna-labels
lss-labels spider --masks /data/spider/masks --out outputs/spider-labels
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lss.datasets.rsna2024 import rsna2024_labels
from lss.datasets.spider import spider_labels
from lss.entry import one_line_user_errors
from lss.errors import UserError


def _rsna2024_arguments(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--root", type=Path, required=True, help="folder with train_images/ and the competition's CSVs"
    )
    command.add_argument("--workers", type=int, help="header-reading processes (default: by file count)")
    command.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def _rsna2024(args: argparse.Namespace) -> str:
    _refuse_output_inside(args.root, args.out)
    result = rsna2024_labels(args.root, workers=args.workers, progress=not args.no_progress)
    result.write(args.out)
    return (
        result.summary()
        + f"\nWrote {args.out / 'labels.csv'}, {args.out / 'weighting.csv'} and {args.out / 'series_status.csv'}.\n"
        + f"Next: lss-index --root {args.root / 'train_images'} --out INDEX_DIR "
        f"--labels {args.out / 'labels.csv'} --weighting {args.out / 'weighting.csv'}"
    )


def _spider_arguments(command: argparse.ArgumentParser) -> None:
    command.add_argument("--masks", type=Path, required=True, help="SPIDER's masks/ folder")


def _spider(args: argparse.Namespace) -> str:
    _refuse_output_inside(args.masks, args.out)
    result = spider_labels(args.masks)
    result.write(args.out)
    return (
        result.summary()
        + f"\nWrote {args.out / 'labels.csv'} and {args.out / 'mask_status.csv'}.\n"
        + f"Next: lss-index --root {args.masks.parent / 'images'} --out INDEX_DIR --labels {args.out / 'labels.csv'}"
    )


@dataclass(frozen=True)
class Dataset:
    """One subcommand: what it is, its own arguments, and the run that returns the report to print."""

    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], str]


DATASETS: dict[str, Dataset] = {
    "rsna2024": Dataset(
        "RSNA 2024 Lumbar Spine Degenerative Classification: weak Mid labels and weighting from the marks",
        _rsna2024_arguments,
        _rsna2024,
    ),
    "spider": Dataset(
        "SPIDER volumes: the slice with the largest spinal-canal area (mask label 100) is mid",
        _spider_arguments,
        _spider,
    ),
}


def _refuse_output_inside(input_dir: Path, out_dir: Path) -> None:
    """The dataset is never written to."""
    if out_dir.resolve().is_relative_to(input_dir.resolve()):
        raise UserError(f"--out {out_dir} lies inside the dataset {input_dir}; choose a folder outside it")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lss-labels", description=__doc__.splitlines()[0].split(": ", 1)[1])
    commands = parser.add_subparsers(dest="dataset", required=True)
    for name, dataset in DATASETS.items():
        command = commands.add_parser(name, help=dataset.help, description=dataset.help)
        command.add_argument("--out", type=Path, required=True, help="folder for the CSVs (outside the dataset)")
        dataset.add_arguments(command)
    return parser


@one_line_user_errors
def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    print(DATASETS[args.dataset].run(args))


if __name__ == "__main__":
    main()
