"""``lss`` / ``python -m lss``: the installed version (``--version``) and the commands lss brings."""

from __future__ import annotations

import argparse

from lss import __version__

COMMANDS = {
    "lss-phantom": "write a phantom DICOM repository (tests, demos, benchmarks)",
    "lss-index": "index a DICOM folder or a PACS (DICOMweb) into a manifest",
    "lss-labels": "turn a public dataset's annotations into the labels CSVs lss-index reads",
    "lss-train": "train (train.py): one Hydra job = one MLflow run",
    "lss-predict": "select the Mid slices of new studies (predict.py)",
    "lss-reproduce": "re-train a FINISHED run here and say whether it came out equal (python -m lss.reproduce)",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lss",
        description="lss: find the Mid sagittal slices of lumbar-spine MRI studies (Natalia & Sudirman).",
        epilog="commands:\n" + "\n".join(f"  {name:<15} {what}" for name, what in COMMANDS.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"lss {__version__}")
    return parser


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    parser.parse_args(argv)  # --version and --help answer and exit here
    parser.print_help()


if __name__ == "__main__":
    main()
