"""What every loader backend shares: the batch type, the loader protocol, the options and the
backend registry. Backends (``torch_backend``, ``ffcv_backend``) import this module and
register into it, so no backend module imports another."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import torch

from ltsweep.core.data.image_folder.dataset import FolderData
from ltsweep.core.resolution import Resolution
from ltsweep.registry import Registry

Batch = tuple[torch.Tensor, torch.Tensor]


class EpochLoader(Protocol):
    num_examples: int
    opts: LoaderOptions

    def batches(self, epoch: int) -> Iterator[Batch]: ...

    def __len__(self) -> int: ...


@dataclass(frozen=True)
class LoaderOptions:
    """How to feed one split; ``rank``/``world_size`` shard it for data-parallel workers."""

    batch_size: int
    train: bool
    seed: int = 0
    device: str = "cpu"
    workers: int = 2
    rank: int = 0
    world_size: int = 1
    image_size: int | None = None
    data_root: str | None = None
    ffcv_dir: str | None = None  # where ``ltsweep data convert`` wrote the .beton files
    half: str | None = None  # training split cut (``subsets``); the test split is never cut
    train_subset: int | None = None
    folder: FolderData | None = None  # an image folder (``kind: image_folder``) instead of ``name``
    resolution: Resolution | None = None  # progressive resolution (docs/resolution.md)

    def size_at(self, epoch: int) -> int | None:
        """The side length this split's batches have in ``epoch`` under a resolution schedule
        (training: the schedule's size; test: its ``eval``), or None: the split's own size."""
        if self.resolution is None:
            return None
        return self.resolution.size_at(epoch) if self.train else self.resolution.eval


LOADER_BACKENDS: Registry = Registry("loader backend")
