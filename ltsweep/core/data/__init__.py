"""Dataset registry. Each entry says how to read a split and how to adapt it to the model.

Two storage kinds: ``tensor`` datasets (embedded ones, Fashion-MNIST, SVHN, CIFAR) are read once
into uint8 tensors ``[N, 3, S, S]`` already adapted (channels, size); ``folder`` datasets
(ImageNet, Places365) stay on disk as JPEG folders and are decoded by loader workers. Image
folders (``kind: image_folder``, ``image_folder.py``) are not registered: their spec is made from
the ``FolderData`` a trial carries (``dataset_spec``). Plugins' datasets register on first use.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np

from ltsweep.core.data.image_folder.dataset import FolderData, folder_spec
from ltsweep.core.data.locate import candidates, locate
from ltsweep.core.data.spec import DATASETS, DatasetSpec, TensorSplit, register
from ltsweep.core.data.subsets import Cut, balanced_indices
from ltsweep.errors import MissingDatasetError, UserError

DATA_ROOT_ENV = "LTSWEEP_DATA"
WHOLE = Cut()  # the whole training split


def _load_all() -> None:
    from ltsweep.core.data import embedded, real  # noqa: F401  (registers the datasets)
    from ltsweep.plugins import load_group

    load_group("datasets", register_plugin)


def register_plugin(name: str, obj: object) -> None:
    """Register a plugin's dataset: a ``DatasetSpec`` named ``name``, or a function making one."""
    spec = obj
    if callable(obj):
        try:
            spec = obj()
        except Exception as exc:
            raise UserError(
                f"failed to make its DatasetSpec: {type(exc).__name__}: {exc}"
            ) from None
    if not isinstance(spec, DatasetSpec):
        raise UserError(f"gives a {type(spec).__name__}, not a DatasetSpec")
    if spec.name != name:
        raise UserError(f"gives a DatasetSpec named {spec.name!r}; name both alike")
    if name in DATASETS:
        raise UserError(f"dataset {name!r} already exists; rename the plugin's")
    DATASETS.register(name, spec)


def get_spec(name: str) -> DatasetSpec:
    _load_all()
    return DATASETS.get(name)


@functools.lru_cache(maxsize=32)
def dataset_spec(name: str, folder: FolderData | None = None, image_size: int | None = None):
    """The spec of a registered dataset, or of an image folder (``folder``) at ``image_size``."""
    if folder is None:
        return get_spec(name)
    if image_size is None:
        raise UserError(f"image folder {name!r} needs an image_size")
    return folder_spec(name, folder, image_size)


def check_class_count(spec: DatasetSpec, data_root: str | Path | None) -> str | None:
    """For a registered folder dataset whose files are found: a problem if its class folders do
    not number the registered class count (a 3-class folder read as ImageNet trains a 1000-way
    head), else None."""
    if spec.storage != "folder" or spec.embedded:
        return None
    root = resolve_root(data_root)
    if root is not None and not root.is_dir():
        return None
    where = locate(spec.places, root)
    train = where / "train" if where is not None else None
    if train is None or not train.is_dir():
        return None
    found = sum(1 for p in train.iterdir() if p.is_dir() and not p.name.startswith("."))
    if found == spec.num_classes:
        return None
    return (
        f"dataset {spec.name!r} has {spec.num_classes} classes but {train} holds {found} class "
        f"folders; for a folder of your own use `kind: image_folder` with `path: {where}`"
    )


def dataset_names() -> list[str]:
    _load_all()
    return DATASETS.names()


def resolve_root(
    data_root: str | Path | None, sweep_data_root: str | Path | None = None
) -> Path | None:
    """The one precedence for the data root: the command line's ``--data-root`` (``data_root``),
    else ``$LTSWEEP_DATA``, else the sweep file's ``data_root``; ``None`` if none is set."""
    root = data_root or os.environ.get(DATA_ROOT_ENV) or sweep_data_root
    return Path(root).expanduser() if root else None


def require_root(spec: DatasetSpec, data_root: str | Path | None) -> Path | None:
    """The data root to search; ``None`` when none is given and ``spec`` has a system place."""
    root = resolve_root(data_root)
    if root is None:
        if any(p.system for p in spec.places):
            return None
        expected = spec.places[0].path if spec.places else spec.name
        raise UserError(
            f"dataset {spec.name!r} needs a data root: pass --data-root DIR or set "
            f"{DATA_ROOT_ENV}; expected {expected} under it ({spec.how_to_get})"
        )
    if not root.is_dir():
        raise UserError(f"data root {root} does not exist; pass --data-root or set {DATA_ROOT_ENV}")
    return root


def find_dataset(spec: DatasetSpec, data_root: str | Path | None) -> Path:
    """The place holding ``spec``'s files, by its search order; else a one-line error that
    lists every place looked and how to get the data."""
    root = require_root(spec, data_root)
    found = locate(spec.places, root)
    if found is None:
        looked = ", ".join(str(p) for p in candidates(spec.places, root))
        other = f"; or pass --data-root DIR / set {DATA_ROOT_ENV}" if root is None else ""
        raise MissingDatasetError(
            f"dataset {spec.name!r} not found; looked in {looked} ({spec.how_to_get}{other})"
        )
    return found


def load_split(
    name: str,
    split: str,
    data_root: str | Path | None = None,
    image_size: int | None = None,
    cut: Cut = WHOLE,
    folder: FolderData | None = None,
) -> object:
    """Read one split ("train" or "test") of a registered dataset or an image folder
    (``folder``), adapted to ``image_size``; ``cut`` (a half, a subset) applies to the training
    split only."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', not {split!r}")
    spec = dataset_spec(name, folder, image_size)
    size = image_size or spec.image_size
    if folder is not None:
        where: Path | None = Path(folder.path)
    else:
        where = None if spec.embedded else find_dataset(spec, data_root)
    cut = cut if split == "train" else WHOLE
    if spec.storage == "tensor":
        return _cached_tensor_split(name, split, str(where) if where else None, size, cut, folder)
    data = spec.reader(where, split, size)
    if cut.whole:
        return data
    from torch.utils.data import Subset

    keep = balanced_indices(np.asarray(data.targets), cut, name)  # type: ignore[attr-defined]
    return Subset(data, keep.tolist())


@functools.lru_cache(maxsize=8)
def _cached_tensor_split(
    name: str, split: str, where: str | None, size: int, cut: Cut, folder: FolderData | None
) -> TensorSplit:
    import torch  # here, not at import: the planner reads the specs without torch

    # Cached per process: Tune reuses actors across trials, so a dataset is read once per worker.
    if not cut.whole:
        full = _cached_tensor_split(name, split, where, size, WHOLE, folder)
        keep = torch.from_numpy(balanced_indices(full.labels.numpy(), cut, name))
        return TensorSplit(full.images[keep], full.labels[keep])
    spec = dataset_spec(name, folder, size)
    return spec.reader(Path(where) if where else None, split, size)


__all__ = [
    "DATASETS",
    "DATA_ROOT_ENV",
    "Cut",
    "DatasetSpec",
    "FolderData",
    "TensorSplit",
    "check_class_count",
    "dataset_names",
    "dataset_spec",
    "find_dataset",
    "get_spec",
    "load_split",
    "register",
    "require_root",
    "resolve_root",
]
