"""What the three input channels show: the paper's copies, a slice with its neighbours, or a T1 partner."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers.dicom_factory import mr_dataset, write
from helpers.training import composed_datamodule
from lss.data.channels import context_channels, fused_pairs, input_plan
from lss.data.dataset import SliceDataset
from lss.dicom.index import index_repository
from lss.errors import ConfigError


def test_context_3_takes_the_neighbours_by_slice_position_and_repeats_the_ends_whatever_the_row_order() -> None:
    table = pd.DataFrame({"series_uid": ["b", "a", "a", "b", "a", "a"], "slice_index": [1, 2, 0, 0, 3, 1]})
    channels = context_channels(table, 3)
    by_row = {row: tuple(channels[row]) for row in range(len(table))}
    assert by_row[2] == (2, 2, 5)  # a0: first slice repeats itself, then a1 (row 5)
    assert by_row[5] == (2, 5, 1)  # a1: a0, a1, a2
    assert by_row[4] == (1, 4, 4)  # a3: last slice repeats itself
    assert by_row[3] == (3, 3, 0) and by_row[0] == (3, 0, 0)  # series b of two slices
    assert (context_channels(table, 1) == np.arange(6)[:, None]).all()
    with pytest.raises(ConfigError, match=r"data\.context"):
        context_channels(table, 2)


def write_series(root: Path, series_uid: str, x_mm: list[float], instance_numbers: list[int], **fields: object) -> None:
    """One sagittal slice per position, each with a bright column at its own place so every image differs."""
    for number, (x, instance) in enumerate(zip(x_mm, instance_numbers)):
        pixels = np.full((16, 16), 100, dtype=np.uint16)
        pixels[:, 1 + number] = 3000
        dataset = mr_dataset(
            series_uid=series_uid, position=(x, -100.0, 100.0), pixels=pixels, InstanceNumber=instance, **fields
        )
        write(dataset, root / series_uid / f"file{instance:02d}")


def test_a_context_3_sample_shows_its_neighbours_pixels_read_through_the_real_cache(tmp_path: Path) -> None:
    """Files named and numbered against their position: the neighbours still come by n·p."""
    root = tmp_path / "dicom"
    write_series(root, "1.2.3", [8.0, 0.0, 4.0, 12.0], instance_numbers=[1, 2, 3, 4])
    manifest_dir = tmp_path / "index"
    result = index_repository(root, out_dir=manifest_dir, progress=False)
    result.manifest.assign(label="Mid").to_csv(
        manifest_dir / "manifest.csv", index=False
    )  # labelled: a training sample
    datamodule = composed_datamodule(
        [
            "modality=T2",
            f"data.root={root}",
            f"data.manifest={manifest_dir / 'manifest.csv'}",
            "data.labels=null",
            "data.input_size=[16,16]",
            "data.context=3",
            "data.test_fraction=0.0",
            "data.val_fraction=0.0",
        ],
        tmp_path,
    )
    plan = datamodule.input_plan()[0]
    samples, images = plan.samples, datamodule.decoded_images(plan)
    dataset = SliceDataset(
        images, np.zeros(len(samples), dtype=np.int64), np.arange(len(samples)), [0.5] * 3, [0.5] * 3, plan.channels
    )
    lut = (np.arange(256) / 255 - 0.5) / 0.5
    row_at = {int(index): row for row, index in enumerate(samples["slice_index"])}
    for index in range(4):
        item = dataset[row_at[index]][0].numpy()
        for channel, neighbour in enumerate((max(index - 1, 0), index, min(index + 1, 3))):
            assert np.allclose(item[channel], lut[images[row_at[neighbour]]], atol=1e-6)


def test_fused_t2_slices_take_the_t1_slice_at_the_nearest_position_not_the_same_instance_number(tmp_path: Path) -> None:
    root = tmp_path / "dicom"
    write_series(
        root,
        "1.2.1",
        [0.0, 4.0, 8.0, 12.0, 16.0],
        instance_numbers=[5, 4, 3, 2, 1],
        te_ms=10.0,
        tr_ms=500.0,
        description="t1_tse_sag",
    )
    write_series(root, "1.2.2", [1.0, 5.0, 9.0, 13.0, 40.0], instance_numbers=[1, 2, 3, 4, 5])
    manifest = index_repository(root, progress=False).manifest
    assert sorted(manifest["modality"].unique()) == ["T1", "T2"]
    t2, t1 = fused_pairs(manifest)
    assert sorted(t2["slice_location_mm"].abs()) == pytest.approx([1.0, 5.0, 9.0, 13.0])  # 40 mm has no partner
    # each partner lies 1 mm away; the T1 slice with the same InstanceNumber would lie 15, 7, 1 or 9 mm away
    assert np.abs(t2["slice_location_mm"].to_numpy() - t1["slice_location_mm"].to_numpy()) == pytest.approx([1.0] * 4)
    plan = input_plan(manifest, "T1T2", 1)
    assert len(plan.samples) == 4 and len(plan.sources) == 8
    first = plan.channels[0]
    assert plan.sources.iloc[first[0]]["modality"] == "T1" and plan.sources.iloc[first[1]]["modality"] == "T2"
    assert first[1] == first[2]  # channels (T1, T2, T2)
    with pytest.raises(ConfigError, match=r"data\.context=1"):
        input_plan(manifest, "T1T2", 3)
