"""Real datasets, registered with their search orders (``places``) and readers.

Each reader gets the place that holds the dataset (found by ``locate``) and returns one split:

* Fashion-MNIST: the idx files, gzipped or not (``fashion``), incl. Debian's package location
* SVHN: ``svhn/{train,test}_32x32.mat``
* CIFAR-10/100: the official ``*-python.tar.gz`` read in place, or extracted (``cifar``)
* ImageNet / Places365: ``{train,val}/<class>/*`` folders (``ltsweep`` does not re-sort
  Places365's official flat validation folder, see docs/datasets.md)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ltsweep.core.data.cifar import FORMATS, how, read_cifar_arrays
from ltsweep.core.data.fashion import HOW as HOW_FMNIST
from ltsweep.core.data.fashion import PLACES as FMNIST_PLACES
from ltsweep.core.data.fashion import read_fashion_arrays
from ltsweep.core.data.locate import Place
from ltsweep.core.data.spec import DATASETS, DatasetSpec, TensorSplit, register
from ltsweep.errors import MissingDatasetError


def _from_numpy(images: np.ndarray, labels: np.ndarray, size: int) -> TensorSplit:
    import torch  # here, not at import: the planner reads the specs without torch

    from ltsweep.core.data.adapt import adapt

    return TensorSplit(
        adapt(torch.from_numpy(np.ascontiguousarray(images)), size),
        torch.from_numpy(np.asarray(labels, dtype=np.int64)),
    )


def read_fashion_mnist(location: Path, split: str, size: int) -> TensorSplit:
    return _from_numpy(*read_fashion_arrays(location, split), size)  # [N, 1, 28, 28]


HOW_SVHN = "torchvision.datasets.SVHN(root/'svhn', split=..., download=True), or the .mat files"


def read_svhn(location: Path, split: str, size: int) -> TensorSplit:
    # Read the .mat as torchvision does, without its md5 check against the official files
    # (which would refuse any other copy in the same format, e.g. a subset).
    from scipy.io import loadmat

    path = location / f"{split}_32x32.mat"
    if not path.exists():
        raise MissingDatasetError(f"dataset 'svhn': {path} is missing ({HOW_SVHN})")
    mat = loadmat(str(path))
    labels = mat["y"].astype(np.int64).squeeze(1)  # [N]
    labels[labels == 10] = 0  # SVHN stores digit 0 as class 10
    return _from_numpy(np.transpose(mat["X"], (3, 2, 0, 1)), labels, size)  # [32,32,3,N]->[N,3,H,W]


def read_cifar10(location: Path, split: str, size: int) -> TensorSplit:
    return _from_numpy(*read_cifar_arrays("cifar10", location, split), size)


def read_cifar100(location: Path, split: str, size: int) -> TensorSplit:
    return _from_numpy(*read_cifar_arrays("cifar100", location, split), size)


FOLDER_SPLITS = {"train": "train", "test": "val"}


def _read_folder(name: str, how: str, location: Path, split: str, size: int):
    from torchvision.datasets import ImageFolder

    from ltsweep.core.data.transforms import folder_transform

    path = location / FOLDER_SPLITS[split]
    if not path.exists():
        raise MissingDatasetError(f"dataset {name!r}: {path} is missing ({how})")
    return ImageFolder(str(path), transform=folder_transform(DATASETS.get(name), split, size))


HOW_IMAGENET = "the ILSVRC-2012 train/val images sorted into one folder per wnid"
HOW_PLACES = "Places365-Standard (small images), train/val sorted into one folder per category"


def read_imagenet(location: Path, split: str, size: int):
    return _read_folder("imagenet", HOW_IMAGENET, location, split, size)


def read_places365(location: Path, split: str, size: int):
    return _read_folder("places365", HOW_PLACES, location, split, size)


IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
for _spec in (
    DatasetSpec(
        "fashion_mnist",
        10,
        32,
        (0.2860,) * 3,  # tests/test_real_fashion.py recomputes these from the real files
        (0.3530,) * 3,
        True,
        "tensor",
        read_fashion_mnist,
        places=FMNIST_PLACES,
        how_to_get=HOW_FMNIST,
        train_size=60_000,
        test_size=10_000,
    ),
    DatasetSpec(
        "svhn",
        10,
        32,
        (0.4377, 0.4438, 0.4728),
        (0.1980, 0.2010, 0.1970),
        False,
        "tensor",
        read_svhn,
        places=(Place("svhn"),),
        how_to_get=HOW_SVHN,
        train_size=73_257,
        test_size=26_032,
    ),
    DatasetSpec(
        "cifar10",
        10,
        32,
        (0.4914, 0.4822, 0.4465),
        (0.2470, 0.2435, 0.2616),
        True,
        "tensor",
        read_cifar10,
        places=FORMATS["cifar10"].places,
        how_to_get=how("cifar10"),
        train_size=50_000,
        test_size=10_000,
    ),
    DatasetSpec(
        "cifar100",
        100,
        32,
        (0.5071, 0.4865, 0.4409),
        (0.2673, 0.2564, 0.2762),
        True,
        "tensor",
        read_cifar100,
        places=FORMATS["cifar100"].places,
        how_to_get=how("cifar100"),
        train_size=50_000,
        test_size=10_000,
    ),
    DatasetSpec(
        "imagenet",
        1000,
        224,
        IMAGENET_MEAN,
        IMAGENET_STD,
        True,
        "folder",
        read_imagenet,
        places=(Place("imagenet"),),
        how_to_get=HOW_IMAGENET,
        train_size=1_281_167,
        test_size=50_000,  # the validation split, ltsweep's test split for ImageNet
        reset_epochs=3,
    ),
    DatasetSpec(
        "places365",
        365,
        224,
        (0.458, 0.441, 0.408),
        (0.273, 0.270, 0.288),
        True,
        "folder",
        read_places365,
        places=(Place("places365"),),
        how_to_get=HOW_PLACES,
        train_size=1_803_460,  # Places365-Standard
        test_size=36_500,  # its validation split
        reset_epochs=3,
    ),
):
    register(_spec)
