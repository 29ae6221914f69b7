"""Name -> factory registries: models, datasets, optimizers, pruning strategies, ticket kinds."""

from __future__ import annotations

import difflib
import fnmatch
import importlib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from ltsweep.errors import UserError

T = TypeVar("T")


class Registry(Generic[T]):
    """A named table of entries; duplicates raise, unknown names list the known ones.

    A name may be *declared* with the module that registers it (``declare``): it is known
    (``in``, ``names``) before that module is imported, and ``get`` imports it on first use. So
    checking a sweep's names costs no import of torch, which the factory modules need.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}
        self._declared: dict[str, str] = {}  # name -> module that registers it when imported

    def declare(self, module: str, *names: str) -> None:
        """``module`` registers ``names`` when imported; know them now, import it when needed."""
        for name in names:
            if name in self._entries or name in self._declared:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._declared[name] = module

    def register(self, name: str, entry: T | None = None) -> Callable[[T], T] | T:
        """Register ``entry`` under ``name``; without ``entry``, act as a decorator."""
        if entry is not None:
            self._add(name, entry)
            return entry

        def decorator(obj: T) -> T:
            self._add(name, obj)
            return obj

        return decorator

    def _add(self, name: str, entry: T) -> None:
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._entries[name] = entry

    def get(self, name: str) -> T:
        if name not in self._entries and name in self._declared:
            importlib.import_module(self._declared[name])
            if name not in self._entries:
                raise ValueError(f"{self._declared[name]} does not register {self.kind} {name!r}")
        try:
            return self._entries[name]
        except KeyError:
            known = self.names()
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise UserError(
                f"unknown {self.kind} {name!r}{hint}; known: {', '.join(known)}"
            ) from None

    def names(self, pattern: str = "*") -> list[str]:
        every = {*self._entries, *self._declared}
        return sorted(n for n in every if fnmatch.fnmatch(n, pattern))

    def __contains__(self, name: object) -> bool:
        return name in self._entries or name in self._declared

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
