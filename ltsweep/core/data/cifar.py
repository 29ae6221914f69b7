"""CIFAR-10/100 as published: the official ``*-python.tar.gz`` read in place, or its folder.

Both forms hold the same pickled batches (dicts of ``data`` ``[N, 3072]`` uint8 and labels);
they go through ``safe_pickle``, which builds plain data and numpy arrays only.
"""

from __future__ import annotations

import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ltsweep.core.data.locate import Place
from ltsweep.core.data.safe_pickle import load_data_pickle
from ltsweep.errors import MissingDatasetError, UserError


@dataclass(frozen=True)
class CifarFormat:
    folder: str  # the folder inside the archive (and when extracted)
    archive: str
    train: tuple[str, ...]
    test: tuple[str, ...]
    label_key: str

    @property
    def places(self) -> tuple[Place, ...]:
        return (Place(self.folder), Place(self.archive))


FORMATS = {
    "cifar10": CifarFormat(
        "cifar-10-batches-py",
        "cifar-10-python.tar.gz",
        tuple(f"data_batch_{i}" for i in range(1, 6)),
        ("test_batch",),
        "labels",
    ),
    "cifar100": CifarFormat(
        "cifar-100-python", "cifar-100-python.tar.gz", ("train",), ("test",), "fine_labels"
    ),
}
HOW = (
    "torchvision.datasets.{cls}(root, download=True), or the official archive from "
    "https://www.cs.toronto.edu/~kriz/cifar.html under the data root"
)
CLASS_NAMES = {"cifar10": "CIFAR10", "cifar100": "CIFAR100"}


def how(dataset: str) -> str:
    return HOW.format(cls=CLASS_NAMES[dataset])


def _members(location: Path, fmt: CifarFormat, names: tuple[str, ...], dataset: str):
    """(display name, bytes) of each batch, from the folder or straight from the archive."""
    if location.is_dir():
        for name in names:
            path = location / name
            if not path.exists():
                raise MissingDatasetError(
                    f"dataset {dataset!r}: {path} is missing ({how(dataset)})"
                )
            yield path, path.read_bytes()
        return
    try:
        with tarfile.open(location, "r:gz") as tar:
            for name in names:
                member = f"{fmt.folder}/{name}"
                try:
                    fh = tar.extractfile(member)
                except KeyError:
                    fh = None
                if fh is None:
                    raise MissingDatasetError(
                        f"dataset {dataset!r}: {location} has no {member} ({how(dataset)})"
                    )
                yield f"{location}:{member}", fh.read()
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise UserError(
            f"{location}: corrupt or truncated archive ({exc}); download it again"
        ) from None


def read_cifar_arrays(dataset: str, location: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Images ``[N, 3, 32, 32]`` uint8 and labels ``[N]`` of one split."""
    fmt = FORMATS[dataset]
    images, labels = [], []
    for name, data in _members(location, fmt, fmt.train if split == "train" else fmt.test, dataset):
        entry = load_data_pickle(data, name)
        if not isinstance(entry, dict) or "data" not in entry or fmt.label_key not in entry:
            raise UserError(f"{name}: not a CIFAR batch (no 'data'/{fmt.label_key!r})")
        images.append(np.asarray(entry["data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
        labels.extend(entry[fmt.label_key])
    return np.concatenate(images), np.asarray(labels, dtype=np.int64)
