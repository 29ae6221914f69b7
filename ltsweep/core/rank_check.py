"""Every rank of a data-parallel IMP run starts each level from the same mask and weights.

DDP broadcasts rank 0's weights when it wraps the model, which would hide a rank whose rewind
weights differ; it never looks at masks at all, so a rank that pruned from another file would
train another ticket while the gradients are averaged as if it did not. Each level therefore
compares, before DDP is built, a sha256 of the mask and one of the starting weights across the
ranks (an all-gather of 64 bytes per rank); any difference stops the run on every rank at once
with one line.
"""

from __future__ import annotations

import hashlib

import torch

from ltsweep.core.masks import Mask


class RanksDisagreeError(RuntimeError):
    """A rank's mask or starting weights differ from rank 0's (not retryable: the files do)."""


MARKER = "ranks disagree"  # the start of the message, found again in a worker group's failure


def tensors_sha256(tensors: dict[str, torch.Tensor]) -> bytes:
    """sha256 over names, dtypes, shapes and bytes, in name order."""
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous().reshape(-1)  # 0-dim: 1 element
        h.update(f"{name}|{t.dtype}|{tuple(tensors[name].shape)}|".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.digest()


def _as_tensor(digests: list[bytes], device: torch.device) -> torch.Tensor:
    raw = b"".join(digests)  # 32 bytes each
    return torch.frombuffer(bytearray(raw), dtype=torch.int64).to(device)


def check_ranks_agree(
    level: int, mask: Mask, weights: dict[str, torch.Tensor], device: torch.device
) -> None:
    """All-gather this rank's mask and weight digests; raise ``RanksDisagreeError`` on every
    rank if any rank's differ from rank 0's. A no-op outside an initialised process group."""
    import torch.distributed as dist

    if not dist.is_available() or not dist.is_initialized() or dist.get_world_size() < 2:
        return
    mine = _as_tensor([tensors_sha256(dict(mask.items())), tensors_sha256(weights)], device)
    gathered = [torch.empty_like(mine) for _ in range(dist.get_world_size())]
    dist.all_gather(gathered, mine)
    digests = [bytes(g.cpu().numpy().tobytes()) for g in gathered]
    for rank, digest in enumerate(digests[1:], start=1):
        for what, part in (("mask", slice(0, 32)), ("rewind weights", slice(32, 64))):
            if digest[part] != digests[0][part]:
                raise RanksDisagreeError(
                    f"{MARKER} at level {level}: rank {rank}'s {what} differ from rank 0's "
                    f"(sha256 {digest[part].hex()[:12]} vs {digests[0][part].hex()[:12]}); "
                    "every rank must read the trial's one directory (a shared file system or "
                    "the object store): check the workers' storage, then run the sweep again"
                )
