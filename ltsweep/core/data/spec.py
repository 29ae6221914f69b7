"""What a dataset is (``DatasetSpec``, ``TensorSplit``) and the registry the dataset modules
register into. Kept apart from ``ltsweep.core.data`` so that ``embedded`` and ``real`` import
this module, not the package that imports them: no import circle."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ltsweep.core.data.locate import Place
from ltsweep.registry import Registry

if TYPE_CHECKING:  # specs are read by the planner and the CLI, which must not import torch
    import torch


@dataclass(frozen=True)
class TensorSplit:
    """One split in memory: ``images`` uint8 ``[N, 3, S, S]``, ``labels`` int64 ``[N]``."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return int(self.labels.shape[0])


@dataclass(frozen=True)
class DatasetSpec:
    """What the rest of ltsweep needs to know about a dataset; registered by name."""

    name: str
    num_classes: int
    # side the model sees: 32 for 32x32 datasets, 224 else (docs/design.md#training-defaults)
    image_size: int
    mean: tuple[float, float, float]  # per channel, of the training split, in [0, 1] units
    std: tuple[float, float, float]
    flip: bool  # horizontal flips are a valid augmentation (not for digits or SVHN)
    storage: str  # "tensor" or "folder"
    reader: Callable[..., object]  # (location, split, image_size) -> TensorSplit | torchvision ds
    embedded: bool = False
    places: tuple[Place, ...] = ()  # the search order (see ``locate``); empty when embedded
    how_to_get: str = ""
    train_size: int | None = None  # images in the training split, for plan-time subset checks
    test_size: int | None = None  # images in the test split: the report's resolution (one image)
    # late-reset point: 1 epoch for 32x32 data, 3 for ImageNet (docs/design.md#imp-protocol)
    reset_epochs: int = 1


DATASETS: Registry[DatasetSpec] = Registry("dataset")


def register(spec: DatasetSpec) -> DatasetSpec:
    DATASETS.register(spec.name, spec)
    return spec
