"""Layout of a sweep's output: where trials, Tune state, the lock and stores live.

Both layers use it: the planner to resolve ``--out``, the runtime to find a trial's files. ``out``
is always a local directory: the sweep's own directory for a local ``--out``, else this machine's
working copy of an object-store sweep (``uri``), whose records live in ``store``."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from ltsweep.storage.store import Store, cache_dir, open_store


@dataclass(frozen=True)
class SweepPaths:
    """Layout of a sweep's output (``--out``, default ``runs/<sweep>``)."""

    out: Path
    uri: str = ""  # an object-store URI; empty when ``out`` itself is the store

    @classmethod
    def for_uri(cls, uri: str) -> SweepPaths:
        return cls(cache_dir(uri), uri)

    @cached_property
    def store(self) -> Store:
        return open_store(self.uri) if self.uri else open_store(self.out)

    @property
    def remote(self) -> bool:
        return bool(self.uri)

    @property
    def where(self) -> str:
        return self.uri.split("?", 1)[0] if self.uri else str(self.out)

    @property
    def trials(self) -> Path:
        return self.out / "trials"

    def trial_dir(self, key: str) -> Path:
        """The trial's local work directory (on the store itself for a local sweep)."""
        return self.trials / key

    def rank_dir(self, key: str, rank: int) -> Path:
        """A Ray Train worker's own mirror of a trial on an object-store sweep: ranks never share
        a local directory, even when several run on one node."""
        return self.out / "ranks" / key / f"rank_{rank:03d}"

    @staticmethod
    def trial_rel(key: str) -> str:
        """The trial's directory relative to the store's root."""
        return f"trials/{key}"

    @property
    def tune(self) -> Path:
        return self.out / "tune"

    @property
    def lock(self) -> Path:
        return self.out / ".lock"

    @property
    def mlflow_db(self) -> Path:
        return self.out / "mlflow.db"

    @property
    def artifacts(self) -> Path:
        return self.out / "mlartifacts"

    @property
    def report(self) -> Path:
        return self.out / "report"

    def cached_trial(self, key: str) -> Path:
        """Where this machine keeps a trial's tickets fetched (and verified) from an object store,
        laid out as the trial's own directory (``tickets/level_LL/``)."""
        return self.out / "cache" / key
