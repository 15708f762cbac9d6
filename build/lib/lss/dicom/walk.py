"""Walk a repository of any layout: every regular file once, symlinked directories never followed."""

from __future__ import annotations

import os
from pathlib import Path

from lss.dicom.skips import Skip


def walk_repository(root: Path, exclude: Path | None = None) -> tuple[list[Path], list[Skip]]:
    """All files under root (sorted, any name, with or without extension), plus skips for what is not a file.

    Directory symlinks are listed as skipped, not followed, so a symlink loop cannot hang the walk;
    empty and unreadable directories are listed too, so nothing under root goes unaccounted.
    """
    files: list[Path] = []
    skips: list[Skip] = []

    def relative(path: Path) -> str:
        return path.relative_to(root).as_posix()

    def on_error(error: OSError) -> None:
        skips.append(Skip(relative(Path(error.filename)), "permission_denied", f"directory: {error.strerror}"))

    excluded = exclude.resolve() if exclude is not None else None
    for directory, dirnames, filenames in os.walk(root, onerror=on_error, followlinks=False):
        here = Path(directory)
        if not filenames and not dirnames and here != root:
            skips.append(Skip(relative(here) + "/", "empty_directory"))
        kept_dirs = []
        for name in sorted(dirnames):
            child = here / name
            if child.is_symlink():
                skips.append(Skip(relative(child), "symlink_not_followed", f"-> {os.readlink(child)}"))
            elif excluded is None or child.resolve() != excluded:
                kept_dirs.append(name)
        dirnames[:] = kept_dirs
        files += [here / name for name in sorted(filenames)]
    return files, skips
