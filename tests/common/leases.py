"""One lease race for every store's lock test: four drivers on four hosts take it at once."""

from __future__ import annotations

import threading

from ltsweep.errors import UserError


def race(leases: list) -> tuple[list, list]:
    """Every lease ``acquire``s at one barrier; returns (the winners, the losers)."""
    for i, lease in enumerate(leases):
        lease.me["host"], lease.me["pid"] = f"host-{i}", 1  # four drivers on four hosts
    start, won, lost = threading.Barrier(len(leases)), [], []

    def take(lease) -> None:
        start.wait()
        try:
            lease.acquire()
            won.append(lease)
        except UserError:
            lost.append(lease)

    threads = [threading.Thread(target=take, args=(lease,)) for lease in leases]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return won, lost
