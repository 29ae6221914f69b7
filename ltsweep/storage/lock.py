"""One live ``ltsweep run`` per output directory: a lock file naming its holder (on an object
store, a lease: ``leases/``).

Two drivers on one directory would start two Ray instances running the same trials into the same
files (docs/design.md#ray-facts). A lock whose holder is dead (same host, pid gone) is taken over.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from ltsweep.errors import UserError
from ltsweep.storage.leases.gcs import GcsLease
from ltsweep.storage.leases.s3 import RENEW_S, S3Lease, holder_live
from ltsweep.storage.leases.s3 import pid_alive as _alive
from ltsweep.storage.paths import SweepPaths
from ltsweep.storage.store import Store


def _holder(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


@contextlib.contextmanager
def output_lock(path: Path) -> Iterator[None]:
    """Hold ``path`` for the duration; refuse at once if a live process holds it."""
    me = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "since": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = _holder(path)
            if holder and (holder.get("host") != me["host"] or _alive(int(holder["pid"]))):
                raise UserError(
                    f"{path.parent} is in use by ltsweep pid {holder['pid']} on {holder['host']} "
                    f"since {holder['since']}; wait for it, or stop it and run again"
                ) from None
            path.unlink(missing_ok=True)  # a dead holder's lock: take it over
            continue
        with os.fdopen(fd, "w") as fh:
            json.dump(me, fh)
        break
    else:
        raise UserError(f"could not take the lock {path}; remove it if no ltsweep run is live")
    try:
        yield
    finally:
        holder = _holder(path)
        if holder and holder.get("pid") == me["pid"] and holder.get("host") == me["host"]:
            path.unlink(missing_ok=True)


def sweep_lock(paths: SweepPaths) -> contextlib.AbstractContextManager[None]:
    """The sweep's one-writer lock: a lock file on disk, a conditional-write lease on S3/GCS."""
    if not paths.remote:
        return output_lock(paths.lock)
    return lease_lock(paths.store)


def live_holder(paths: SweepPaths) -> dict | None:
    """Who holds the sweep now (None: nobody live), for ``ltsweep status``."""
    if not paths.remote:
        holder = _holder(paths.lock)
        return holder if holder and _alive(int(holder["pid"])) else None
    holder = paths.store.read_json(".lock")
    return holder if holder and holder_live(holder) else None


def lease_for(store: Store) -> S3Lease:
    """The lease of the store's kind (S3 conditional writes, GCS generation preconditions)."""
    if store.scheme == "s3":
        return S3Lease(store)
    return GcsLease(store)


@contextlib.contextmanager
def lease_lock(store: Store) -> Iterator[None]:
    """Hold the sweep's lease for the duration, renewing it in a daemon thread."""
    lease = lease_for(store)
    lease.acquire()
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(RENEW_S):
            try:
                ok = lease.renew()
            except Exception:  # a network blip: try again at the next tick, inside the lease
                continue
            if not ok:
                print(f"ltsweep: lost the lock {lease.where}; stopping", file=sys.stderr)
                os.kill(os.getpid(), signal.SIGINT)
                return

    thread = threading.Thread(target=renew, name="ltsweep-lease", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)
        with contextlib.suppress(Exception):
            lease.release()
