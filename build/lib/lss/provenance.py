"""The phantom's provenance stamp: the phantom writer stamps its root, training reads the stamp into a run tag.

A module of its own so that training can tell synthetic data from real without importing the phantom writer.
"""

from __future__ import annotations

from pathlib import Path

PHANTOM_STAMP = ".lss-phantom"
"""Written last at the phantom's root: says the data are synthetic (results on it say nothing about the paper)
and with which parameters, so a demo can tell its own phantom from one written with others."""


def stamp_phantom(root: Path, parameters: str) -> None:
    (Path(root) / PHANTOM_STAMP).write_text(parameters)


def phantom_parameters(root: Path) -> str | None:
    """The stamp's text when ``root`` is a phantom lss wrote, else None."""
    stamp = Path(root) / PHANTOM_STAMP
    return stamp.read_text() if stamp.is_file() else None
