"""The one rule for where ltsweep keeps what it can rebuild: this machine's cache folders.

Every cache lives under one root, ``$LTSWEEP_CACHE``, else ``$XDG_CACHE_HOME/ltsweep``, else
``~/.cache/ltsweep``, in a sub-folder named after what it holds:

    inductor/        compiled steps (``core.compile``; ``$LTSWEEP_COMPILE_CACHE`` moves it alone)
    image_folders/   an image folder's statistics, by its listing's hash (``core.data.image_folder``)
    stores/          working copies of object-store sweeps (``storage.store``)
    bundles/         imported ticket bundles' level files, verified, by bundle id
                     (``storage.bundles``)

Deleting any of them costs time, never results: each is rebuilt on the next use.
"""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "LTSWEEP_CACHE"


def cache_root() -> Path:
    """``$LTSWEEP_CACHE``, else ``$XDG_CACHE_HOME/ltsweep``, else ``~/.cache/ltsweep``."""
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "ltsweep"


def cache_folder(name: str, override_env: str | None = None) -> Path:
    """The cache folder ``name`` under ``cache_root()``; ``$override_env``, when set, instead."""
    explicit = os.environ.get(override_env) if override_env else None
    return Path(explicit).expanduser() if explicit else cache_root() / name
