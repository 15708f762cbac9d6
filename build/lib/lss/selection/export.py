"""The chosen DICOM files under ``selected/``, mirroring the input layout; the input is only read."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from lss.errors import ConfigError

ExportMode = Literal["symlink", "copy", "none"]
EXPORT_MODES: tuple[str, ...] = ("symlink", "copy", "none")


def export_selected(relative_paths: Iterable[str], input_dir: Path, selected_dir: Path, mode: ExportMode) -> int:
    """Link or copy each file (once, however many of its frames were chosen); return how many."""
    if mode not in EXPORT_MODES:
        raise ConfigError(f"mode must be one of {'|'.join(EXPORT_MODES)}, got {mode!r}")
    if selected_dir.is_dir():
        shutil.rmtree(selected_dir)  # a rerun into the same output replaces its own earlier selection
    if mode == "none":
        return 0
    unique = sorted(set(relative_paths))
    source_root = input_dir.resolve()
    for relative in unique:
        source, target = source_root / relative, selected_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if mode == "symlink":
            os.symlink(source, target)
        else:
            shutil.copy2(source, target)
    return len(unique)
