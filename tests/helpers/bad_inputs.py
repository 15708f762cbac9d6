"""The bad-input catalogue: a repository with one file or folder of every kind a real repository holds."""

import os
import shutil
from pathlib import Path

import numpy as np
from pydicom.data import get_testdata_file
from pydicom.uid import JPEG2000Lossless, RLELossless

from helpers.dicom_factory import (
    AXIAL,
    CORONAL,
    mr_dataset,
    ramp_pixels,
    write,
    write_enhanced_mr,
    write_jpeg_lossless,
    write_sagittal_series,
)

T2_SERIES = "1.3.10"
RAW_DATA_STORAGE = "1.2.840.10008.5.1.4.1.1.66"
COMPREHENSIVE_SR = "1.2.840.10008.5.1.4.1.1.88.33"

EXPECTED_SKIPS = {
    "broken/truncated_half.dcm": "truncated_pixel_data",
    "broken/MR_truncated.dcm": "truncated_pixel_data",
    "broken/notes.txt": "not_dicom",
    "broken/random_bytes": "not_dicom",
    "broken/zero_bytes": "empty_file",
    "media/DICOMDIR": "dicomdir",
    "broken/no_pixel_data": "no_pixel_data",
    "t2/raw_data": "non_image_sop_class",
    "t2/structured_report": "non_image_sop_class",
    "broken/no_orientation": "missing_orientation",
    "broken/orientation_without_position": "missing_position",
    "broken/rgb": "not_grayscale",
    "t2/copy_of_IM0000": "duplicate_sop_instance_uid",
    "other_planes/axial": "not_sagittal",
    "other_planes/coronal": "not_sagittal",
    "empty/": "empty_directory",
    "loop/back_to_root": "symlink_not_followed",
    "broken/dangling_link": "broken_symlink",
}


def write_catalogue(root: Path) -> None:
    t2_paths = write_sagittal_series(root / "t2", n_slices=5, series_uid=T2_SERIES)
    broken = root / "broken"
    half = write(mr_dataset(series_uid="1.3.11"), broken / "truncated_half.dcm")
    half.write_bytes(half.read_bytes()[: half.stat().st_size - 200])
    shutil.copyfile(get_testdata_file("MR_truncated.dcm"), broken / "MR_truncated.dcm")
    (broken / "notes.txt").write_text("patient list, not an image\n")
    (broken / "random_bytes").write_bytes(np.random.default_rng(0).bytes(3000))
    (broken / "zero_bytes").write_bytes(b"")
    dicomdir = Path(get_testdata_file("DICOMDIR", read=False) or "")
    (root / "media").mkdir()
    shutil.copyfile(dicomdir, root / "media" / "DICOMDIR")
    no_pixels = mr_dataset(series_uid="1.3.12")
    del no_pixels.PixelData
    write(no_pixels, broken / "no_pixel_data")
    for name, sop_class in (("raw_data", RAW_DATA_STORAGE), ("structured_report", COMPREHENSIVE_SR)):
        non_image = mr_dataset(series_uid=T2_SERIES, sop_class=sop_class)
        del non_image.PixelData
        write(non_image, root / "t2" / name)
    write(mr_dataset(series_uid="1.3.13", orientation=None), broken / "no_orientation")
    write(mr_dataset(series_uid="1.3.14", position=None), broken / "orientation_without_position")
    write(mr_dataset(series_uid="1.3.15", pixels=np.zeros((8, 8, 3)), photometric="RGB"), broken / "rgb")
    shutil.copyfile(t2_paths[0], root / "t2" / "copy_of_IM0000")
    write(mr_dataset(series_uid="1.3.16", orientation=AXIAL), root / "other_planes" / "axial")
    write(mr_dataset(series_uid="1.3.17", orientation=CORONAL), root / "other_planes" / "coronal")
    (root / "empty").mkdir()
    (root / "loop").mkdir()
    os.symlink("..", root / "loop" / "back_to_root")
    os.symlink("does_not_exist", broken / "dangling_link")
    # indexed: enhanced multi-frame, three compressed syntaxes, MONOCHROME1, a constant image
    write_enhanced_mr(root / "enhanced" / "multiframe", [-4.0, 0.0, 4.0])
    image = ramp_pixels(64, 64)
    write_jpeg_lossless(root / "compressed" / "jpeg_lossless", image, series_uid="1.3.20", position=(0.0, 0, 0))
    for x_mm, (name, syntax) in zip((4.0, 8.0), (("jpeg2000", JPEG2000Lossless), ("rle", RLELossless))):
        dataset = mr_dataset(series_uid="1.3.20", pixels=image, position=(x_mm, 0, 0))
        dataset.compress(syntax)
        write(dataset, root / "compressed" / name)
    write(
        mr_dataset(series_uid="1.3.30", photometric="MONOCHROME1", position=(0.0, 0, 0)),
        root / "display" / "monochrome1",
    )
    write(
        mr_dataset(series_uid="1.3.30", pixels=np.full((16, 16), 7), position=(4.0, 0, 0)),
        root / "display" / "constant",
    )
