"""lss: find the Mid sagittal slices of lumbar-spine MRI studies (Natalia & Sudirman)."""

from pathlib import Path

__version__ = "0.1.0"

CONF_DIR = Path(__file__).resolve().parent / "conf"
"""Hydra's config tree: the repository's ``conf/`` (``lss/conf`` links to it), package data in a wheel."""
