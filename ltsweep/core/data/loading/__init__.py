"""Loading a split in batches: one function, ``make_loader(...)`` -> ``EpochLoader``, for every
dataset and backend. ``protocol`` holds the loader contract, the options and the backend
registry; ``torch_backend`` and ``ffcv_backend`` register into it (importing the FFCV backend
costs no FFCV import: that is lazy)."""

from __future__ import annotations

import ltsweep.core.data.loading.ffcv_backend
import ltsweep.core.data.loading.torch_backend  # noqa: F401  (registers "torch")
from ltsweep.core.data.loading.protocol import (
    LOADER_BACKENDS,
    Batch,
    EpochLoader,
    LoaderOptions,
)


def make_loader(name: str, opts: LoaderOptions, backend: str = "torch") -> EpochLoader:
    """The loader for dataset ``name`` with the given backend (see ``LOADER_BACKENDS``)."""
    return LOADER_BACKENDS.get(backend)(name, opts)


__all__ = ["LOADER_BACKENDS", "Batch", "EpochLoader", "LoaderOptions", "make_loader"]
