"""lss: find the Mid sagittal slices of lumbar-spine MRI studies (Natalia & Sudirman)."""

from pathlib import Path

__version__ = "0.1.0"

CONF_DIR = Path(__file__).resolve().parents[1] / "conf"
"""Hydra's config tree (``conf/`` mirrors ``lss/``): the entry points and ``lss-index`` read it."""
