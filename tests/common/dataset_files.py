"""Tiny real-dataset files in each publisher's on-disk format, written here (no download)."""

from __future__ import annotations

import pickle
import struct
from pathlib import Path

import numpy as np


def _rng() -> np.random.Generator:
    return np.random.default_rng(0)


def write_idx(path: Path, array: np.ndarray) -> None:
    """The MNIST idx format: magic (0, 0, type 0x08 = ubyte, ndim), big-endian dims, raw bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(
        f">{array.ndim}I", *array.shape
    )
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def make_fashion_mnist(root: Path, n: int = 12) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    out = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        images = _rng().integers(1, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = np.arange(n, dtype=np.uint8) % 10
        raw = root / "FashionMNIST" / "raw"
        write_idx(raw / f"{prefix}-images-idx3-ubyte", images)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels)
        out[split] = (images, labels)
    return out


def make_svhn(root: Path, n: int = 11) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """torchvision's layout: X ``[32, 32, 3, N]`` uint8, y ``[N, 1]`` with 10 standing for 0."""
    from scipy.io import savemat

    out = {}
    (root / "svhn").mkdir(parents=True, exist_ok=True)
    for split in ("train", "test"):
        x = _rng().integers(0, 256, size=(32, 32, 3, n), dtype=np.uint8)
        y = (np.arange(n) % 10 + 1).reshape(n, 1).astype(np.uint8)  # 1..10
        savemat(root / "svhn" / f"{split}_32x32.mat", {"X": x, "y": y})
        out[split] = (x, y)
    return out


def _pickle(path: Path, obj: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        pickle.dump(obj, fh, protocol=2)


def make_cifar10(root: Path, per_batch: int = 4) -> dict[str, tuple[np.ndarray, list[int]]]:
    folder = root / "cifar-10-batches-py"
    rng = _rng()
    parts = []
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, size=(per_batch, 3072), dtype=np.uint8)
        labels = [int(v) for v in rng.integers(0, 10, size=per_batch)]
        _pickle(folder / name, {"batch_label": name, "data": data, "labels": labels})
        parts.append((data, labels))
    _pickle(folder / "batches.meta", {"label_names": [f"c{i}" for i in range(10)]})
    train = (np.concatenate([d for d, _ in parts[:5]]), [v for _, y in parts[:5] for v in y])
    return {"train": train, "test": parts[5]}


def make_cifar100(root: Path, n: int = 6) -> dict[str, tuple[np.ndarray, list[int]]]:
    folder = root / "cifar-100-python"
    rng = _rng()
    out = {}
    for split in ("train", "test"):
        data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
        fine = [int(v) for v in rng.integers(0, 100, size=n)]
        coarse = [v // 5 for v in fine]
        _pickle(folder / split, {"data": data, "fine_labels": fine, "coarse_labels": coarse})
        out[split] = (data, fine)
    _pickle(
        folder / "meta",
        {
            "fine_label_names": [f"f{i}" for i in range(100)],
            "coarse_label_names": [f"c{i}" for i in range(20)],
        },
    )
    return out


def make_folder_dataset(root: Path, folder: str, classes: tuple[str, ...], per_class: int = 2):
    from PIL import Image

    rng = _rng()
    for split in ("train", "val"):
        for cls in classes:
            d = root / folder / split / cls
            d.mkdir(parents=True, exist_ok=True)
            for i in range(per_class):
                pixels = rng.integers(0, 256, size=(40, 56, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(d / f"{cls}_{i}.JPEG", quality=90)


def make_imagenet_jpegs(root: Path, per_split: int = 12) -> None:
    """A 2-class ImageNet-layout folder (``root/imagenet/{train,val}/<wnid>/``) of small JPEGs
    (48x40, drawn from the shapes generator): what folder loaders and FFCV's JPEG path read."""
    from PIL import Image

    from ltsweep.core.data import load_split

    data = load_split("shapes", "test")
    for split, start in (("train", 0), ("val", 40)):
        for i in range(start, start + per_split):
            label = int(data.labels[i]) % 2
            folder = root / "imagenet" / split / f"n0000000{label}"
            folder.mkdir(parents=True, exist_ok=True)
            img = Image.fromarray(data.images[i].permute(1, 2, 0).numpy()).resize((48, 40))
            img.save(folder / f"{i}.JPEG", quality=95)
