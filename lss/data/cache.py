"""Decode each DICOM once per sweep: preprocessed images cached on disk as one .npy per slice set.

The key (lss.files.tree_key, shared with the index cache) hashes every file's *content* (plus frame)
and the preprocessing parameters, so a changed file or parameter gives a new entry, while the 40 jobs
of a sweep (20 seeds x the same modality subset) share one. Entries are lss.files.verified_entry:
built once under a lock, published atomically, and checked (size, CRC-32) on every read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from lss.data.preprocess import PreprocessParams, preprocess_slice
from lss.dicom.pixels import read_slice_pixels
from lss.files import tree_key, verified_entry
from lss.manifest import SOURCE
from lss.workers import ordered_map, process_pool, worker_count

ENTRY_PREFIX = "images-"
DECODES_PER_WORKER = 32
"""Fewer slices than this per process and starting the process costs more than decoding them."""
DECODE_CHUNK_BYTES = 2 * 2**20
"""Decoded bytes per worker task (and per write): about 23 slices at 299x299, 2 at 1024x1024."""
CHUNKS_IN_FLIGHT_PER_WORKER = 2
"""Chunks submitted ahead per worker: enough to keep every worker busy, few enough that memory does not grow with N."""


def image_cache_key(paths: Sequence[Path], frames: Sequence[int], params: PreprocessParams, cache_dir: Path) -> str:
    """Same files (by content), frames and preprocessing parameters, same entry: lss.files.tree_key."""
    files = [(str(frame), Path(path)) for path, frame in zip(paths, frames, strict=True)]
    return tree_key(files, params.as_key(), cache_dir / "keys")


def entry_key(images: np.ndarray) -> str:
    """The key of the cache entry ``images`` was read from (empty for no slices): what a run records."""
    filename = getattr(images, "filename", None)
    return Path(filename).stem.removeprefix(ENTRY_PREFIX) if filename else ""


def _single_threaded() -> None:
    """One decode per process: torch's intra-op threads only oversubscribe the cores (benchmarks/cache_speed.py)."""
    torch.set_num_threads(1)


def _decode_one(job: tuple[str, int, PreprocessParams]) -> np.ndarray:
    path, frame, params = job
    return preprocess_slice(read_slice_pixels(path, frame), params)


def _decode_chunk(jobs: Sequence[tuple[str, int, PreprocessParams]]) -> np.ndarray:
    """(len(jobs), H, W) uint8: one task per chunk, so a worker's result crosses the process boundary once."""
    return np.stack([_decode_one(job) for job in jobs])


def cached_images(
    paths: Sequence[Path],
    frames: Sequence[int],
    params: PreprocessParams,
    cache_dir: Path,
    progress: bool = True,
    workers: int | None = None,
) -> np.ndarray:
    """Return a read-only memory-mapped (N, H, W) uint8 array of the preprocessed slices."""
    entry = cache_dir / f"{ENTRY_PREFIX}{image_cache_key(paths, frames, params, cache_dir)}.npy"
    verified_entry(
        entry,
        lambda partial: _build(
            partial,
            paths,
            frames,
            params,
            progress,
            workers or worker_count(len(paths), tasks_per_worker=DECODES_PER_WORKER),
        ),
    )
    return np.load(entry, mmap_mode="r")


def manifest_images(
    slices: pd.DataFrame,
    root: Path | Mapping[str, Path],
    params: PreprocessParams,
    cache_dir: Path,
    progress: bool = True,
) -> np.ndarray:
    """Preprocessed images of manifest rows (``path`` relative to ``root``, ``frame``), decoded once and cached; with
    several sources, ``root`` maps each row's ``source`` to the folder its path is relative to."""
    if slices.empty:
        return np.empty((0, params.height, params.width), dtype=np.uint8)
    roots = [root] * len(slices) if isinstance(root, Path) else [root[name] for name in slices[SOURCE]]
    paths = [folder / path for folder, path in zip(roots, slices["path"], strict=True)]
    return cached_images(paths, slices["frame"].astype(int).tolist(), params, cache_dir, progress)


def _build(
    partial: Path, paths: Sequence[Path], frames: Sequence[int], params: PreprocessParams, progress: bool, workers: int
) -> None:
    """Write each decoded slice straight into the .npy file in manifest order: the build holds a bounded window of
    slices (a few chunks per worker), never the whole (N, H, W) array, so its memory is flat in N."""
    shape = (len(paths), params.height, params.width)
    jobs = [(str(path), int(frame), params) for path, frame in zip(paths, frames, strict=True)]
    per_chunk = max(1, DECODE_CHUNK_BYTES // (params.height * params.width))
    chunks = [jobs[start : start + per_chunk] for start in range(0, len(jobs), per_chunk)]
    bar = tqdm(total=len(jobs), desc="decoding DICOM (cached once)", unit="slice", disable=not progress)
    with open(partial, "wb") as handle:
        np.lib.format.write_array_header_1_0(
            handle, {"descr": np.lib.format.dtype_to_descr(np.dtype(np.uint8)), "fortran_order": False, "shape": shape}
        )
        if workers > 1:
            with process_pool(workers, initializer=_single_threaded) as pool:
                for images in ordered_map(pool, _decode_chunk, chunks, window=CHUNKS_IN_FLIGHT_PER_WORKER * workers):
                    handle.write(images.tobytes())
                    bar.update(len(images))
        else:
            threads = torch.get_num_threads()
            _single_threaded()
            try:
                for chunk in chunks:
                    images = _decode_chunk(chunk)
                    handle.write(images.tobytes())
                    bar.update(len(images))
            finally:
                torch.set_num_threads(threads)
    bar.close()
