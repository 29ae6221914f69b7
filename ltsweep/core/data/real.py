"""Real datasets, read from a data root in their standard on-disk formats.

Layout under the root (what torchvision's downloaders produce, or the usual ImageNet layout):

* ``FashionMNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte``
* ``svhn/{train,test}_32x32.mat``
* ``cifar-10-batches-py/`` and ``cifar-100-python/`` (the official Python archives, extracted)
* ``imagenet/{train,val}/<wnid>/*.JPEG``
* ``places365/{train,val}/<category>/*.jpg`` (class folders; ``ltsweep`` does not re-sort the
  official flat validation folder, see README)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ltsweep.core.data.adapt import adapt
from ltsweep.core.data.spec import DATASETS, DatasetSpec, TensorSplit, register
from ltsweep.errors import MissingDatasetError


def _missing(spec_name: str, path: Path, how: str) -> MissingDatasetError:
    return MissingDatasetError(f"dataset {spec_name!r} not found: expected {path} ({how})")


def _check(name: str, path: Path, how: str) -> None:
    if not path.exists():
        raise _missing(name, path, how)


def _from_numpy(images: np.ndarray, labels: np.ndarray, size: int) -> TensorSplit:
    return TensorSplit(
        adapt(torch.from_numpy(np.ascontiguousarray(images)), size),
        torch.from_numpy(np.asarray(labels, dtype=np.int64)),
    )


HOW_FMNIST = "torchvision.datasets.FashionMNIST(root, download=True) on a machine with internet"
FMNIST_FILES = {"train": "train", "test": "t10k"}


def read_fashion_mnist(root: Path, split: str, size: int) -> TensorSplit:
    from torchvision.datasets.mnist import read_image_file, read_label_file

    raw = root / "FashionMNIST" / "raw"
    prefix = FMNIST_FILES[split]
    paths = [raw / f"{prefix}-images-idx3-ubyte", raw / f"{prefix}-labels-idx1-ubyte"]
    for path in paths:
        _check("fashion_mnist", path, HOW_FMNIST)
    images, labels = read_image_file(str(paths[0])), read_label_file(str(paths[1]))
    return _from_numpy(images.numpy()[:, None], labels.numpy(), size)  # [N, 1, 28, 28]


HOW_SVHN = "torchvision.datasets.SVHN(root/'svhn', split=..., download=True), or the .mat files"


def read_svhn(root: Path, split: str, size: int) -> TensorSplit:
    # Read the .mat as torchvision does, without its md5 check against the official files
    # (which would refuse any other copy in the same format, e.g. a subset).
    from scipy.io import loadmat

    path = root / "svhn" / f"{split}_32x32.mat"
    _check("svhn", path, HOW_SVHN)
    mat = loadmat(str(path))
    labels = mat["y"].astype(np.int64).squeeze(1)  # [N]
    labels[labels == 10] = 0  # SVHN stores digit 0 as class 10
    return _from_numpy(np.transpose(mat["X"], (3, 2, 0, 1)), labels, size)  # [32,32,3,N]->[N,3,H,W]


HOW_CIFAR = "torchvision.datasets.{name}(root, download=True), or extract the official archive"
CIFAR_FILES = {
    "cifar10": ([f"data_batch_{i}" for i in range(1, 6)], ["test_batch"], "labels"),
    "cifar100": (["train"], ["test"], "fine_labels"),
}


def _read_cifar(cls_name: str, folder: str, name: str, root: Path, split: str, size: int):
    """The official Python batches (pickled dicts of ``data`` [N, 3072] uint8 and labels), read
    as torchvision reads them but without its md5 checks against the official archive."""
    import pickle

    train_files, test_files, label_key = CIFAR_FILES[name]
    how = HOW_CIFAR.format(name=cls_name)
    _check(name, root / folder, how)
    images, labels = [], []
    for file_name in train_files if split == "train" else test_files:
        path = root / folder / file_name
        _check(name, path, how)
        with open(path, "rb") as fh:
            entry = pickle.load(fh, encoding="latin1")  # the dataset's own format
        images.append(np.asarray(entry["data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
        labels.extend(entry[label_key])
    return _from_numpy(np.concatenate(images), np.asarray(labels), size)


def read_cifar10(root: Path, split: str, size: int) -> TensorSplit:
    return _read_cifar("CIFAR10", "cifar-10-batches-py", "cifar10", root, split, size)


def read_cifar100(root: Path, split: str, size: int) -> TensorSplit:
    return _read_cifar("CIFAR100", "cifar-100-python", "cifar100", root, split, size)


FOLDER_SPLITS = {"train": "train", "test": "val"}


def _read_folder(name: str, folder: str, how: str, root: Path, split: str, size: int):
    from torchvision.datasets import ImageFolder

    from ltsweep.core.data.transforms import folder_transform

    path = root / folder / FOLDER_SPLITS[split]
    _check(name, path, how)
    return ImageFolder(str(path), transform=folder_transform(DATASETS.get(name), split, size))


HOW_IMAGENET = "the ILSVRC-2012 train/val images sorted into one folder per wnid"
HOW_PLACES = "Places365-Standard (small images), train/val sorted into one folder per category"


def read_imagenet(root: Path, split: str, size: int):
    return _read_folder("imagenet", "imagenet", HOW_IMAGENET, root, split, size)


def read_places365(root: Path, split: str, size: int):
    return _read_folder("places365", "places365", HOW_PLACES, root, split, size)


IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
FMNIST_HOW_PATH = "FashionMNIST/raw/"
for _spec in (
    DatasetSpec(
        "fashion_mnist",
        10,
        32,
        (0.2860,) * 3,
        (0.3530,) * 3,
        True,
        "tensor",
        read_fashion_mnist,
        expected=FMNIST_HOW_PATH,
        how_to_get=HOW_FMNIST,
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
        expected="svhn/{train,test}_32x32.mat",
        how_to_get=HOW_SVHN,
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
        expected="cifar-10-batches-py/",
        how_to_get=HOW_CIFAR.format(name="CIFAR10"),
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
        expected="cifar-100-python/",
        how_to_get=HOW_CIFAR.format(name="CIFAR100"),
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
        expected="imagenet/{train,val}/<wnid>/",
        how_to_get=HOW_IMAGENET,
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
        expected="places365/{train,val}/<category>/",
        how_to_get=HOW_PLACES,
        reset_epochs=3,
    ),
):
    register(_spec)
