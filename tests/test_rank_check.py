"""The ranks' check of a data-parallel IMP level (ltsweep.core.rank_check): two real gloo
processes agree when their mask and weights are equal, and both stop with one line naming the
rank and what differs when they are not."""

from __future__ import annotations

import socket

import torch
import torch.multiprocessing as mp

from ltsweep.core.masks import Mask
from ltsweep.core.rank_check import MARKER, RanksDisagreeError, check_ranks_agree, tensors_sha256


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


CASES = ("", "mask", "weights")  # what rank 1 changes


def _rank(rank: int, port: int, out: dict) -> None:
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    try:
        for differ in CASES:
            mask = Mask({"w": torch.tensor([True, False, True])})
            weights = {"w": torch.tensor([1.0, 0.0, 3.0]), "n": torch.tensor(7)}  # 0-dim buffer
            if rank == 1 and differ == "mask":
                mask = Mask({"w": torch.tensor([True, True, False])})
            if rank == 1 and differ == "weights":
                weights = {**weights, "w": torch.tensor([1.0, 0.0, 3.5])}
            try:
                check_ranks_agree(2, mask, weights, torch.device("cpu"))
                out[(differ, rank)] = "agree"
            except RanksDisagreeError as exc:
                out[(differ, rank)] = str(exc)
    finally:
        dist.destroy_process_group()


def test_equal_ranks_agree_and_a_differing_mask_or_weights_stop_both() -> None:
    with mp.Manager() as manager:
        shared = manager.dict()
        mp.spawn(_rank, args=(_free_port(), shared), nprocs=2, join=True)
        out = dict(shared)
    assert out[("", 0)] == out[("", 1)] == "agree", out
    for differ, what in (("mask", "rank 1's mask"), ("weights", "rank 1's rewind weights")):
        for rank in (0, 1):  # every rank stops, or the other would wait in DDP forever
            line = out[(differ, rank)]
            assert line.startswith(f"{MARKER} at level 2") and what in line, (rank, line)
            assert "\n" not in line, f"not one line: {line!r}"


def test_the_digest_sees_dtype_shape_and_values() -> None:
    base = {"w": torch.zeros(2, 3)}
    assert tensors_sha256(base) == tensors_sha256({"w": torch.zeros(2, 3)})
    for other in ({"w": torch.zeros(3, 2)}, {"w": torch.zeros(2, 3, dtype=torch.float64)}):
        assert tensors_sha256(base) != tensors_sha256(other), other
    assert tensors_sha256(base) != tensors_sha256({"v": torch.zeros(2, 3)}), "names not seen"
