"""Dataset registry. Each entry says how to read a split and how to adapt it to the model.

Two storage kinds: ``tensor`` datasets (embedded ones, Fashion-MNIST, SVHN, CIFAR) are read once
into uint8 tensors ``[N, 3, S, S]`` already adapted (channels, size); ``folder`` datasets
(ImageNet, Places365) stay on disk as JPEG folders and are decoded by loader workers.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from ltsweep.core.data.spec import DATASETS, DatasetSpec, TensorSplit, register
from ltsweep.errors import UserError

DATA_ROOT_ENV = "LTSWEEP_DATA"


def _load_all() -> None:
    from ltsweep.core.data import embedded, real  # noqa: F401  (registers the datasets)


def get_spec(name: str) -> DatasetSpec:
    _load_all()
    return DATASETS.get(name)


def dataset_names() -> list[str]:
    _load_all()
    return DATASETS.names()


def resolve_root(data_root: str | Path | None) -> Path | None:
    """The data root from the argument, else ``$LTSWEEP_DATA``; ``None`` if neither is set."""
    root = data_root or os.environ.get(DATA_ROOT_ENV)
    return Path(root).expanduser() if root else None


def require_root(spec: DatasetSpec, data_root: str | Path | None) -> Path:
    root = resolve_root(data_root)
    if root is None:
        raise UserError(
            f"dataset {spec.name!r} needs a data root: pass --data-root DIR or set "
            f"{DATA_ROOT_ENV}; expected {spec.expected} under it ({spec.how_to_get})"
        )
    if not root.is_dir():
        raise UserError(f"data root {root} does not exist; pass --data-root or set {DATA_ROOT_ENV}")
    return root


def load_split(
    name: str, split: str, data_root: str | Path | None = None, image_size: int | None = None
) -> object:
    """Read one split ("train" or "test") of a registered dataset, adapted to ``image_size``."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', not {split!r}")
    spec = get_spec(name)
    size = image_size or spec.image_size
    root = None if spec.embedded else require_root(spec, data_root)
    if spec.storage == "tensor":
        return _cached_tensor_split(name, split, str(root) if root else None, size)
    return spec.reader(root, split, size)


@functools.lru_cache(maxsize=8)
def _cached_tensor_split(name: str, split: str, root: str | None, size: int) -> TensorSplit:
    # Cached per process: Tune reuses actors across trials, so a dataset is read once per worker.
    spec = get_spec(name)
    return spec.reader(Path(root) if root else None, split, size)


__all__ = [
    "DATASETS",
    "DATA_ROOT_ENV",
    "DatasetSpec",
    "TensorSplit",
    "dataset_names",
    "get_spec",
    "load_split",
    "register",
    "require_root",
    "resolve_root",
]
