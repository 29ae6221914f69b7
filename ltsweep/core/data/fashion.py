"""Fashion-MNIST as zalando publishes it: four idx files, gzipped or not.

Accepted forms (searched in this order, see ``PLACES``): torchvision's ``FashionMNIST/raw/``,
a ``fashion-mnist/`` or ``fashion_mnist/`` folder, or the files directly in the data root; with
no data root, Debian's ``dataset-fashion-mnist`` package location. In each, a file is read as
``NAME`` or ``NAME.gz``.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

from ltsweep.core.data.locate import Place
from ltsweep.errors import MissingDatasetError, UserError

SYSTEM_DIR = "/usr/share/datasets/fashion-mnist"
PLACES = (
    Place("FashionMNIST/raw", "*-images-idx3-ubyte*"),
    Place("fashion-mnist", "*-images-idx3-ubyte*"),
    Place("fashion_mnist", "*-images-idx3-ubyte*"),
    Place("", "*-images-idx3-ubyte*"),
    Place(SYSTEM_DIR, "*-images-idx3-ubyte*"),
)
HOW = (
    "apt-get install dataset-fashion-mnist (Debian), or the four .gz files of "
    "github.com/zalandoresearch/fashion-mnist under the data root"
)
PREFIX = {"train": "train", "test": "t10k"}
IDX_UBYTE = 0x08


def _file(folder: Path, name: str) -> Path:
    for path in (folder / name, folder / f"{name}.gz"):
        if path.exists():
            return path
    raise MissingDatasetError(
        f"dataset 'fashion_mnist': {folder / name} (or .gz) is missing ({HOW})"
    )


def read_idx(path: Path) -> np.ndarray:
    """One idx file (magic 0 0 0x08 ndim, big-endian dims, uint8 bytes), gzipped or not."""
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (EOFError, OSError, zlib.error) as exc:
        raise UserError(f"{path}: corrupt or truncated gzip ({exc}); download it again") from None
    if len(raw) < 4 or raw[:2] != b"\0\0" or raw[2] != IDX_UBYTE:
        raise UserError(f"{path}: not an idx ubyte file; download it again")
    ndim = raw[3]
    dims = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
    body = np.frombuffer(bytearray(raw), dtype=np.uint8, offset=4 + 4 * ndim)  # writable
    if body.size != int(np.prod(dims)):
        raise UserError(
            f"{path}: truncated ({body.size} of {int(np.prod(dims))} bytes); download it again"
        )
    return body.reshape(dims)


def read_fashion_arrays(folder: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Images ``[N, 1, 28, 28]`` uint8 and labels ``[N]`` of one split, as stored."""
    prefix = PREFIX[split]
    images = read_idx(_file(folder, f"{prefix}-images-idx3-ubyte"))
    labels = read_idx(_file(folder, f"{prefix}-labels-idx1-ubyte"))
    if len(images) != len(labels):
        raise UserError(f"{folder}: {len(images)} {split} images but {len(labels)} labels")
    return images[:, None], labels
