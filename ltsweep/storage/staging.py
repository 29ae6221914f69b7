"""Moving a trial's files between this machine's disk and an object store.

The core engine reads and writes plain local files. For an object-store sweep a trial works in a
local directory that mirrors its directory on the store: ``pull`` makes the local copy equal to
the store's (the store is the truth: another node may have gone further), ``push`` uploads what
changed since, marker files last, so that a reader who sees ``ticket.json`` or ``result.json``
finds the files they describe. For a local sweep both are no-ops: the directory is the store.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from ltsweep.errors import CorruptArtifactError, UserError
from ltsweep.storage.paths import SweepPaths
from ltsweep.trial_layout import (
    MARKERS,
    TICKET_INFO_FILE,
    TICKET_TENSORS_FILE,
    ticket_dir,
    verify_ticket_files,
)


def _local_files(root: Path) -> dict[str, tuple[int, int]]:
    """Relative path -> (size, mtime_ns), skipping temporaries (``.name.*.tmp``, dot dirs)."""
    found = {}
    for path in root.rglob("*"):
        rel = path.relative_to(root)
        if path.is_file() and not any(part.startswith(".") for part in rel.parts):
            st = path.stat()
            found[rel.as_posix()] = (st.st_size, st.st_mtime_ns)
    return found


class TrialStage:
    """One trial's local work directory, kept in step with its directory on the store.

    ``local`` overrides the directory: each Ray Train worker of an object-store sweep mirrors
    the trial into its own (``SweepPaths.rank_dir``), never one shared with another rank."""

    def __init__(self, paths: SweepPaths, key: str, local: Path | None = None) -> None:
        self.paths, self.key = paths, key
        self.local = local or paths.trial_dir(key)
        self.rel = paths.trial_rel(key)
        self._synced: dict[str, tuple[int, int]] = {}

    def pull(self) -> Path:
        """Make the local directory a copy of the store's; return it."""
        if self.paths.remote:
            store = self.paths.store
            shutil.rmtree(self.local, ignore_errors=True)
            for rel in store.files(self.rel):
                store.get_file(f"{self.rel}/{rel}", self.local / rel)
            self._synced = _local_files(self.local) if self.local.exists() else {}
        self.local.mkdir(parents=True, exist_ok=True)
        return self.local

    def refresh(self) -> None:
        """Download what the store has and this copy lacks (a reader rank after its writer
        finished a level: levels, tickets and the late-reset weights are written once)."""
        if not self.paths.remote:
            return
        store, have = self.paths.store, _local_files(self.local)
        for rel in store.files(self.rel):
            if rel not in have:
                store.get_file(f"{self.rel}/{rel}", self.local / rel)
        self._synced = _local_files(self.local)

    def push(self) -> None:
        """Upload new and changed files (markers last); delete those removed locally."""
        if not self.paths.remote:
            return
        store = self.paths.store
        now = _local_files(self.local)
        changed = [rel for rel, stat in now.items() if self._synced.get(rel) != stat]
        changed.sort(key=lambda rel: (Path(rel).name in MARKERS, rel))
        for rel in changed:
            store.put_file(self.local / rel, f"{self.rel}/{rel}")
        for rel in set(self._synced) - set(now):
            store.delete(f"{self.rel}/{rel}")
        self._synced = now


def ticket_exists(paths: SweepPaths, source_key: str, level: int) -> bool:
    """Whether a generation trial's ticket at ``level`` is on the sweep's store: the one test
    the gate, the retry pass and a transfer trial all ask (its ``ticket.json`` is written last)."""
    return paths.store.exists(ticket_rel(paths, source_key, level) + f"/{TICKET_INFO_FILE}")


def ticket_rel(paths: SweepPaths, source_key: str, level: int) -> str:
    """A ticket's directory relative to the store's root."""
    return ticket_dir(Path(paths.trial_rel(source_key)), level).as_posix()


def fetch_ticket(paths: SweepPaths, source_key: str, level: int) -> Path:
    """A local, verified copy of a ticket: the generation trial's own directory for a local
    sweep, else this machine's cache, downloaded once and checked against its sha256."""
    if not paths.remote:
        return ticket_dir(paths.trial_dir(source_key), level)
    final = ticket_dir(paths.cached_trial(source_key), level)
    if final.exists():
        try:
            verify_ticket_files(final)
            return final
        except UserError:  # damaged or half deleted (CorruptArtifactError is one): fetch again
            shutil.rmtree(final, ignore_errors=True)
    rel = ticket_rel(paths, source_key, level)
    tmp = final.parent / f".{final.name}.{os.getpid()}.tmp"
    final.parent.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(tmp, ignore_errors=True)
    for name in (TICKET_TENSORS_FILE, TICKET_INFO_FILE):
        if paths.store.exists(f"{rel}/{name}"):
            paths.store.get_file(f"{rel}/{name}", tmp / name)
    try:
        verify_ticket_files(tmp)  # a corrupt download never enters the cache
    except UserError:
        shutil.rmtree(tmp, ignore_errors=True)
        raise CorruptArtifactError(
            f"ticket {paths.store.where(rel)} is incomplete or does not match its sha256 in "
            f"{TICKET_INFO_FILE}: delete {paths.store.where(paths.trial_rel(source_key))} and run "
            "again to regenerate it"
        ) from None
    try:
        os.rename(tmp, final)
    except OSError:  # another trial on this machine cached it first: use theirs
        shutil.rmtree(tmp, ignore_errors=True)
    return final
