"""The torch loader backend: in-memory tensor splits and decoded image folders.

An ``EpochLoader`` yields normalized ``(images, labels)`` batches on the target device for a given
epoch. Shuffling and augmentation draw from a generator seeded by (seed, epoch), so an epoch
replays identically after a resume, and rank/world_size shard the data under DDP.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch

from ltsweep.core.data import Cut, DatasetSpec, TensorSplit, dataset_spec, load_split
from ltsweep.core.data.loading.protocol import (
    LOADER_BACKENDS,
    Batch,
    EpochLoader,
    LoaderOptions,
)
from ltsweep.core.data.transforms import normalize, random_crop_flip, resize_batch


def _epoch_generator(seed: int, epoch: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed * 1_000_003 + epoch)


class TensorLoader:
    """Batches from an in-memory uint8 split, augmented on the device (no worker processes)."""

    def __init__(self, spec: DatasetSpec, data: TensorSplit, opts: LoaderOptions) -> None:
        self.opts = opts
        self.device = torch.device(opts.device)
        self.images = data.images.to(self.device)
        self.labels = data.labels.to(self.device)
        self.mean = torch.tensor(spec.mean, device=self.device).view(1, 3, 1, 1)
        self.std = torch.tensor(spec.std, device=self.device).view(1, 3, 1, 1)
        self.flip = spec.flip
        # 4 px at 32x32 (docs/design.md#training-defaults)
        self.pad = max(1, self.images.shape[-1] // 8)
        n = len(data)
        # Equal batch counts on every rank (DDP would hang on a ragged last batch): each rank
        # gets n // world_size examples, and ``num_examples`` says how many it really yields.
        per_rank = n // opts.world_size
        self._per_rank = per_rank if opts.world_size > 1 else n
        self.num_examples = self._per_rank

    def __len__(self) -> int:
        return -(-self._per_rank // self.opts.batch_size)

    def batches(self, epoch: int) -> Iterator[Batch]:
        gen = _epoch_generator(self.opts.seed, epoch)
        n = self.labels.shape[0]
        order = torch.randperm(n, generator=gen) if self.opts.train else torch.arange(n)
        order = order[self.opts.rank :: self.opts.world_size][: self._per_rank].to(self.device)
        size = self.opts.size_at(epoch)  # a resolution schedule's size, else None
        for start in range(0, len(order), self.opts.batch_size):
            idx = order[start : start + self.opts.batch_size]
            x = normalize(self.images[idx], self.mean, self.std)  # [B, 3, S, S] float
            if self.opts.train:
                x = random_crop_flip(x, self.pad, self.flip, gen)
            if size is not None:
                x = resize_batch(x, size)  # [B, 3, size, size]
            yield x, self.labels[idx]


class FolderLoader:
    """JPEG folders decoded by torch ``DataLoader`` workers (ImageNet, Places365, large image
    folders). Under a resolution schedule, ``transform_for(size)`` gives the split's transform at
    the epoch's size, set before the epoch's workers start (they get a fresh copy each epoch)."""

    def __init__(
        self,
        dataset: torch.utils.data.Dataset,
        opts: LoaderOptions,
        transform_for: Callable[[int], Any] | None = None,
    ) -> None:
        self.opts = opts
        self.dataset = dataset
        self.transform_for = transform_for
        self.device = torch.device(opts.device)
        self.num_examples = len(dataset) // opts.world_size

    def __len__(self) -> int:
        return -(-self.num_examples // self.opts.batch_size)

    def batches(self, epoch: int) -> Iterator[Batch]:
        from torch.utils.data import DataLoader
        from torch.utils.data.distributed import DistributedSampler

        sampler = DistributedSampler(
            self.dataset, self.opts.world_size, self.opts.rank, self.opts.train, self.opts.seed
        )
        sampler.set_epoch(epoch)
        size = self.opts.size_at(epoch)
        if size is not None and self.transform_for is not None:
            base = getattr(self.dataset, "dataset", self.dataset)  # a Subset's (half, subset)
            base.transform = self.transform_for(size)
        loader = DataLoader(
            self.dataset,
            self.opts.batch_size,
            sampler=sampler,
            num_workers=self.opts.workers,
            pin_memory=self.device.type == "cuda",
            persistent_workers=False,
            generator=_epoch_generator(self.opts.seed, epoch),
        )
        for x, y in loader:
            yield x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)


def _torch_backend(name: str, opts: LoaderOptions) -> EpochLoader:
    spec = dataset_spec(name, opts.folder, opts.image_size)
    cut = Cut(opts.half, opts.train_subset)
    split = load_split(
        name, "train" if opts.train else "test", opts.data_root, opts.image_size, cut, opts.folder
    )
    if isinstance(split, TensorSplit):
        return TensorLoader(spec, split, opts)
    from ltsweep.core.data.transforms import folder_transform

    name_of_split = "train" if opts.train else "test"
    return FolderLoader(split, opts, lambda size: folder_transform(spec, name_of_split, size))


LOADER_BACKENDS.register("torch", _torch_backend)
