"""The DDP wrapper of a data-parallel IMP level (Ray Train workers build it, ``tune/worker_group``):
torch only, so that the core's tests exercise it without Ray."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch.nn.parallel import DistributedDataParallel

from ltsweep.core.masks import MaskFolded, unwrap


class SameNamesDDP(DistributedDataParallel):
    """DDP whose parameter names and state dict are the bare model's own.

    Masks, checkpoints and tickets are keyed by the model's parameter names; plain DDP would
    prefix every name with ``module.`` (and ``MaskFolded`` with ``model.``), and a mask could
    not find its parameters. DDP itself reads names from ``self.module``, so delegating these
    methods changes nothing in DDP."""

    def named_parameters(self, *args: Any, **kwargs: Any):
        return unwrap(self).named_parameters(*args, **kwargs)

    def named_buffers(self, *args: Any, **kwargs: Any):
        return unwrap(self).named_buffers(*args, **kwargs)

    def state_dict(self, *args: Any, **kwargs: Any):
        return unwrap(self).state_dict(*args, **kwargs)

    def load_state_dict(self, *args: Any, **kwargs: Any):
        return unwrap(self).load_state_dict(*args, **kwargs)


def same_names_ddp(
    device: torch.device, channels_last: bool, fold_mask: bool
) -> Callable[[torch.nn.Module], torch.nn.Module]:
    """How a worker wraps each level's model: channels-last on CUDA (before DDP builds its
    buckets), then ``SameNamesDDP``; with ``fold_mask`` DDP wraps ``MaskFolded(model)``, the
    composition compiled steps need (``core/compile.py``)."""

    def wrap(model: torch.nn.Module) -> torch.nn.Module:
        if device.type == "cuda" and channels_last:
            model = model.to(memory_format=torch.channels_last)
        ids = [device.index] if device.type == "cuda" else None
        return SameNamesDDP(MaskFolded(model) if fold_mask else model, device_ids=ids)

    return wrap
