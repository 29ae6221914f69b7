"""Image folders as datasets (``kind: image_folder`` in a sweep): no code, no registration.

``describe_folder`` runs at plan time: it lists the folder (``listing``), decodes every image
once to check it and to compute the training split's statistics (``decoding``, cached) and
returns a ``FolderData`` that travels inside the trial's job, so a Ray worker needs neither the
cache nor a second pass. ``folder_spec`` turns it into a ``DatasetSpec`` like a registered one's:
at ``image_size`` <= ``IN_MEMORY_MAX_SIDE`` the images are decoded once into memory and trained
with the 32x32 recipe (pad-crop + flip on the device); larger ones stay on disk and loader
workers decode them with the ImageNet recipe (random-resized crop + flip; resize + centre crop to
test), as the registered datasets of those sizes are trained. The late-reset point defaults to
1 epoch (ImageNet's 3 is about ImageNet's size, not its image size).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from ltsweep.core.data.spec import DatasetSpec, TensorSplit
from ltsweep.errors import UserError

IN_MEMORY_MAX_SIDE = 64


@dataclass(frozen=True)
class FolderData:
    """What a trial needs to read an image folder; all but ``path`` is in the trial key."""

    path: str
    test_fraction: float | None  # None: the folder has train/ and val/ (or test/)
    files_sha256: str  # class names, and every file's split, relative path and size
    classes: tuple[str, ...]
    train_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


@functools.lru_cache(maxsize=16)
def _listing(path: str, test_fraction: float | None):
    from ltsweep.core.data.image_folder.listing import scan_folder

    return scan_folder(Path(path), test_fraction)


def describe_folder(path: Path, test_fraction: float | None = None) -> FolderData:
    """List, check and measure the folder at ``path`` (statistics cached by its file list)."""
    from ltsweep.core.data.image_folder.decoding import folder_stats

    listing = _listing(str(path), test_fraction)
    stats = folder_stats(listing)
    return FolderData(
        str(path),
        test_fraction,
        listing.sha256,
        listing.classes,
        len(listing.train),
        tuple(stats["mean"]),  # type: ignore[arg-type]
        tuple(stats["std"]),  # type: ignore[arg-type]
    )


def folder_test_size(folder: FolderData) -> int:
    """Test images of a described folder (its listing is cached: no second walk)."""
    return len(_listing(folder.path, folder.test_fraction).test)


def _current_listing(folder: FolderData):
    listing = _listing(folder.path, folder.test_fraction)
    if listing.sha256 != folder.files_sha256:
        raise UserError(
            f"image folder {folder.path} changed since the sweep was planned (files added, "
            "removed or resized); plan the sweep again (its trial keys change with the files)"
        )
    return listing


def _read_in_memory(folder: FolderData, split: str, size: int) -> TensorSplit:
    import numpy as np
    import torch

    from ltsweep.core.data.image_folder.decoding import decode_square

    listing = _current_listing(folder)
    files = getattr(listing, split)
    images = np.stack([decode_square(listing.root / rel, size) for rel, _ in files])
    labels = np.asarray([label for _, label in files], dtype=np.int64)
    return TensorSplit(torch.from_numpy(images), torch.from_numpy(labels))


class FolderImages:
    """A map-style dataset over an image folder's split, decoded per item by loader workers;
    ``targets`` (the labels) is what the class-balanced cuts read."""

    def __init__(self, folder: FolderData, split: str, transform) -> None:
        listing = _current_listing(folder)
        files = getattr(listing, split)
        self.paths = [listing.root / rel for rel, _ in files]
        self.targets = [label for _, label in files]
        self.transform = transform

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int):
        from ltsweep.core.data.image_folder.decoding import open_rgb

        img, _ = open_rgb(self.paths[index])
        return self.transform(img), self.targets[index]


def folder_spec(name: str, folder: FolderData, image_size: int) -> DatasetSpec:
    """The ``DatasetSpec`` of an image folder at ``image_size`` (its classes and statistics)."""
    from ltsweep.core.data.transforms import folder_transform

    in_memory = image_size <= IN_MEMORY_MAX_SIDE

    def read(location: Path | None, split: str, size: int):
        if in_memory:
            return _read_in_memory(folder, split, size)
        return FolderImages(folder, split, folder_transform(spec, split, size))

    spec = DatasetSpec(
        name,
        len(folder.classes),
        image_size,
        folder.mean,
        folder.std,
        True,
        "tensor" if in_memory else "folder",
        read,
        how_to_get=f"image folder {folder.path}",
        train_size=folder.train_size,
    )
    return spec
