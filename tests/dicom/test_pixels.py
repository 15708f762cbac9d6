"""read_slice_pixels: float modality values from any syntax the data module will meet."""

from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from helpers.dicom_factory import mr_dataset, ramp_pixels, write, write_enhanced_mr, write_jpeg_lossless
from lss.dicom.pixels import DicomPixelError, read_slice_pixels


def reference_mr_small() -> np.ndarray:
    dataset = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    slope, intercept = float(dataset.get("RescaleSlope", 1)), float(dataset.get("RescaleIntercept", 0))
    return dataset.pixel_array.astype(np.float32) * slope + intercept


@pytest.mark.parametrize(
    "name",
    [
        "MR_small.dcm",
        "MR_small_RLE.dcm",
        "MR_small_jp2klossless.dcm",
        "MR_small_jpeg_ls_lossless.dcm",
        "MR_small_bigendian.dcm",
    ],
)
def test_compressed_and_big_endian_copies_of_mr_small_decode_to_the_same_floats(name: str) -> None:
    pixels = read_slice_pixels(get_testdata_file(name))
    assert pixels.dtype == np.float32 and pixels.ndim == 2
    np.testing.assert_array_equal(pixels, reference_mr_small())


def test_jpeg_lossless_sv1_decodes_exactly(tmp_path: Path) -> None:
    image = np.random.default_rng(3).integers(0, 4096, (24, 20)).astype(np.uint16)
    path = write_jpeg_lossless(tmp_path / "jpeg_lossless", image, series_uid="1.2.3")
    np.testing.assert_array_equal(read_slice_pixels(path), image.astype(np.float32))


def test_rescale_slope_and_intercept_are_applied(tmp_path: Path) -> None:
    path = write(mr_dataset(series_uid="1.2", RescaleSlope=0.5, RescaleIntercept=-10), tmp_path / "rescaled")
    np.testing.assert_allclose(read_slice_pixels(path), ramp_pixels() * 0.5 - 10)


def test_monochrome1_is_inverted_over_the_stored_range(tmp_path: Path) -> None:
    path = write(mr_dataset(series_uid="1.2", photometric="MONOCHROME1"), tmp_path / "mono1")
    np.testing.assert_allclose(read_slice_pixels(path), 4095 - ramp_pixels())  # BitsStored 12


def test_enhanced_multiframe_returns_the_requested_frame_rescaled_by_its_functional_group(tmp_path: Path) -> None:
    path = write_enhanced_mr(tmp_path / "enhanced", [0.0, 4.0, 8.0])
    np.testing.assert_allclose(read_slice_pixels(path, frame=2), ramp_pixels(offset=200) * 2.0 - 5.0)
    with pytest.raises(DicomPixelError, match="frame 3 requested, NumberOfFrames is 3"):
        read_slice_pixels(path, frame=3)


def test_errors_name_the_file(tmp_path: Path) -> None:
    rgb = write(mr_dataset(series_uid="1.2", pixels=np.zeros((8, 8, 3)), photometric="RGB"), tmp_path / "rgb")
    with pytest.raises(DicomPixelError, match=r"rgb: PhotometricInterpretation 'RGB'"):
        read_slice_pixels(rgb)
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    with pytest.raises(DicomPixelError, match=r"notes\.txt: cannot read DICOM"):
        read_slice_pixels(text)
    with pytest.raises(DicomPixelError, match=r"MR_truncated\.dcm: cannot decode Pixel Data"):
        read_slice_pixels(get_testdata_file("MR_truncated.dcm"))
