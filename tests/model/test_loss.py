"""Under DDP with unequal shares (10 images over 4 processes: 3, 3, 2, 2) the gradient is the global mean's."""

from __future__ import annotations

import os
import socket

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel

from lss.model.module import global_mean_loss

SHARES = ([0, 4, 8], [1, 5, 9], [2, 6], [3, 7])  # items r, r+4, ... of one global batch of 10


def batch() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return torch.randn(10, 5, generator=generator), torch.randint(0, 2, (10,), generator=generator)


def model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Linear(5, 2)


def rank_gradient(rank: int, world_size: int, port: int, results: dict) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world_size)
    images, targets = batch()
    mine = SHARES[rank]
    ddp = DistributedDataParallel(model())
    per_image = F.cross_entropy(ddp(images[mine]), targets[mine], reduction="none")
    global_batch = torch.tensor(float(len(mine)))
    dist.all_reduce(global_batch)
    global_mean_loss(per_image, global_batch, world_size).backward()
    results[rank] = ddp.module.weight.grad.clone()
    dist.destroy_process_group()


def test_four_gloo_processes_get_the_gradient_of_the_mean_over_the_global_batch() -> None:
    images, targets = batch()
    single = model()
    F.cross_entropy(single(images), targets).backward()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    results = mp.Manager().dict()
    mp.spawn(rank_gradient, args=(4, port, results), nprocs=4, join=True)
    for rank in range(4):
        torch.testing.assert_close(results[rank], single.weight.grad)
    unweighted = model()  # what DDP would average without the weighting: the mean of the four rank means
    (sum(F.cross_entropy(unweighted(images[share]), targets[share]) for share in SHARES) / 4).backward()
    assert not torch.allclose(unweighted.weight.grad, single.weight.grad)
