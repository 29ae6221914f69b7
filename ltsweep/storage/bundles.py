"""Ticket bundles where they live: a folder, ``s3://`` or ``gs://`` (the sweep's own storage
layer), or a scheme another package registers (``models:/`` from ``ltsweep.tracking``).

Reading a bundle's JSON is all ``plan`` does; a level file is fetched once per machine into its
cache, checked (size, sha256, header: ``ticket_bundle.verify_level_file``) before it enters the
cache, and read by no one before that. Downloads stop at the declared size plus one byte, so a
lying or hostile location cannot fill the disk.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ltsweep import fsio
from ltsweep.errors import CorruptArtifactError, UserError
from ltsweep.storage.store import Store, is_uri, open_store
from ltsweep.ticket_bundle import (
    BUNDLE_FILE,
    MAX_JSON_BYTES,
    Bundle,
    level_file,
    parse_bundle,
    verify_level_file,
)


class Location(Protocol):
    """Somewhere bundles are read from and written to."""

    where: str  # for messages: the URI without its query

    def read(self, rel: str, limit: int) -> bytes | None: ...

    def fetch(self, rel: str, local: Path, limit: int) -> None: ...

    def folders(self) -> list[str]: ...

    def child(self, name: str) -> Location: ...


OPENERS: dict[str, Callable[[str], Location]] = {}  # URI scheme -> opener (``models``: MLflow)


def register_opener(scheme: str, opener: Callable[[str], Location]) -> None:
    OPENERS[scheme] = opener


def split_query(uri: str) -> tuple[str, str]:
    base, _, query = uri.partition("?")
    return base.rstrip("/"), f"?{query}" if query else ""


@dataclass
class StoreLocation:
    """A folder or object-store prefix, through ``storage.store``."""

    uri: str
    store: Store

    @property
    def where(self) -> str:
        return split_query(self.uri)[0]

    def read(self, rel: str, limit: int) -> bytes | None:
        try:
            return self.store.read_bytes(rel, limit)
        except OSError as exc:
            raise UserError(
                f"cannot read {self.where}/{rel} ({_short(exc)}); check the URI, "
                "the endpoint and the credentials"
            ) from None

    def fetch(self, rel: str, local: Path, limit: int) -> None:
        try:
            self.store.get_file(rel, local, limit)
        except FileNotFoundError:
            raise CorruptArtifactError(
                f"ticket file {self.where}/{rel} is missing; republish the bundle"
            ) from None
        except OSError as exc:
            raise UserError(f"cannot fetch {self.where}/{rel} ({_short(exc)})") from None

    def folders(self) -> list[str]:
        """Sub-folders that hold a ``bundle.json`` directly (one bundle per seed of a series)."""
        try:
            files = self.store.files("")
        except OSError as exc:
            raise UserError(f"cannot list {self.where} ({_short(exc)}); check the URI") from None
        return sorted(
            {
                f.rsplit("/", 1)[0]
                for f in files
                if f.count("/") == 1 and f.endswith("/" + BUNDLE_FILE)
            }
        )

    def child(self, name: str) -> StoreLocation:
        base, query = split_query(self.uri)
        uri = f"{base}/{name}{query}"
        return StoreLocation(uri, open_store(uri) if is_uri(uri) else open_store(Path(uri)))


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:160]


def open_location(uri: str, must_exist: bool = True) -> Location:
    """The location ``uri`` names; an unknown scheme or malformed URI is one line."""
    scheme = uri.split(":", 1)[0].lower() if is_uri(uri) else ""
    if scheme in OPENERS:
        return OPENERS[scheme](uri)
    if scheme == "models":
        raise UserError(f"{uri}: MLflow registry names are read through ltsweep.tracking")
    try:
        store = open_store(uri)
    except UserError as exc:
        raise UserError(f"tickets {uri}: {str(exc).replace('--out ', '')}") from None
    if store.local is None:
        return StoreLocation(uri, store)
    if must_exist and not store.local.exists():
        raise UserError(f"tickets {uri}: no such folder; check the path")
    return StoreLocation(str(store.local), store)  # absolute: trials elsewhere reopen it


def read_bundle(location: Location) -> Bundle | None:
    """The bundle whose ``bundle.json`` is at ``location`` itself, or None."""
    raw = location.read(BUNDLE_FILE, MAX_JSON_BYTES)
    if raw is None:
        return None
    return parse_bundle(raw, f"{location.where}/{BUNDLE_FILE}")


@dataclass(frozen=True)
class Found:
    """One bundle and where it was found."""

    location: Any  # a Location
    bundle: Bundle

    @property
    def where(self) -> str:
        return self.location.where


def find_series(uri: str) -> list[Found]:
    """The bundle at ``uri``, or each bundle one folder below it (one per seed), by seed."""
    location = open_location(uri)
    own = read_bundle(location)
    if own is not None:
        return [Found(location, own)]
    found = []
    for name in location.folders():
        child = location.child(name)
        bundle = read_bundle(child)
        if bundle is not None:
            found.append(Found(child, bundle))
    if not found:
        raise UserError(
            f"no ticket bundle at {location.where}: neither {BUNDLE_FILE} there nor in its "
            "sub-folders; publish one with `ltsweep ticket publish`"
        )
    series = {(f.bundle.model, f.bundle.source["dataset"], f.bundle.optimizer) for f in found}
    if len(series) > 1:
        raise UserError(
            f"{location.where} mixes series {sorted(series)}: name one series per source"
        )
    seeds = [f.bundle.seed for f in found]
    if len(set(seeds)) != len(seeds):
        raise UserError(f"{location.where} holds two bundles of one seed; keep one per seed")
    return sorted(found, key=lambda f: f.bundle.seed)


def cache_root() -> Path:
    """This machine's cache of verified level files (``ltsweep.caches``: ``bundles/``)."""
    from ltsweep.caches import cache_folder

    return cache_folder("bundles")


def fetch_level(found: Found, level: int, cache: Path | None = None) -> Path:
    """A verified local copy of one level file, fetched once per machine."""
    bundle = found.bundle
    lv = bundle.level(level)
    final = (cache or cache_root()) / bundle.id / lv.file
    where = f"{found.where}/{lv.file}"
    if final.exists():
        try:
            verify_level_file(bundle, level, final, str(final))
            return final
        except UserError:  # damaged in the cache: fetch again
            final.unlink(missing_ok=True)
    tmp = final.parent / f".{final.name}.{os.getpid()}.part"
    final.parent.mkdir(parents=True, exist_ok=True)
    found.location.fetch(lv.file, tmp, lv.bytes)
    try:
        verify_level_file(bundle, level, tmp, where)  # a bad download never enters the cache
    except UserError:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, final)
    return final


def write_bundle(local: Path, uri: str) -> str:
    """Copy the bundle folder ``local`` to ``uri`` (level files first, ``bundle.json`` last, so a
    reader who sees the JSON finds its files); a bundle already there with the same id is kept.
    Returns "written" or "already there"."""
    raw = (local / BUNDLE_FILE).read_bytes()
    bundle = parse_bundle(raw, str(local / BUNDLE_FILE))
    location = open_location(uri, must_exist=False)
    if not isinstance(location, StoreLocation):
        raise UserError(f"{uri}: publish to a folder, s3:// or gs://; use --register for MLflow")
    try:
        there = read_bundle(location)
    except UserError:
        there = None
    if there is not None and there.id == bundle.id:
        return "already there"
    store = location.store
    try:
        if store.local is not None:
            with fsio.atomic_dir(store.local) as tmp:
                for name in [level_file(lv.level) for lv in bundle.levels] + [BUNDLE_FILE]:
                    shutil.copyfile(local / name, tmp / name)
            return "written"
        for lv in bundle.levels:
            store.put_file(local / lv.file, lv.file)
        store.write_bytes(BUNDLE_FILE, raw)
    except OSError as exc:
        raise UserError(f"cannot write to {location.where} ({_short(exc)})") from None
    return "written"
