"""Global batches of the paper's size on 1 or 4 devices: same batches, each image once, order fixed by the seed."""

from __future__ import annotations

from pathlib import Path

from helpers.training import composed_datamodule
from lss.data.batches import GlobalBatchSampler


def epoch_of(
    length: int, world_size: int, seed: int = 0, epoch: int = 0, batch_size: int = 10
) -> list[list[list[int]]]:
    """Per rank, the batches that rank trains on in one epoch."""
    ranks = []
    for rank in range(world_size):
        sampler = GlobalBatchSampler(length, batch_size, seed, rank, world_size)
        sampler.sampler.set_epoch(epoch)
        ranks.append(list(sampler))
    return ranks


def test_ten_images_over_four_devices_are_split_3_3_2_2_and_the_global_batch_stays_ten() -> None:
    ranks = epoch_of(40, 4)
    assert [len(batch) for batch in (rank[0] for rank in ranks)] == [3, 3, 2, 2]
    assert all(len({len(rank) for rank in ranks}) == 1 for _ in ranks)  # every rank takes the same number of steps
    for step in range(len(ranks[0])):
        assert sum(len(rank[step]) for rank in ranks) == 10


def test_one_epoch_on_four_devices_sees_each_image_exactly_once_and_the_same_batches_as_one_device() -> None:
    one, four = epoch_of(40, 1), epoch_of(40, 4)
    seen = [image for rank in four for batch in rank for image in batch]
    assert sorted(seen) == list(range(40))
    assert [sorted(image for rank in four for image in rank[step]) for step in range(4)] == [sorted(b) for b in one[0]]


def test_the_incomplete_last_global_batch_is_dropped_as_matlab_does_and_nothing_is_repeated() -> None:
    four = epoch_of(43, 4)
    seen = [image for rank in four for batch in rank for image in batch]
    assert len(seen) == len(set(seen)) == 40  # 3 left over, never padded by repeating images
    assert epoch_of(7, 1) == [[epoch_of(7, 1)[0][0]]] and len(epoch_of(7, 1)[0][0]) == 7  # a lone short batch is kept


def test_the_training_order_changes_every_epoch_and_the_seed_alone_fixes_it() -> None:
    assert epoch_of(40, 1, seed=0, epoch=0) == epoch_of(40, 1, seed=0, epoch=0)
    assert epoch_of(40, 1, seed=0, epoch=0) != epoch_of(40, 1, seed=0, epoch=1)
    assert epoch_of(40, 1, seed=0, epoch=0) != epoch_of(40, 1, seed=1, epoch=0)


def test_the_phantoms_training_split_on_four_devices_at_batch_ten(phantom_manifest: Path, phantom_dir: Path) -> None:
    """The phantom's real training split dealt to 4 ranks: each training image once per epoch, remainder dropped."""
    datamodule = composed_datamodule(
        [
            "modality=T2",
            "seed=0",
            f"data.root={phantom_dir}",
            f"data.manifest={phantom_manifest}",
            "data.input_size=[32,32]",
            "data.batch_size=10",
            "data.split_by=patient",
        ],
        phantom_dir.parent / "batches",
    )
    datamodule.setup()
    n_train = len(datamodule.split.train)
    ranks = epoch_of(n_train, 4)
    rows = [int(datamodule.train_set.rows[image]) for rank in ranks for batch in rank for image in batch]
    assert len(rows) == len(set(rows)) == n_train - n_train % 10
    assert set(rows) <= set(datamodule.split.train.tolist())
