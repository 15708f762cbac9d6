"""The real lumbar MRI set beside the repository (read-only, never copied): where it is, or why a test skips."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.training import REPO

REAL_LUMBAR = (REPO / ".." / "shared" / "data" / "real-lumbar").resolve()


def real_lumbar_root() -> Path:
    """The folder, or a pytest skip with a one-line reason (a user's clone has no such folder)."""
    if not (REAL_LUMBAR / "labels.csv").is_file():
        pytest.skip(f"real lumbar MRI not found at {REAL_LUMBAR} (only on the project's own machines)")
    return REAL_LUMBAR
