"""The decoded-image cache: each DICOM is decoded once per sweep, and never served stale.

Real phantom files on disk, real worker processes; speed is measured in benchmarks/cache_speed.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pydicom
import pytest

from helpers.training import REPO
from lss.data import cache
from lss.data.cache import cached_images
from lss.data.preprocess import PreprocessParams, preprocess_slice
from lss.data.slices import labelled_slices
from lss.dicom.pixels import read_slice_pixels

PARAMS = PreprocessParams(height=32, width=32)


@pytest.fixture(scope="module")
def pristine_phantom(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str], list[int]]:
    """Two phantom patients and the relative paths and frames of their labelled T1 slices."""
    from lss.dicom.index import index_repository
    from lss.phantom import write_phantom

    root = tmp_path_factory.mktemp("phantom")
    write_phantom(root, n_patients=2, seed=0)
    manifest = index_repository(root, labels_csv=root / "labels.csv", progress=False).manifest
    slices = labelled_slices(manifest, "T1")
    return root, slices["path"].tolist(), slices["frame"].astype(int).tolist()


@pytest.fixture
def phantom(pristine_phantom: tuple[Path, list[str], list[int]], tmp_path: Path) -> tuple[list[Path], list[int]]:
    """A private copy, so a test may rewrite files."""
    source, relative_paths, frames = pristine_phantom
    root = tmp_path / "phantom"
    shutil.copytree(source, root)
    return [root / path for path in relative_paths], frames


@pytest.fixture
def decode_log(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every slice this process decodes (decoding in-process: workers=1)."""
    decoded: list[str] = []
    decode = cache._decode_one

    def logged(job: tuple[str, int, PreprocessParams]) -> np.ndarray:
        decoded.append(job[0])
        return decode(job)

    monkeypatch.setattr(cache, "_decode_one", logged)
    return decoded


def entries(cache_dir: Path) -> list[Path]:
    return sorted(cache_dir.glob("images-*.npy"))


def rewrite_pixels(path: Path) -> None:
    """A new acquisition under the same file name: pixels flipped left-right."""
    dataset = pydicom.dcmread(path)
    dataset.PixelData = np.ascontiguousarray(dataset.pixel_array[:, ::-1]).tobytes()
    dataset.save_as(path)


def test_first_request_decodes_each_slice_once_and_matches_direct_preprocessing(
    phantom, decode_log, tmp_path: Path
) -> None:
    paths, frames = phantom
    images = cached_images(paths, frames, PARAMS, tmp_path / "cache", progress=False, workers=1)
    assert sorted(decode_log) == sorted(map(str, paths))
    assert images.shape == (len(paths), 32, 32) and images.dtype == np.uint8
    assert isinstance(images, np.memmap) and not images.flags.writeable
    for index in (0, len(paths) // 2, len(paths) - 1):
        np.testing.assert_array_equal(
            images[index], preprocess_slice(read_slice_pixels(paths[index], frames[index]), PARAMS)
        )


def test_a_second_job_reads_the_cache_without_decoding(phantom, decode_log, tmp_path: Path) -> None:
    paths, frames = phantom
    first = np.array(cached_images(paths, frames, PARAMS, tmp_path / "cache", progress=False, workers=1))
    decode_log.clear()
    again = cached_images(paths, frames, PARAMS, tmp_path / "cache", progress=False, workers=1)
    assert decode_log == []
    np.testing.assert_array_equal(again, first)
    assert len(entries(tmp_path / "cache")) == 1


def test_a_rewritten_file_gives_a_new_entry_with_its_new_pixels(phantom, tmp_path: Path) -> None:
    paths, frames = phantom
    before = np.array(cached_images(paths, frames, PARAMS, tmp_path / "cache", progress=False, workers=1))
    rewrite_pixels(paths[3])
    after = cached_images(paths, frames, PARAMS, tmp_path / "cache", progress=False, workers=1)
    np.testing.assert_array_equal(after[3], before[3][:, ::-1])
    np.testing.assert_array_equal(np.delete(after, 3, axis=0), np.delete(before, 3, axis=0))
    assert len(entries(tmp_path / "cache")) == 2


def test_a_rewrite_that_restores_the_modification_time_is_still_seen(phantom, tmp_path: Path) -> None:
    """mtime alone can be set back (rsync -t, tar); the stat signature also holds the ctime."""
    paths, frames = phantom
    before = np.array(cached_images(paths, frames, PARAMS, tmp_path / "cache", progress=False, workers=1))
    stat = paths[0].stat()
    time.sleep(0.01)
    rewrite_pixels(paths[0])
    os.utime(paths[0], ns=(stat.st_atime_ns, stat.st_mtime_ns))
    after = cached_images(paths, frames, PARAMS, tmp_path / "cache", progress=False, workers=1)
    np.testing.assert_array_equal(after[0], before[0][:, ::-1])


def test_touching_files_without_changing_them_reuses_the_entry(phantom, decode_log, tmp_path: Path) -> None:
    """The key is the content: a copy or a `touch` costs one re-hash, not a re-decode."""
    paths, frames = phantom
    cached_images(paths, frames, PARAMS, tmp_path / "cache", progress=False, workers=1)
    decode_log.clear()
    for path in paths:
        path.touch()
    cached_images(paths, frames, PARAMS, tmp_path / "cache", progress=False, workers=1)
    assert decode_log == []
    assert len(entries(tmp_path / "cache")) == 1


@pytest.mark.parametrize(
    "changed",
    [
        PreprocessParams(height=32, width=32, high_percentile=99.0),
        PreprocessParams(height=32, width=32, version=2),
        PreprocessParams(height=48, width=32),
    ],
    ids=["window", "algorithm-version", "size"],
)
def test_a_changed_preprocessing_parameter_gives_a_new_entry(
    phantom, tmp_path: Path, changed: PreprocessParams
) -> None:
    paths, frames = phantom
    original = cached_images(paths, frames, PARAMS, tmp_path / "cache", progress=False, workers=1)
    other = cached_images(paths, frames, changed, tmp_path / "cache", progress=False, workers=1)
    assert len(entries(tmp_path / "cache")) == 2
    assert other.shape == (len(paths), changed.height, changed.width)
    if other.shape == original.shape and changed.version == PARAMS.version:
        assert not np.array_equal(other, original)


def test_a_different_frame_or_slice_subset_gives_a_new_entry(phantom, tmp_path: Path) -> None:
    paths, frames = phantom
    cached_images(paths, frames, PARAMS, tmp_path / "cache", progress=False, workers=1)
    subset = cached_images(paths[:-1], frames[:-1], PARAMS, tmp_path / "cache", progress=False, workers=1)
    assert len(subset) == len(paths) - 1 and len(entries(tmp_path / "cache")) == 2


WRITER = """
import json, sys, time
from pathlib import Path
import numpy as np
from lss.data import cache
from lss.data.preprocess import PreprocessParams

args = json.loads(sys.argv[1])
decode = cache._decode_one
def logged(job):
    with open(args["log"], "a") as handle:  # O_APPEND: one line per decode, from any process
        handle.write(job[0] + "\\n")
    return decode(job)
cache._decode_one = logged
Path(args["ready"]).touch()
while not Path(args["go"]).exists():
    time.sleep(0.005)
paths, params = [Path(p) for p in args["paths"]], PreprocessParams(32, 32)
images = cache.cached_images(paths, args["frames"], params, Path(args["cache"]), progress=False, workers=1)
np.save(args["out"], np.asarray(images))
"""


def test_parallel_jobs_build_one_entry_once_and_all_read_it(phantom, tmp_path: Path) -> None:
    """Four processes ask for the same cold entry at the same moment, as a joblib sweep does."""
    paths, frames = phantom
    go, log = tmp_path / "go", tmp_path / "decoded.log"
    writers = []
    for number in range(4):
        args = {
            "paths": list(map(str, paths)),
            "frames": frames,
            "cache": str(tmp_path / "cache"),
            "log": str(log),
            "go": str(go),
            "out": str(tmp_path / f"out{number}.npy"),
            "ready": str(tmp_path / f"ready{number}"),
        }
        writers.append(
            subprocess.Popen(
                [sys.executable, "-c", WRITER, json.dumps(args)], cwd=REPO, stderr=subprocess.PIPE, text=True
            )
        )
    deadline = time.monotonic() + 120
    while not all((tmp_path / f"ready{number}").exists() for number in range(4)) and time.monotonic() < deadline:
        time.sleep(0.05)  # every process imported and waits at the start line
    go.touch()
    for writer in writers:
        _, stderr = writer.communicate(timeout=300)
        assert writer.returncode == 0, stderr
    assert sorted(log.read_text().splitlines()) == sorted(map(str, paths))  # each slice decoded once, by one writer
    results = [np.load(tmp_path / f"out{number}.npy") for number in range(4)]
    for result in results[1:]:
        np.testing.assert_array_equal(result, results[0])
    assert len(entries(tmp_path / "cache")) == 1
    assert not list((tmp_path / "cache").rglob("*partial*"))


def test_cached_8bit_images_become_the_normalised_tensors_of_the_float_formula(phantom, tmp_path: Path) -> None:
    """SliceDataset's 3x256 lookup table gives exactly (pixel / 255 - mean) / std per channel."""
    import torch

    from lss.data.dataset import SliceDataset

    paths, frames = phantom
    images = cached_images(paths, frames, PARAMS, tmp_path / "cache", progress=False, workers=1)
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    rows = np.arange(len(paths))
    dataset = SliceDataset(images, np.zeros(len(paths), dtype=np.int64), rows, mean, std, np.stack([rows] * 3, axis=1))
    for row in (0, len(paths) - 1):
        unit = torch.from_numpy(np.array(images[row], dtype=np.float32) / 255.0)[None].expand(3, -1, -1)
        expected = (unit - torch.tensor(mean).view(3, 1, 1)) / torch.tensor(std).view(3, 1, 1)
        item, _, index = dataset[row]
        assert index == row and item.dtype == torch.float32
        torch.testing.assert_close(item, expected, rtol=0, atol=1e-6)


# -- verified entries: a cache that is not what was written is rebuilt, never used ---------------------


def overwrite_middle(path: Path) -> None:
    """Same size, other bytes: what a bad disk, a stray write or a half-finished copy leaves."""
    with open(path, "r+b") as handle:
        handle.seek(path.stat().st_size // 2)
        handle.write(b"\xff" * 64)


def truncate(path: Path) -> None:
    with open(path, "r+b") as handle:
        handle.truncate(path.stat().st_size - 1000)


@pytest.mark.parametrize("damage", [overwrite_middle, truncate], ids=["same-size-overwrite", "truncated"])
def test_a_damaged_entry_is_rebuilt_with_one_warning_and_its_pixels_never_used(
    phantom, tmp_path: Path, caplog: pytest.LogCaptureFixture, damage
) -> None:
    paths, frames = phantom
    written = np.array(cached_images(paths, frames, PARAMS, tmp_path / "cache", progress=False, workers=1))
    (entry,) = entries(tmp_path / "cache")
    damage(entry)
    with caplog.at_level("WARNING", logger="lss.files"):
        again = cached_images(paths, frames, PARAMS, tmp_path / "cache", progress=False, workers=1)
    np.testing.assert_array_equal(again, written)
    warnings = [record.getMessage() for record in caplog.records if record.levelname == "WARNING"]
    assert len(warnings) == 1 and "is not what was written" in warnings[0] and entry.name in warnings[0]
    caplog.clear()
    cached_images(paths, frames, PARAMS, tmp_path / "cache", progress=False, workers=1)  # the rebuilt entry is good
    assert not caplog.records and entries(tmp_path / "cache") == [entry]


def test_an_entry_without_its_check_record_is_rebuilt(phantom, decode_log, tmp_path: Path) -> None:
    """An entry from before check records existed (or whose record was lost) is not trusted either."""
    paths, frames = phantom
    cached_images(paths, frames, PARAMS, tmp_path / "cache", progress=False, workers=1)
    (entry,) = entries(tmp_path / "cache")
    entry.with_name(entry.name + ".check.json").unlink()
    decode_log.clear()
    cached_images(paths, frames, PARAMS, tmp_path / "cache", progress=False, workers=1)
    assert sorted(decode_log) == sorted(map(str, paths))


def test_a_failed_build_removes_its_partial_file(phantom, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    paths, frames = phantom
    decode, decoded = cache._decode_one, []

    def decode_half_then_fail(job: tuple[str, int, PreprocessParams]) -> np.ndarray:
        decoded.append(job[0])
        if len(decoded) > len(paths) // 2:  # half the slices already written to the partial file
            raise OSError("no space left on device")
        return decode(job)

    monkeypatch.setattr(cache, "DECODE_CHUNK_BYTES", 2 * PARAMS.height * PARAMS.width)
    monkeypatch.setattr(cache, "_decode_one", decode_half_then_fail)
    with pytest.raises(OSError, match="no space left"):
        cached_images(paths, frames, PARAMS, tmp_path / "cache", progress=False, workers=1)
    assert not list((tmp_path / "cache").rglob("*partial*")) and not entries(tmp_path / "cache")


PEAK_RSS_GROWTH = """
import json, re, sys
from pathlib import Path
from lss.data import cache
from lss.data.preprocess import PreprocessParams

def peak_rss_bytes():
    return int(re.search(r"VmHWM:\\s+(\\d+) kB", Path("/proc/self/status").read_text()).group(1)) * 1024

args = json.loads(sys.argv[1])
params = PreprocessParams(args["side"], args["side"])
paths, frames = [Path(p) for p in args["paths"]], args["frames"]
cache._decode_one((str(paths[0]), frames[0], params))  # imports and first-call allocations, before the baseline
Path("/proc/self/clear_refs").write_text("5")  # the peak starts again from the current RSS
before = peak_rss_bytes()
images = cache.cached_images(paths, frames, params, Path(args["cache"]), progress=False, workers=args["workers"])
print(json.dumps({"grown_bytes": peak_rss_bytes() - before, "entry_bytes": int(images.nbytes)}))
"""


@pytest.mark.parametrize("workers", [1, 2])
def test_the_cache_writer_never_holds_the_whole_array_in_memory(pristine_phantom, workers: int, tmp_path: Path) -> None:
    """A 64+ MiB entry (the phantom's slices repeated, 1024x1024) is built while this process's peak RSS grows by
    far less than the entry: slices go to the file as they are decoded (the old build held all of them).

    glibc returns each freed block over 128 KiB at once (MALLOC_MMAP_THRESHOLD_), so the peak measures what the
    build holds, not what the allocator keeps for later."""
    root, relative_paths, frames = pristine_phantom
    repeats = -(-64 // len(relative_paths))
    args = {
        "paths": [str(root / path) for path in relative_paths] * repeats,
        "frames": frames * repeats,
        "side": 1024,
        "cache": str(tmp_path / "cache"),
        "workers": workers,
    }
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": str(128 * 1024)}
    child = subprocess.run(
        [sys.executable, "-c", PEAK_RSS_GROWTH, json.dumps(args)], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert child.returncode == 0, child.stderr
    measured = json.loads(child.stdout)
    assert measured["entry_bytes"] >= 64 * 2**20
    assert measured["grown_bytes"] < measured["entry_bytes"] / 2, measured  # the old build: > the entry


def test_partial_files_of_dead_processes_are_removed_and_those_of_live_ones_kept(phantom, tmp_path: Path) -> None:
    from lss.files import partial_path

    paths, frames = phantom
    cache_dir = tmp_path / "cache"
    cache_dir.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        mine = partial_path(cache_dir / "images-0123.npy").name  # this host's naming: <stem>.partial-<pid>-<host>
        dead_name = mine.replace(f"partial-{os.getpid()}-", f"partial-{dead_pid}-")
        left = [
            cache_dir / dead_name,
            cache_dir / dead_name.replace("images-0123", "images-4567"),  # an entry nobody asks for again
            cache_dir / f"images-89ab.partial-{dead_pid}.npy",  # lss before host names in partials
        ]
        running = cache_dir / mine.replace(f"partial-{os.getpid()}-", f"partial-{live.pid}-")
        for path in [*left, running]:
            path.write_bytes(b"half an array")
        cached_images(paths, frames, PARAMS, cache_dir, progress=False, workers=1)
        assert not any(path.exists() for path in left)
        assert running.exists()  # its writer is still at work
    finally:
        live.kill()
        live.wait()
