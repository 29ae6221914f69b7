"""A restricted unpickler for data files (CIFAR's Python batches are pickles).

``pickle.load`` runs whatever a file asks for; a data file must not run code. This unpickler
resolves only the globals that numpy arrays are rebuilt from, so a batch of dicts, lists,
strings, bytes, numbers and arrays loads and anything else (``os.system``, ``eval``, any other
class) is refused with a one-line error naming the file.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

from ltsweep.errors import UserError

# (module, name) pairs a pickled numpy array needs; nothing that can call arbitrary code.
ALLOWED = frozenset(
    {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy.core.numeric", "_frombuffer"),  # protocol 5
        ("numpy._core.numeric", "_frombuffer"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),  # protocol-2 pickles store array bytes through it
    }
)


class UnsafePickleError(UserError):
    """A data file asked the unpickler for something other than plain data."""


class _DataUnpickler(pickle.Unpickler):
    def __init__(self, fh: io.BufferedIOBase, name: str) -> None:
        super().__init__(fh, encoding="latin1")  # CIFAR's batches were written by Python 2
        self.name = name

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in ALLOWED:
            return super().find_class(module, name)
        raise UnsafePickleError(
            f"{self.name}: refused to load: it asks for {module}.{name}, which a data file "
            "never needs (it may run code); replace it with the publisher's original file"
        )


def load_data_pickle(data: bytes, name: str | Path) -> Any:
    """Unpickle ``data`` (read from ``name``) allowing only plain data and numpy arrays."""
    try:
        return _DataUnpickler(io.BytesIO(data), str(name)).load()
    except UnsafePickleError:
        raise
    except Exception as exc:  # truncated or not a pickle at all
        raise UserError(
            f"{name}: not a readable data pickle ({type(exc).__name__}: {exc}); "
            "replace it with the publisher's original file"
        ) from None
